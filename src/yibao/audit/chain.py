"""The audit chain's arithmetic: the canonical form of a record and its SHA-256 link (pure).

Every record names the hash of the record before it (``prev_hash``; 64 zeros for the first), and
its own hash covers its content together with that link. Changing, removing, adding or moving any
record therefore breaks the chain at that place, and the head (the last hash) stands for the
whole history: a signed head (a checkpoint) pins everything before it.

The canonical form is compact, sorted-key JSON (``ensure_ascii=False``, UTF-8) of
:data:`FIELDS`; ``at`` is ISO 8601 in UTC with microseconds. It must never change: every stored
hash depends on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

GENESIS = "0" * 64
FIELDS = (
    "agency",
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "role",
    "unit",
    "action",
    "object_type",
    "object_id",
    "result",
    "ip",
    "request_id",
    "detail",
    "prev_hash",
)
RESULTS = ("ok", "denied", "failed")

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_encode = _ENCODER.encode
_str = encode_basestring


def at_text(moment: datetime) -> str:
    """A timestamp as the chain writes it: ISO 8601, UTC, microseconds."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime in the audit chain")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_detail(detail: Any) -> str:
    """The detail object as canonical JSON text (how it is stored, too)."""
    return _encode(detail if detail is not None else {})


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical form of a record given as a mapping of :data:`FIELDS` (``at`` as text)."""
    return _encode({name: fields[name] for name in FIELDS}).encode("utf-8")


def record_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record's canonical form."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def _s(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _i(value: int | None) -> str:
    return "null" if value is None else str(int(value))


# The canonical form spelled out for the verifier's hot loop: keys in sorted order; detail is
# already canonical text. Must give byte-for-byte what ``canonical`` gives (tested); the
# verifier's loops (``audit.walk``) fill it in directly.
TEMPLATE = (
    '{"action":%s,"actor_id":%s,"actor_name":%s,"agency":%s,"at":%s,"detail":%s,"ip":%s,'
    '"object_id":%s,"object_type":%s,"prev_hash":%s,"request_id":%s,"result":%s,"role":%s,'
    '"seq":%s,"unit":%s}'
)


def fast_hash(
    agency: str,
    seq: int,
    at: str,
    actor_id: int | None,
    actor_name: str,
    role: str | None,
    unit: str | None,
    action: str,
    object_type: str,
    object_id: str,
    result: str,
    ip: str | None,
    request_id: str | None,
    detail_text: str,
    prev_hash: str,
) -> str:
    """:func:`record_hash` from stored columns, with the detail as canonical JSON text."""
    text = TEMPLATE % (
        _str(action),
        _i(actor_id),
        _str(actor_name),
        _str(agency),
        _str(at),
        detail_text,
        _s(ip),
        _str(object_id),
        _str(object_type),
        _str(prev_hash),
        _s(request_id),
        _str(result),
        _s(role),
        _i(seq),
        _s(unit),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Link:
    """A record's place in the chain."""

    seq: int
    prev_hash: str
    hash: str


def link(fields: Mapping[str, Any], *, seq: int, prev_hash: str) -> Link:
    """The link of a record appended after ``prev_hash`` as number ``seq``."""
    full = {**fields, "seq": seq, "prev_hash": prev_hash}
    return Link(seq, prev_hash, record_hash(full))


def build(
    records: Iterable[Mapping[str, Any]], *, start_seq: int = 1, prev: str = GENESIS
) -> list[dict[str, Any]]:
    """Chain records (mappings of every field but seq/prev_hash/hash) in the given order."""
    out: list[dict[str, Any]] = []
    seq = start_seq
    for fields in records:
        lk = link(fields, seq=seq, prev_hash=prev)
        out.append({**fields, "seq": lk.seq, "prev_hash": lk.prev_hash, "hash": lk.hash})
        prev, seq = lk.hash, seq + 1
    return out


@dataclass(frozen=True)
class Break:
    """Where and how a chain is broken."""

    seq: int
    problem: str  # edited | deleted | inserted | reordered | truncated


def check(
    rows: Sequence[Mapping[str, Any]],
    *,
    start_seq: int = 1,
    prev: str = GENESIS,
    head_seq: int | None = None,
    head_hash: str | None = None,
) -> Break | None:
    """The first break of a chain held in memory (rows ordered by seq), or None.

    The reference the database verifier follows (``audit.verify``), and what the property
    tests exercise.
    """
    expected, anchor = start_seq, prev
    for i, row in enumerate(rows):
        if row["seq"] != expected or row["prev_hash"] != prev or record_hash(row) != row["hash"]:
            before = rows[i - 2]["hash"] if i >= 2 else anchor if i == 1 else None
            after = rows[i + 1] if i + 1 < len(rows) else None
            return Break(*diagnose(row, expected=expected, prev=prev, before=before, after=after))
        prev, expected = row["hash"], expected + 1
    if head_seq is not None and (expected - 1 != head_seq or (head_hash or prev) != prev):
        return Break(expected if expected - 1 < head_seq else head_seq, "truncated")
    return None


def diagnose(
    row: Mapping[str, Any],
    *,
    expected: int,
    prev: str,
    before: str | None,
    after: Mapping[str, Any] | None,
) -> tuple[int, str]:
    """Name the first bad sequence number and what happened, at the first row that fails.

    ``prev`` is the stored hash of the previous row (or the anchor), ``before`` the one before
    that, ``after`` the next row. Only called on failure, so it may recompute freely.
    """
    seq = int(row["seq"])
    if seq > expected:  # numbers missing: rows were removed (no renumbering)
        return expected, "deleted"
    own = record_hash(row) == row["hash"]

    def hashes_as(other_seq: int) -> bool:
        return bool(record_hash({**row, "seq": other_seq}) == row["hash"])

    if row["prev_hash"] == prev:
        if not own and (hashes_as(seq - 1) or hashes_as(seq + 1)):
            return seq, "reordered"
        return seq, "edited"
    # The link to the previous row is broken.
    if own:
        # This row is intact and names a different predecessor: the one before was changed
        # and re-hashed (or replaced).
        if after is not None and after.get("prev_hash") == prev:
            return seq, "inserted"
        return seq - 1, "edited"
    moved_down = hashes_as(seq + 1)
    if moved_down and after is not None and row["prev_hash"] == after.get("hash"):
        return seq, "reordered"  # swapped with the next row
    if after is not None and after.get("prev_hash") == prev:
        return seq, "inserted"  # the next row links over this one
    if hashes_as(seq - 1) and before is not None and row["prev_hash"] == before:
        return seq - 1, "inserted"  # a row was put in before this one, which moved up
    if moved_down:
        return seq, "deleted"  # renumbered after a removal
    return seq, "edited"
