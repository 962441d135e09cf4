"""Records per second that `yibao audit verify` checks, on SQLite and PostgreSQL.

Run with ``python bench/bench_audit.py [--backend sqlite|postgresql|both] [--records N]
[--runs 3] [--baseline REV]``; writes bench/results/audit.json.

For each backend, on a fresh database (an SQLite file in a temporary directory, or a new
PostgreSQL database ``yibao_bench_<random>`` that is dropped afterwards):

1. migrate; build a chain of N realistic records in memory (``yibao.audit.chain.build``) and
   insert it with executemany in chunks of 10,000 (the same canonical detail text ``record``
   stores), then set the head;
2. time ``verify_chain`` over the whole chain ``--runs`` times and report the median rate; the
   target is at least 200,000 records/s. With ``--baseline REV`` the verifier as it was at git
   revision REV (its ``audit/chain.py`` and ``audit/verify.py``, loaded from git) is timed on
   the same database in the same runs, alternating with today's, so the two figures compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, fresh_database, machine_info, postgres_reachable
from sqlalchemy import insert, text

from yibao.audit import chain
from yibao.audit.models import AuditRecord
from yibao.audit.verify import verify_chain
from yibao.db import Database
from yibao.migrate import upgrade

RESULTS = RESULTS_DIR / "audit.json"
AGENCY = "500118"
TARGET = 200_000
ACTIONS = ("case.intake", "case.view", "case.accept", "case.complete", "auth.login", "case.print")


def records(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` chained records as a busy agency writes them: staff actions on cases."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    plain = []
    for i in range(n):
        unit = rng.choice(("F01", "F02", "T01", "V01", "M01"))
        plain.append(
            {
                "agency": AGENCY,
                "at": chain.at_text(
                    start + timedelta(seconds=i * 7, microseconds=rng.randrange(10**6))
                ),
                "actor_id": rng.randrange(1, 60),
                "actor_name": rng.choice(("王芳", "李强", "clerk_f01", "张敏")),
                "role": "clerk",
                "unit": unit,
                "action": rng.choice(ACTIONS),
                "object_type": "case",
                "object_id": (
                    f"{unit}-2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
                    f"-{i % 9999:04d}"
                ),
                "result": "ok",
                "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "request_id": f"{rng.getrandbits(128):032x}",
                "detail": {"service": "insurance_certificate", "state": "accepted", "n": i},
            }
        )  # fmt: skip
    return chain.build(plain)


def load(db: Database, rows: list[dict[str, Any]]) -> float:
    """Insert the chain; seconds taken."""
    t0 = time.perf_counter()
    table = AuditRecord.__table__
    with db.engine.begin() as conn:
        for lo in range(0, len(rows), 10_000):
            chunk = [{**r, "at": datetime.fromisoformat(r["at"])} for r in rows[lo : lo + 10_000]]
            conn.execute(insert(table), chunk)  # type: ignore[arg-type]
        conn.execute(
            text(
                "INSERT INTO audit_heads (agency, seq, hash, updated_at) "
                "VALUES (:a, :s, :h, CURRENT_TIMESTAMP)"
            ),
            {"a": AGENCY, "s": rows[-1]["seq"], "h": rows[-1]["hash"]},
        )
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_records"))
    return time.perf_counter() - t0


def baseline_verifier(rev: str) -> Callable[..., Any]:
    """``verify_chain`` as it was at git revision ``rev`` (with that revision's chain module)."""
    root = Path(__file__).resolve().parent.parent

    def load(name: str, path: str) -> types.ModuleType:
        source = subprocess.run(
            ["git", "-C", str(root), "show", f"{rev}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        module = types.ModuleType(name)
        module.__file__ = f"{rev}:{path}"
        sys.modules[name] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module

    old_chain = load("baseline_audit_chain", "src/yibao/audit/chain.py")
    old_verify = load("baseline_audit_verify", "src/yibao/audit/verify.py")
    old_verify.chain = old_chain  # type: ignore[attr-defined]
    verify: Callable[..., Any] = old_verify.verify_chain
    return verify


def _cpu() -> float:
    """CPU seconds of this process (every thread) and of its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(verify: Callable[..., Any], db: Database, n: int, **kwargs: Any) -> tuple[float, float]:
    """(records per second, records per CPU second of the verifier's processes) of one run.

    The CPU figure leaves out the PostgreSQL server's share; on a busy machine it moves less
    than the wall-clock one.
    """
    cpu = _cpu()
    report = verify(db, AGENCY, keys={}, **kwargs)
    cpu = _cpu() - cpu
    assert report.ok and report.checked == n, report.message
    return n / report.seconds, n / cpu


def _rates(line: str, rates: list[float], cpu: list[float]) -> str:
    median = statistics.median(rates)
    return (
        f"{line} {median:>9,.0f} records/s  (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
        f"  {'ok' if median >= TARGET else 'BELOW TARGET'}"
        f"  | {statistics.median(cpu):>9,.0f} records per CPU-s"
    )


def run(backend: str, n: int, runs: int, baseline: str | None) -> dict[str, Any]:
    old_verify = baseline_verifier(baseline) if baseline else None
    old_rates: list[float] = []
    with fresh_database(backend) as (url, _data_dir):
        upgrade(url)
        rows = records(n, random.Random(7))
        db = Database(url)
        try:
            load_s = load(db, rows)
            rates: list[float] = []
            cpu: list[float] = []
            old_cpu: list[float] = []
            for _ in range(runs):
                if old_verify is not None:
                    rate, per_cpu = timed(old_verify, db, n)
                    old_rates.append(rate)
                    old_cpu.append(per_cpu)
                rate, per_cpu = timed(verify_chain, db, n, partners={})
                rates.append(rate)
                cpu.append(per_cpu)
        finally:
            db.dispose()
    median = statistics.median(rates)
    print(f"{backend:<10} {n:>9,} records  insert {n / load_s:>9,.0f}/s")
    if old_rates:
        print(_rates(f"{'':<10} verify median at {baseline:<12}", old_rates, old_cpu))
    print(_rates(f"{'':<10} verify median now{'':<13}", rates, cpu))
    result: dict[str, Any] = {
        "records": n,
        "insert_per_s": round(n / load_s),
        "verify_per_s_median": round(median),
        "verify_per_s_runs": [round(r) for r in rates],
        "verify_per_cpu_s_median": round(statistics.median(cpu)),
        "meets_target": median >= TARGET,
    }
    if old_rates:
        result["baseline"] = {
            "revision": baseline,
            "verify_per_s_median": round(statistics.median(old_rates)),
            "verify_per_s_runs": [round(r) for r in old_rates],
            "verify_per_cpu_s_median": round(statistics.median(old_cpu)),
        }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", metavar="REV", help="also time the verifier of git revision REV")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    result: dict[str, Any] = {"machine": machine_info(), "target_per_s": TARGET, "backends": {}}
    result["load_avg_at_end"] = None
    result["command"] = " ".join(["python", "bench/bench_audit.py", *sys.argv[1:]])
    for backend in backends:
        if backend == "postgresql":
            reason = postgres_reachable()
            if reason is not None:
                print(f"postgresql skipped: {reason}", file=sys.stderr)
                continue
        result["backends"][backend] = run(backend, args.records, args.runs, args.baseline)
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
