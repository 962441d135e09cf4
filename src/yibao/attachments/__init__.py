"""Files attached to records (evidence, photos): stored in the database, checked on the way in."""
