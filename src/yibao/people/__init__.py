"""People: rules for the identity data of applicants (ID number, name, phone)."""
