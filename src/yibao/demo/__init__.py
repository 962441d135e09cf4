"""Demo data: staff logins and months of synthetic past cases for ``yibao demo``."""
