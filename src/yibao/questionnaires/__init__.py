"""Questionnaires: versioned templates, answers at the window, on visits and by phone, results."""
