"""The service catalogue (data, not code)."""
