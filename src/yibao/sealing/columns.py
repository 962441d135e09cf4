"""Every sealed column of the schema, by table: what rotation re-seals (and docs/sealing.md lists).

The additional data of a sealed value is ``"<table>.<column>"`` (see ``types.Sealed``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SealedTable:
    """A table, its primary-key column, and its sealed columns."""

    name: str
    pk: str
    columns: tuple[str, ...]


SEALED: tuple[SealedTable, ...] = (
    SealedTable("cases", "id", ("applicant_id_number", "applicant_phone")),
    SealedTable("filings", "id", ("person_id_number", "person_phone")),
    SealedTable("transfers", "pk", ("person_id_number", "person_phone")),
    SealedTable("leads", "id", ("patient_id_number",)),
    SealedTable("dispute_representatives", "id", ("phone",)),
    SealedTable("user_totp", "user_id", ("secret",)),
)


# JSON documents whose personal values (``types.PERSONAL_KEYS``, at any depth) are sealed.
SEALED_JSON: tuple[SealedTable, ...] = (
    SealedTable("transfer_messages", "id", ("body",)),
    SealedTable("outbox", "id", ("payload",)),
)
