"""监督线索: confidential supervision leads raised by hospital stations."""
