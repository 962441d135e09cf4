"""Checking an agency's audit chain in the database: every hash, every link, every checkpoint.

The walk reads the records in sequence order in batches straight from the DBAPI cursor (no ORM
objects) and hashes each with :func:`yibao.audit.chain.fast_hash` — the stored detail text is
already canonical, so nothing is parsed unless a hash does not match. At the first record that
fails it stops and names what happened there (``chain.diagnose``); checkpoints are checked
against the hashes it recomputed and against their signatures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from yibao.audit import chain
from yibao.db import Database

Progress = Callable[[int, int], None]  # (records checked, records to check)

PROBLEMS: dict[str, tuple[str, str]] = {
    # code: (English, Chinese) — {seq} is the first bad sequence number, {head} the head's.
    "edited": (
        "audit chain broken at seq {seq}: record edited (hash mismatch)",
        "审计链在第{seq}条被篡改：记录被修改（哈希不符）",
    ),
    "deleted": (
        "audit chain broken at seq {seq}: record deleted (gap in the sequence)",
        "审计链在第{seq}条被篡改：记录被删除（序号缺失）",
    ),
    "inserted": (
        "audit chain broken at seq {seq}: record inserted",
        "审计链在第{seq}条被篡改：记录被插入",
    ),
    "reordered": (
        "audit chain broken at seq {seq}: records reordered",
        "审计链在第{seq}条被篡改：记录顺序被改动",
    ),
    "truncated": (
        "audit chain broken at seq {seq}: chain truncated (the head says seq {head})",
        "审计链在第{seq}条被截断（链头记录为第{head}条）",
    ),
    "checkpoint_mismatch": (
        "audit chain broken at seq {seq}: the signed checkpoint at seq {seq} does not match "
        "the chain (records up to it were rewritten)",
        "审计链在第{seq}条与已签名的检查点不符（此前的记录被改写）",
    ),
    "checkpoint_signature": (
        "audit checkpoint at seq {seq}: signature does not verify",
        "第{seq}条处的审计检查点签名无效",
    ),
}


@dataclass
class VerifyReport:
    """The outcome of one walk of an agency's chain."""

    ok: bool
    agency: str
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None
    message: str = ""
    message_zh: str = ""
    checkpoints_checked: int = 0
    anchor_seq: int = 0  # records up to here were archived and purged
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


def _fail(report: VerifyReport, seq: int, problem: str) -> None:
    en, zh = PROBLEMS[problem]
    report.ok = False
    report.first_bad_seq, report.problem = seq, problem
    report.message = en.format(seq=seq, head=report.head_seq)
    report.message_zh = zh.format(seq=seq, head=report.head_seq)


