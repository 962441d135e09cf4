"""Personal data sealed at rest: ID numbers and phone numbers are stored AES-GCM encrypted.

``keys`` holds the node's data keys (and the blind-index key), ``crypto`` seals and opens one
value, ``types`` is the column type that does it on every bind and result, ``blind`` the keyed
digest used for exact look-ups, and ``rotate`` re-seals everything under a new key.
"""
