"""Walking a stretch of an agency's audit chain over a raw DBAPI connection (no ORM).

``audit.verify`` walks the chain in its own process, and for a long chain worker processes
walk later stretches side by side (``audit.stretches``); so this module imports neither
SQLAlchemy nor the rest of the application.

Each backend reads what is cheapest to hash (profiled with py-spy on bench/bench_audit.py:
without this, half the time went into fetching fifteen columns, half into formatting them):

* PostgreSQL writes each record's canonical text itself (``concat``; a row whose values JSON
  would escape is marked and hashed the slow way) and sends it as UTF-8 bytes in the binary
  protocol, while the next batch is fetched in a thread. The server process does that work on
  another core; Python only hashes.
* SQLite runs inside our process, so building the text in SQL would only move the work (and
  SQLite's string functions are slower than one ``%``): its columns come as undecoded bytes
  and go into a bytes form of ``chain.TEMPLATE`` as they are (decoding and encoding again was
  a third of the time).

A record whose text does not hash to its stored hash is read again the slow way (every field,
the detail parsed, ``chain.record_hash``) before it counts as broken: a text the database
writes differently costs time, never a false alarm. A match is a match of the very text the
record was hashed from when it was written, and each value in it is a JSON value of its own
(escaped), so a match also means every field is as written.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yibao.audit import chain

Progress = Callable[[int, int], None]  # (records checked, records to check)

_PG_AT = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
_NAMES = (
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
)
_SQLITE_COLUMNS = (
    "seq, at, actor_id, actor_name, role, unit, action, object_type, object_id, result, ip, "
    "request_id, detail, prev_hash, hash"
)


def _pg_canonical() -> str:
    """SQL for a record's canonical text as UTF-8 bytes, and whether it is that text.

    The values go in as they are; that is the canonical form unless a value holds a quote or
    a backslash (which JSON escapes), so those rows, and rows with a NULL where the schema says
    NOT NULL, are marked not plain and hashed the slow way. A control character needs no mark:
    the canonical text never holds one raw, so such a text cannot match.
    """

    def quoted(column: str) -> str:
        return f"""coalesce('"' || {column} || '"', 'null')"""

    text = (
        f"""'{{"action":"', action, '","actor_id":', coalesce(actor_id::text, 'null'), """
        f"""',"actor_name":"', actor_name, '","agency":"', agency, '","at":"', {_PG_AT}, """
        f"""'+00:00","detail":', detail::text, ',"ip":', {quoted("ip")}, """
        f"""',"object_id":"', object_id, '","object_type":"', object_type, """
        f"""'","prev_hash":"', prev_hash, '","request_id":', {quoted("request_id")}, """
        f"""',"result":"', result, '","role":', {quoted("role")}, ',"seq":', seq::text, """
        f"""',"unit":', {quoted("unit")}, '}}'"""
    )
    values = (
        "concat(action, actor_name, agency, ip, object_id, object_type, prev_hash, request_id, "
        "result, role, unit)"
    )
    plain = (
        f"""strpos({values}, '"') = 0 AND strpos({values}, '\\') = 0 AND num_nulls(action, """
        "actor_name, agency, object_id, object_type, prev_hash, result, at, seq, detail) = 0"
    )
    return f"convert_to(concat({text}), 'UTF8'), {plain}"


class Reader:
    """Backend-specific SQL over a raw DBAPI connection."""

    def __init__(self, dbapi_conn: Any, dialect: str) -> None:
        self.pg = dialect == "postgresql"
        self.conn = dbapi_conn
        self.cur = dbapi_conn.cursor()
        self.mark = "%s" if self.pg else "?"
        at = _PG_AT if self.pg else "at"
        detail = "detail::text" if self.pg else "detail"
        self.columns = (
            f"seq, {at}, actor_id, actor_name, role, unit, action, object_type, object_id, "
            f"result, ip, request_id, {detail}, prev_hash, hash"
        )
        self.fast_columns = (
            f"seq, {_pg_canonical()}, prev_hash, hash" if self.pg else _SQLITE_COLUMNS
        )

    def q(self, sql: str, *params: Any, binary: bool = False) -> list[tuple[Any, ...]]:
        """Rows of one query (``?`` marks parameters on both backends)."""
        sql = sql.replace("?", self.mark)
        if binary:
            self.cur.execute(sql, params, binary=True)
        else:
            self.cur.execute(sql, params)
        return list(self.cur.fetchall())

    def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        rows = self.q(sql, *params)
        return rows[0] if rows else None

    def batch(self, agency: str, after: int, upto: int, limit: int) -> list[tuple[Any, ...]]:
        """The next records as the fast loop reads them (see the module docstring)."""
        sql = (
            f"SELECT {self.fast_columns} FROM audit_records WHERE agency = ? AND seq > ? "
            "AND seq <= ? ORDER BY seq LIMIT ?"
        )
        if self.pg:
            return self.q(sql, agency, after, upto, limit, binary=True)
        factory = self.conn.text_factory
        self.conn.text_factory = bytes  # SQLite: text as the bytes it stores, undecoded
        try:
            return self.q(sql, agency, after, upto, limit)
        finally:
            self.conn.text_factory = factory

    def window(self, agency: str, lo: int, hi: int) -> list[dict[str, Any]]:
        """Records lo..hi with every field, the slow way (``chain`` mappings)."""
        rows = self.q(
            f"SELECT {self.columns} FROM audit_records WHERE agency = ? AND seq >= ? AND seq <= ? "
            "ORDER BY seq",
            agency,
            lo,
            hi,
        )
        return [self.fields(agency, r) for r in rows]

    def at(self, raw: Any) -> Any:
        """The stored time as the chain writes it (a value that is no time is left as it is)."""
        if self.pg:
            return raw + "+00:00"
        if isinstance(raw, str) and len(raw) == 26 and raw[10] == " ":
            return raw[:10] + "T" + raw[11:] + "+00:00"  # SQLAlchemy's SQLite text
        try:
            return chain.at_text(datetime.fromisoformat(raw).replace(tzinfo=UTC))
        except (TypeError, ValueError):
            return raw

    def fields(self, agency: str, r: tuple[Any, ...]) -> dict[str, Any]:
        """A row of ``self.columns`` as a mapping of ``chain.FIELDS`` and ``hash``."""
        try:
            detail = json.loads(r[12]) if r[12] is not None else None
        except ValueError:
            detail = r[12]
        out = dict(zip(_NAMES, r, strict=False))
        out.update(agency=agency, at=self.at(r[1]), detail=detail, prev_hash=r[13], hash=r[14])
        return out

    def intact(self, agency: str, seq: int, stored: str) -> bool:
        """Whether record ``seq`` hashes to ``stored`` the slow way."""
        rows = self.window(agency, seq, seq)
        try:
            return bool(rows) and chain.record_hash(rows[0]) == stored
        except (TypeError, ValueError):  # a value no record can hold (e.g. NaN)
            return False


@dataclass
class Walked:
    """What a walk of a stretch found: records checked, the first break, the last hash."""

    checked: int
    broken: tuple[int, str] | None
    prev: str


def walk(
    reader: Reader,
    agency: str,
    *,
    expected: int,
    prev: str,
    upto: int,
    batch: int,
    cp_seqs: set[int],
    wanted: dict[int, str],
    head_hash: str | None,
    progress: Progress | None = None,
    total: int = 0,
) -> Walked:
    """Check records ``expected``..``upto`` in order, starting from the hash ``prev``.

    Hashes at checkpoint numbers go into ``wanted``. With ``head_hash`` the stretch ends the
    chain: a missing end or another last hash is a truncation. Without it (a stretch that
    others continue) a short stretch is simply broken; the caller walks again in one piece.
    """
    anchor = (expected - 1, prev)
    checked = 0
    bad: int | None = None
    loop = _pg_rows if reader.pg else _sqlite_rows
    with closing(_batches(reader, agency, expected - 1, upto, batch)) as batches:
        for rows in batches:
            bad, expected, prev = loop(reader, agency, rows, expected, prev, cp_seqs, wanted)
            if bad is not None:
                break
            checked += len(rows)
            if progress is not None:
                progress(checked, total)
    if bad is not None:
        return Walked(checked, _diagnose(reader, agency, bad, expected, prev, anchor), prev)
    if expected - 1 < upto:
        return Walked(checked, (expected, "truncated"), prev)
    if head_hash is not None and prev != head_hash:
        return Walked(checked, (upto, "truncated"), prev)
    return Walked(checked, None, prev)


def _batches(
    reader: Reader, agency: str, after: int, upto: int, batch: int
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The records after ``after`` up to ``upto``, in batches.

    On PostgreSQL the next batch is asked for (and built by the server) in a thread while this
    one is hashed; its own cursor, the same connection and snapshot.
    """
    if not reader.pg:
        while after < upto and (rows := reader.batch(agency, after, upto, batch)):
            after = rows[-1][0]
            yield rows
        return
    ahead = Reader(reader.conn, "postgresql")
    with ThreadPoolExecutor(1, thread_name_prefix="audit-verify") as pool:
        pending = pool.submit(ahead.batch, agency, after, upto, batch) if after < upto else None
        while pending is not None and (rows := pending.result()):
            after = rows[-1][0]
            pending = pool.submit(ahead.batch, agency, after, upto, batch) if after < upto else None
            yield rows


_Loop = tuple[int | None, int, str]  # (seq of the first bad row or None, expected, prev)


def _pg_rows(
    reader: Reader,
    agency: str,
    rows: list[tuple[Any, ...]],
    expected: int,
    prev: str,
    cp_seqs: set[int],
    wanted: dict[int, str],
) -> _Loop:
    sha256 = hashlib.sha256
    for seq, text, plain, prev_hash, stored in rows:
        if seq != expected or prev_hash != prev:
            return seq, expected, prev
        if not (plain and sha256(text).hexdigest() == stored) and not reader.intact(
            agency, seq, stored
        ):
            return seq, expected, prev
        prev = stored
        if seq in cp_seqs:
            wanted[seq] = prev
        expected += 1
    return None, expected, prev


def _sqlite_template() -> bytes:
    """``chain.TEMPLATE`` for raw column bytes: quotes around the values that are never NULL."""
    slot = {name: '"%b"' for name in chain.FIELDS}
    slot.update(actor_id="%b", at='"%bT%b+00:00"', detail="%b", seq="%d")
    slot.update(ip="%b", request_id="%b", role="%b", unit="%b")  # "…" or null
    parts = [f'"{name}":{slot[name]}' for name in sorted(chain.FIELDS)]
    return ("{" + ",".join(parts) + "}").encode()


_SQLITE_TEMPLATE = _sqlite_template()
_QUOTES = _SQLITE_TEMPLATE.count(b'"')


def _sqlite_rows(
    reader: Reader,
    agency: str,
    rows: list[tuple[Any, ...]],
    expected: int,
    prev: str,
    cp_seqs: set[int],
    wanted: dict[int, str],
) -> _Loop:
    # The columns come as bytes (no decoding, no encoding) and go into the template as they
    # are. That is the canonical text unless a value holds a quote or a backslash, which JSON
    # escapes: counting both in the text (the detail's own aside) tells, and such a row is
    # hashed the slow way. A control character needs no count: the canonical text never holds
    # one raw, so a text with one cannot match.
    sha256, hexlify, template = hashlib.sha256, binascii.hexlify, _SQLITE_TEMPLATE
    own, last = agency.encode(), prev.encode()
    for r in rows:
        seq, at, actor_id, actor_name, role, unit, action, otype, oid, result, ip, rid, detail = r[
            :13
        ]
        if seq != expected or r[13] != last:
            return seq, expected, last.decode("utf-8", "replace")
        quotes = _QUOTES
        try:
            if ip is None:
                ip = b"null"
            else:
                ip, quotes = b'"' + ip + b'"', quotes + 2
            if rid is None:
                rid = b"null"
            else:
                rid, quotes = b'"' + rid + b'"', quotes + 2
            if role is None:
                role = b"null"
            else:
                role, quotes = b'"' + role + b'"', quotes + 2
            if unit is None:
                unit = b"null"
            else:
                unit, quotes = b'"' + unit + b'"', quotes + 2
            text = template % (
                action,
                b"null"
                if actor_id is None
                else b"%d" % actor_id
                if type(actor_id) is int
                else b"?",
                actor_name,
                own,
                at[:10],
                at[11:],
                detail,
                ip,
                oid,
                otype,
                last,
                rid,
                result,
                role,
                seq,
                unit,
            )
            ok = (
                len(at) == 26
                and at[10] == 32  # SQLAlchemy's SQLite text: "YYYY-MM-DD HH:MM:SS.ffffff"
                and type(seq) is int
                and text.count(b'"') == quotes + detail.count(b'"')
                and text.count(b"\\") == detail.count(b"\\")
                and hexlify(sha256(text).digest()) == r[14]
            )
        except TypeError:  # e.g. NULL where the schema has NOT NULL
            ok = False
        stored = r[14]
        if not ok:
            text_hash = stored.decode("utf-8", "replace") if isinstance(stored, bytes) else stored
            if not reader.intact(agency, seq, text_hash):
                return seq, expected, last.decode("utf-8", "replace")
        last = stored
        if seq in cp_seqs:
            wanted[seq] = last.decode()
        expected += 1
    return None, expected, last.decode()


def _diagnose(
    reader: Reader, agency: str, seq: int, expected: int, prev: str, anchor: tuple[int, str]
) -> tuple[int, str]:
    by_seq = {f["seq"]: f for f in reader.window(agency, expected - 2, seq + 1)}
    before = by_seq.get(expected - 2)
    return chain.diagnose(
        by_seq[seq],
        expected=expected,
        prev=prev,
        before=before["hash"] if before else anchor[1] if expected - 2 == anchor[0] else None,
        after=by_seq.get(seq + 1),
    )
