"""Users, roles, sign-in and tokens."""
