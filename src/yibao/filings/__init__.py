"""异地就医备案: the registry of filings for treatment in another region."""
