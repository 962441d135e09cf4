"""Checking an agency's audit chain in the database: every hash, every link, every checkpoint.

The walk (``audit.walk``) reads the records in sequence order in batches straight from the
DBAPI cursor and hashes each; at the first record that fails it stops and names what happened
there (``chain.diagnose``). Checkpoints are checked against the hashes it recomputed and
against their signatures.

A long chain (``PARALLEL_MIN`` records or more, on a database another process can open) is
walked in stretches side by side: this process walks the first, ``python -m yibao.audit.walk``
workers the others — on PostgreSQL in this transaction's exported snapshot, on SQLite each in
its own read snapshot (records are append-only; only purged stretches go). Each worker starts
from the stored hash of the record before its stretch, and the stretches are joined only if
that hash is the one the stretch before ended with. If any stretch is broken, a worker fails
or a join does not hold, the whole chain is walked again in one piece here, so a report of
tampering is always the one a single walk gives.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.engine import Engine

from yibao.audit import chain
from yibao.audit.walk import Progress, Reader, Walked, walk
from yibao.db import Database

log = logging.getLogger(__name__)

PARALLEL_MIN = 100_000  # records: below this a worker's start (about 0.1 s) does not pay
MAX_WORKERS = 4

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
    workers: int | None = None,
) -> VerifyReport:
    """Walk ``agency``'s chain and its checkpoints; the report names the first bad record.

    ``keys`` are the public keys checkpoints may be signed with (by key id); by default this
    node's own (``audit.checkpoints.verification_keys``). ``workers`` is how many stretches
    are walked side by side (1: in one piece); by default one per core (on PostgreSQL one per
    two cores), at most ``MAX_WORKERS``, for a chain of ``PARALLEL_MIN`` records or more.
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
        reader = Reader(conn.connection.dbapi_connection, engine.dialect.name)
        report = _walk(
            reader,
            agency,
            batch=batch,
            progress=progress,
            keys=keys,
            workers=workers,
            dsn=_dsn(db.engine),
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _walk(
    reader: Reader,
    agency: str,
    *,
    batch: int,
    progress: Progress | None,
    keys: Mapping[str, ed25519.Ed25519PublicKey],
    workers: int | None,
    dsn: str | None,
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
    walked: Walked | None = None
    if dsn is not None and (n := _worker_count(total, workers, reader.pg)) > 1:
        joined = _in_stretches(
            reader,
            agency,
            dsn,
            n,
            batch,
            cp_seqs,
            progress,
            total,
            expected=expected,
            prev=prev,
            head_hash=head_hash,
        )
        if joined is not None:
            wanted.update(joined.wanted)
            walked = joined
    if walked is None:
        walked = walk(
            reader,
            agency,
            expected=expected,
            prev=prev,
            upto=head_seq,
            batch=batch,
            cp_seqs=cp_seqs,
            wanted=wanted,
            head_hash=head_hash,
            progress=progress,
            total=total,
        )
    report.checked = walked.checked
    broken = walked.broken
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


def _dsn(engine: Engine) -> str | None:
    """How a worker process opens this database, or None (an in-memory SQLite database)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    in_memory = url.database in (None, "", ":memory:") or bool(url.query)
    return None if engine.dialect.name != "sqlite" or in_memory else str(url.database)


def _worker_count(total: int, workers: int | None, pg: bool) -> int:
    if workers is None:
        # A PostgreSQL stretch keeps two processes busy (the server builds the text).
        cores = (os.cpu_count() or 1) // (2 if pg else 1)
        workers = min(cores, MAX_WORKERS) if total >= PARALLEL_MIN else 1
    return max(1, min(workers, total // 10))  # stretches of ten records at least


@dataclass
class _Joined(Walked):
    wanted: dict[int, str] = field(default_factory=dict)


def _in_stretches(
    reader: Reader,
    agency: str,
    dsn: str,
    n: int,
    batch: int,
    cp_seqs: set[int],
    progress: Progress | None,
    total: int,
    *,
    expected: int,
    prev: str,
    head_hash: str,
) -> _Joined | None:
    """The chain walked in ``n`` stretches at once; None unless every stretch holds and joins."""
    snapshot = reader.one("SELECT pg_export_snapshot()") if reader.pg else None
    bounds = [expected - 1 + total * i // n for i in range(n + 1)]
    procs: list[subprocess.Popen[str]] = []
    try:
        for i in range(1, n):
            job = {
                "dialect": "postgresql" if reader.pg else "sqlite",
                "dsn": dsn,
                "snapshot": snapshot[0] if snapshot else None,
                "agency": agency,
                "start": bounds[i],
                "upto": bounds[i + 1],
                "batch": batch,
                "cp_seqs": sorted(s for s in cp_seqs if bounds[i] < s <= bounds[i + 1]),
                "head_hash": head_hash if i == n - 1 else None,
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "yibao.audit.walk"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            procs.append(proc)
        wanted: dict[int, str] = {}
        own = walk(
            reader,
            agency,
            expected=expected,
            prev=prev,
            upto=bounds[1],
            batch=batch,
            cp_seqs=cp_seqs,
            wanted=wanted,
            head_hash=None,
            progress=progress,
            total=total,
        )
        answers = []
        for proc in procs:
            out, err = proc.communicate(timeout=3600)
            if proc.returncode != 0:
                log.warning("audit verify worker failed (%s): %s", proc.returncode, err[-2000:])
                return None
            answers.append(json.loads(out))
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        log.warning("audit verify workers not used: %s", exc)
        return None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if own.broken is not None:
        return None
    checked, last = own.checked, own.prev
    for answer in answers:
        if answer["broken"] or answer["start_hash"] != last:
            return None
        checked += int(answer["checked"])
        last = str(answer["prev"])
        wanted.update({int(k): str(v) for k, v in answer["wanted"].items()})
    if progress is not None:
        progress(checked, total)
    return _Joined(checked, None, last, wanted)
