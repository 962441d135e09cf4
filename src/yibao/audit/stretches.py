"""Walking a long audit chain in stretches side by side, in worker processes.

A chain of ``PARALLEL_MIN`` records or more, on a database another process can open, is cut
into stretches: ``audit.verify`` walks the first itself, ``python -m yibao.audit.stretches``
workers the others (``main`` below: a JSON job on stdin, the answer on stdout) — on
PostgreSQL in the verifier's exported snapshot, on SQLite each in its own read snapshot
(records are append-only; only purged stretches go). Each worker starts from the stored hash
of the record before its stretch, and the stretches are joined only if that hash is the one
the stretch before ended with. If any stretch is broken, a worker fails or a join does not
hold, ``in_stretches`` answers None and the verifier walks the chain in one piece.

A worker imports no more than it needs (no SQLAlchemy, no application): it starts in about a
tenth of a second.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yibao.audit.walk import Progress, Reader, Walked, walk

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

PARALLEL_MIN = 100_000  # records: below this a worker's start (about 0.1 s) does not pay
MAX_WORKERS = 4


def dsn_of(engine: Engine) -> str | None:
    """How a worker process opens this database, or None (an in-memory SQLite database)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    in_memory = url.database in (None, "", ":memory:") or bool(url.query)
    return None if engine.dialect.name != "sqlite" or in_memory else str(url.database)


def worker_count(total: int, workers: int | None, pg: bool) -> int:
    """How many stretches to walk: ``workers``, or by the cores for a long chain."""
    if workers is None:
        # A PostgreSQL stretch keeps two processes busy (the server builds the text).
        cores = (os.cpu_count() or 1) // (2 if pg else 1)
        workers = min(cores, MAX_WORKERS) if total >= PARALLEL_MIN else 1
    return max(1, min(workers, total // 10))  # stretches of ten records at least


@dataclass
class Joined(Walked):
    """Stretches joined into one walk, with the hashes found at checkpoint numbers."""

    wanted: dict[int, str] = field(default_factory=dict)


def in_stretches(
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
) -> Joined | None:
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
                [sys.executable, "-m", "yibao.audit.stretches"],
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
    return Joined(checked, None, last, wanted)


# ---------------------------------------------------------------- worker process


def connect(dialect: str, dsn: str, snapshot: str | None) -> Any:
    """A read-only DBAPI connection in one snapshot (PostgreSQL: the exported ``snapshot``)."""
    if dialect == "postgresql":
        import psycopg
        from psycopg import sql

        pg = psycopg.connect(dsn, autocommit=True)
        pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if snapshot:
            pg.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        return pg
    import sqlite3

    lite = sqlite3.connect(dsn, timeout=30, isolation_level=None)
    lite.execute("BEGIN")  # deferred: one read snapshot from the first read on
    return lite


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Walk the stretch a job describes (``in_stretches`` writes it)."""
    conn = connect(job["dialect"], job["dsn"], job.get("snapshot"))
    try:
        reader = Reader(conn, job["dialect"])
        agency, start = job["agency"], int(job["start"])
        row = reader.one(
            "SELECT hash FROM audit_records WHERE agency = ? AND seq = ?", agency, start
        )
        if row is None:
            return {"start_hash": None, "checked": 0, "broken": True, "prev": "", "wanted": {}}
        wanted: dict[int, str] = {}
        walked = walk(
            reader,
            agency,
            expected=start + 1,
            prev=str(row[0]),
            upto=int(job["upto"]),
            batch=int(job["batch"]),
            cp_seqs=set(job["cp_seqs"]),
            wanted=wanted,
            head_hash=job.get("head_hash"),
        )
    finally:
        conn.close()
    return {
        "start_hash": str(row[0]),
        "checked": walked.checked,
        "broken": walked.broken is not None,
        "prev": walked.prev,
        "wanted": {str(k): v for k, v in wanted.items()},
    }


def main() -> None:
    """``python -m yibao.audit.stretches``: one JSON job on stdin, one JSON answer on stdout."""
    answer = run_job(json.loads(sys.stdin.readline()))
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
