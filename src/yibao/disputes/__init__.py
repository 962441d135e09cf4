"""矛盾化解: three-party disputes between hospital, insurer and patient, and their mediation."""
