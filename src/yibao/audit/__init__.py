"""Audit records of every change and every full read of personal data."""