class _Reader:
    """Backend-specific SQL over a raw DBAPI cursor."""

    def __init__(self, dbapi_conn: Any, dialect: str) -> None:
        self.cur = dbapi_conn.cursor()
        self.pg = dialect == "postgresql"
        self.mark = "%s" if self.pg else "?"
        at = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')" if self.pg else "at"
        detail = "detail::text" if self.pg else "detail"
        self.columns = (
            f"seq, {at}, actor_id, actor_name, role, unit, action, object_type, object_id, "
            f"result, ip, request_id, {detail}, prev_hash, hash"
        )

    def q(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        self.cur.execute(sql.replace("?", self.mark), params)
        return list(self.cur.fetchall())

    def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        rows = self.q(sql, *params)
        return rows[0] if rows else None

    def batch(self, agency: str, after: int, upto: int, limit: int) -> list[tuple[Any, ...]]:
        return self.q(
            f"SELECT {self.columns} FROM audit_records WHERE agency = ? AND seq > ? AND seq <= ? "
            "ORDER BY seq LIMIT ?",
            agency,
            after,
            upto,
            limit,
        )

    def window(self, agency: str, lo: int, hi: int) -> list[tuple[Any, ...]]:
        return self.q(
            f"SELECT {self.columns} FROM audit_records WHERE agency = ? AND seq >= ? AND seq <= ? "
            "ORDER BY seq",
            agency,
            lo,
            hi,
        )

    def at(self, raw: str) -> str:
        """The stored time as the chain writes it."""
        if self.pg:
            return raw + "+00:00"
        if len(raw) == 26 and raw[10] == " ":  # SQLAlchemy's SQLite text, always microseconds
            return raw[:10] + "T" + raw[11:] + "+00:00"
        from datetime import UTC, datetime

        return chain.at_text(datetime.fromisoformat(raw).replace(tzinfo=UTC))


def _as_fields(agency: str, reader: _Reader, r: tuple[Any, ...]) -> dict[str, Any]:
    try:
        detail = json.loads(r[12]) if r[12] is not None else None
    except ValueError:
        detail = r[12]
    return {
        "agency": agency,
        "seq": r[0],
        "at": reader.at(r[1]),
        "actor_id": r[2],
        "actor_name": r[3],
        "role": r[4],
        "unit": r[5],
        "action": r[6],
        "object_type": r[7],
        "object_id": r[8],
        "result": r[9],
        "ip": r[10],
        "request_id": r[11],
        "detail": detail,
        "prev_hash": r[13],
        "hash": r[14],
    }


def _verify_signature(
    keys: Mapping[str, ed25519.Ed25519PublicKey], cp: tuple[Any, ...], agency: str
) -> bool:
    from yibao.audit.checkpoints import signature_valid

    _id, seq, head_hash, at_raw, key_id, signature = cp
    return signature_valid(keys, key_id, signature, agency, seq, head_hash, at_raw)


def verify_chain(
    db: Database,
    agency: str,
    *,
    batch: int = 5000,
    progress: Progress | None = None,
    keys: Mapping[str, ed25519.Ed25519PublicKey] | None = None,
) -> VerifyReport:
    """Walk ``agency``'s chain and its checkpoints; the report names the first bad record.

    ``keys`` are the public keys checkpoints may be signed with (by key id); by default this
    node's own (``audit.checkpoints.verification_keys``).
    """
    if keys is None:
        from yibao.audit.checkpoints import verification_keys
        from yibao.config import get_settings

        keys = verification_keys(get_settings())
    started = time.perf_counter()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn, conn.begin():
        reader = _Reader(conn.connection.dbapi_connection, engine.dialect.name)
        report = _walk(reader, agency, batch=batch, progress=progress, keys=keys)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _walk(
    reader: _Reader,
    agency: str,
    *,
    batch: int,
    progress: Progress | None,
    keys: Mapping[str, ed25519.Ed25519PublicKey],
) -> VerifyReport:
    head = reader.one("SELECT seq, hash FROM audit_heads WHERE agency = ?", agency)
    head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, chain.GENESIS)
    report = VerifyReport(ok=True, agency=agency, checked=0, head_seq=head_seq)
    first_row = reader.one("SELECT min(seq) FROM audit_records WHERE agency = ?", agency)
    first = first_row[0] if first_row and first_row[0] is not None else None
    # The anchor: the archive that ends just before the first record kept (after a purge).
    expected, prev = 1, chain.GENESIS
    archives = reader.q(
        "SELECT to_seq, to_hash FROM audit_archives WHERE agency = ? ORDER BY to_seq", agency
    )
    limit = first if first is not None else head_seq + 1
    for to_seq, to_hash in archives:
        if to_seq < limit:
            expected, prev = int(to_seq) + 1, str(to_hash)
    report.anchor_seq = expected - 1
    checkpoints = reader.q(
        "SELECT id, seq, head_hash, at, key_id, signature FROM audit_checkpoints "
        "WHERE agency = ? ORDER BY seq, id",
        agency,
    )
    wanted: dict[int, str] = {report.anchor_seq: prev}
    cp_seqs = {int(cp[1]) for cp in checkpoints}
    total = max(head_seq - report.anchor_seq, 0)
    broken = _chain(
        reader,
        agency,
        report,
        expected,
        prev,
        head_seq,
        head_hash,
        batch,
        progress,
        total,
        cp_seqs,
        wanted,
    )
    problems: list[tuple[int, str]] = [broken] if broken else []
    for cp in checkpoints:
        seq = int(cp[1])
        report.checkpoints_checked += 1
        if not _verify_signature(keys, cp, agency):
            problems.append((seq, "checkpoint_signature"))
        elif seq > head_seq:
            problems.append((head_seq + 1, "truncated"))
        elif seq in wanted and wanted[seq] != cp[2]:
            problems.append((seq, "checkpoint_mismatch"))
    if problems:
        seq, problem = min(problems)
        _fail(report, seq, problem)
    return report


def _chain(
    reader: _Reader,
    agency: str,
    report: VerifyReport,
    expected: int,
    prev: str,
    head_seq: int,
    head_hash: str,
    batch: int,
    progress: Progress | None,
    total: int,
    cp_seqs: set[int],
    wanted: dict[int, str],
) -> tuple[int, str] | None:
    fast_hash = chain.fast_hash
    anchor = (expected - 1, prev)
    at_of = reader.at
    pg = reader.pg
    after = expected - 1
    checked = 0
    while after < head_seq:
        rows = reader.batch(agency, after, head_seq, batch)
        if not rows:
            break
        for r in rows:
            seq = r[0]
            if seq != expected or r[13] != prev:
                return _diagnose(reader, agency, r, expected, prev, anchor)
            at = r[1] + "+00:00" if pg else at_of(r[1])
            digest = fast_hash(
                agency,
                seq,
                at,
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                r[12],
                prev,
            )
            if digest != r[14] and chain.record_hash(_as_fields(agency, reader, r)) != r[14]:
                return _diagnose(reader, agency, r, expected, prev, anchor)
            prev = r[14]
            if seq in cp_seqs:
                wanted[seq] = prev
            expected += 1
        checked += len(rows)
        after = rows[-1][0]
        report.checked = checked
        if progress is not None:
            progress(checked, total)
    report.checked = checked
    if expected - 1 < head_seq:
        return expected, "truncated"
    if prev != head_hash:
        return head_seq, "truncated"
    return None


def _diagnose(
    reader: _Reader,
    agency: str,
    r: tuple[Any, ...],
    expected: int,
    prev: str,
    anchor: tuple[int, str],
) -> tuple[int, str]:
    seq = int(r[0])
    near = [_as_fields(agency, reader, x) for x in reader.window(agency, expected - 2, seq + 1)]
    by_seq = {f["seq"]: f for f in near}
    row = by_seq.get(seq) or _as_fields(agency, reader, r)
    before = by_seq.get(expected - 2)
    nxt = by_seq.get(seq + 1)
    return chain.diagnose(
        row,
        expected=expected,
        prev=prev,
        before=before["hash"] if before else anchor[1] if expected - 2 == anchor[0] else None,
        after=nxt,
    )
