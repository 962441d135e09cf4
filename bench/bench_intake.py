"""Intakes per second through the real HTTP server, against the database's own insert rate.

Run with ``python bench/bench_intake.py [--backend sqlite|postgresql|both] [--seconds N]
[--clients 8]``; writes bench/results/intake.json (and the server log of each backend).

For each backend, on a fresh database (an SQLite file in a temporary directory, or a new
PostgreSQL database ``yibao_bench_<random>`` that is dropped afterwards):

1. migrate, load the reference data, create one clerk per client at distinct stations;
2. start ``yibao serve`` as a separate process and sample its resident memory every 100 ms;
3. API load: every client (a thread with its own keep-alive ``httpx.Client``, logged in as its
   own clerk) posts valid intakes (``POST /api/v1/cases``) back to back for ``--seconds`` after a
   short warm-up; every latency is recorded and any answer other than 201 is an error;
4. SQL baseline, server stopped: as many threads insert one ``cases`` row and its first
   ``case_events`` row per transaction with SQLAlchemy Core, on an engine made by
   ``yibao.db.make_engine`` (the server's SQLite pragmas, BEGIN IMMEDIATE), for as long.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psutil
from common import (
    RESULTS_DIR,
    ServerProcess,
    fresh_database,
    machine_info,
    percentile,
    postgres_reachable,
    random_applicant,
    server_problems,
)
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from yibao.accounts.models import User
from yibao.accounts.service import create_user
from yibao.bootstrap import init_reference
from yibao.cases import lifecycle
from yibao.cases.models import Case, CaseEvent
from yibao.config import Settings
from yibao.db import Database, make_engine
from yibao.migrate import upgrade

RESULTS = RESULTS_DIR / "intake.json"
SECRET = "bench-secret-" + "k" * 32
PASSWORD = "bench-password-1"
SERVICE = "insurance_certificate"  # accepted at every kind of station, needs only the ID card
# Stations that accept the service: the two fixed ones, the town and village ones, then mobile.
STATIONS = ("F01", "F02", "T01", "V01", *(f"M{i:02d}" for i in range(1, 19)))
TZ = ZoneInfo("Asia/Shanghai")
SHOW_ERRORS = 5


@dataclass
class LoadResult:
    """One measured run of either load."""

    seconds: float  # length of the measured window
    done: int  # successful operations completed inside the window
    latencies: list[float]  # seconds, of those operations
    errors: int = 0  # failed operations anywhere in the run, warm-up included
    error_samples: list[str] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)
    per_second: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        rates = self.per_second
        return {
            "per_s": round(self.rate, 1),
            "done": self.done,
            "seconds": round(self.seconds, 2),
            "p50_ms": round(percentile(lat, 50) * 1e3, 2),
            "p95_ms": round(percentile(lat, 95) * 1e3, 2),
            "p99_ms": round(percentile(lat, 99) * 1e3, 2),
            "max_ms": round(lat[-1] * 1e3, 2) if lat else None,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "error_samples": self.error_samples,
            "per_second_min_median_max": (
                [min(rates), statistics.median(rates), max(rates)] if rates else []
            ),
        }


class Recorder:
    """Collects (start, end, ok) of every operation from many threads."""

    def __init__(self, measure_from: float, measure_to: float) -> None:
        self.measure_from = measure_from
        self.measure_to = measure_to
        self._lock = threading.Lock()
        self.ops: list[tuple[float, float]] = []
        self.total = 0  # successful operations, warm-up included
        self.errors = 0
        self.error_samples: list[str] = []
        self.error_kinds: Counter[str] = Counter()

    def ok(self, t0: float, t1: float) -> None:
        with self._lock:
            self.total += 1
        if t0 >= self.measure_from and t1 <= self.measure_to:
            self.ops.append((t0, t1))  # list.append is atomic under the GIL

    def error(self, kind: str, what: str) -> None:
        with self._lock:
            self.errors += 1
            self.error_kinds[kind] += 1
            if len(self.error_samples) < SHOW_ERRORS:
                self.error_samples.append(what)

    def result(self) -> LoadResult:
        window = self.measure_to - self.measure_from
        buckets = [0] * max(1, int(window))
        for _t0, t1 in self.ops:
            i = int(t1 - self.measure_from)
            if i < len(buckets):
                buckets[i] += 1
        return LoadResult(
            seconds=window,
            done=len(self.ops),
            latencies=[t1 - t0 for t0, t1 in self.ops],
            errors=self.errors,
            error_samples=self.error_samples,
            error_kinds=dict(self.error_kinds),
            per_second=buckets,
        )


def run_threads(n: int, target: Any, warmup: float, seconds: float) -> Recorder:
    """Run ``target(i, recorder, stop_at)`` in ``n`` threads; they all start together."""
    start = time.perf_counter() + 0.3
    rec = Recorder(start + warmup, start + warmup + seconds)
    stop_at = rec.measure_to

    def body(i: int) -> None:
        time.sleep(max(0.0, start - time.perf_counter()))
        try:
            target(i, rec, stop_at)
        except Exception as exc:  # a crashed client is an error, not a silent gap
            rec.error("client crashed", f"client {i} crashed: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(i,), name=f"load-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rec


# ---------------------------------------------------------------- setup


@dataclass
class Clerk:
    username: str
    station: str
    user_id: int


def prepare(url: str, data_dir: Path, clients: int) -> tuple[list[Clerk], dict[str, float]]:
    """Migrate, load reference data, create the clerks; how long each step took."""
    timings: dict[str, float] = {}
    settings = Settings(data_dir=data_dir, database_url=url, secret_key=SECRET)
    t0 = time.perf_counter()
    upgrade(url)
    timings["migrate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    init_reference(settings)
    timings["init_reference_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db = Database(url)
    clerks: list[Clerk] = []
    try:
        with db.uow() as uow:
            for station in STATIONS[:clients]:
                name = f"bench_{station.lower()}"
                create_user(
                    uow.session,
                    agency=settings.agency,
                    username=name,
                    role="clerk",
                    password=PASSWORD,
                    station=station,
                    by="bench",
                )
            uow.commit()
            for station in STATIONS[:clients]:
                name = f"bench_{station.lower()}"
                uid = uow.session.scalar(select(User.id).where(User.username == name))
                assert uid is not None
                clerks.append(Clerk(name, station, uid))
    finally:
        db.dispose()
    timings["create_users_s"] = time.perf_counter() - t0
    return clerks, timings


# ---------------------------------------------------------------- API load


def login(base_url: str, clerk: Clerk) -> str:
    r = httpx.post(
        f"{base_url}/api/v1/auth/token",
        json={"username": clerk.username, "password": PASSWORD},
        timeout=30,
    )
    if r.status_code != 200:
        raise RuntimeError(f"login of {clerk.username} failed: {r.status_code} {r.text}")
    return str(r.json()["access_token"])


def api_load(
    base_url: str, clerks: list[Clerk], tokens: list[str], warmup: float, seconds: float, seed: int
) -> Recorder:
    """Every client posts valid intakes at its own station, back to back."""

    def client(i: int, rec: Recorder, stop_at: float) -> None:
        rng = random.Random(seed * 1000 + i)
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
            while time.perf_counter() < stop_at:
                body = {
                    "service_code": SERVICE,
                    "station_code": clerks[i].station,
                    "channel": "window",
                    "applicant": random_applicant(rng),
                    "materials": ["id_card"],
                }
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/v1/cases", json=body)
                except httpx.HTTPError as exc:
                    rec.error(type(exc).__name__, f"{type(exc).__name__}: {exc}")
                    continue
                t1 = time.perf_counter()
                if r.status_code == 201:
                    rec.ok(t0, t1)
                else:
                    rec.error(f"HTTP {r.status_code}", f"HTTP {r.status_code}: {r.text[:800]}")

    return run_threads(len(clerks), client, warmup, seconds)


# ---------------------------------------------------------------- SQL baseline


def sql_load(
    engine: Engine, clerks: list[Clerk], warmup: float, seconds: float, seed: int
) -> Recorder:
    """One case row and its first event row per transaction, as the intake writes them."""
    cases, events = Case.__table__, CaseEvent.__table__
    numbers = itertools.count(1)
    initial = lifecycle.INITIAL.value
    # A prefix no API case number has (those start with today's date), so none collide.
    prefix = f"{seed % 100:02d}00{uuid.uuid4().int % 10000:04d}"

    def writer(i: int, rec: Recorder, stop_at: float) -> None:
        rng = random.Random(seed * 1000 + 500 + i)
        clerk = clerks[i]
        with engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            while time.perf_counter() < stop_at:
                person = random_applicant(rng)
                now = datetime.now(UTC)
                today = now.astimezone(TZ).date()
                case_id = uuid.uuid4()
                case_row = {
                    "id": case_id,
                    "agency": "500118",
                    "case_no": f"{prefix}{next(numbers):07d}",
                    "service_code": SERVICE,
                    "intake_station": clerk.station,
                    "unit": clerk.station,
                    "channel": "window",
                    "state": initial,
                    "applicant_id_number": person["id_number"],
                    "applicant_id_tail": person["id_number"][-4:],
                    "applicant_name": person["name"],
                    "applicant_initials": "",
                    "applicant_phone": person["phone"],
                    "materials_received": ["id_card"],
                    "materials_missing": [],
                    "note": None,
                    "received_at": now,
                    "intake_date": today,
                    "due_date": today,
                    "due_estimated": False,
                    "remaining_days": None,
                    "closed_date": None,
                    "created_by": clerk.user_id,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                event_row = {
                    "agency": "500118",
                    "case_id": case_id,
                    "seq": 1,
                    "at": now,
                    "actor_id": clerk.user_id,
                    "actor_name": clerk.username,
                    "actor_role": "clerk",
                    "action": "intake",
                    "from_state": None,
                    "to_state": initial,
                    "reason": None,
                    "detail": {
                        "station": clerk.station,
                        "channel": "window",
                        "due_date": today.isoformat(),
                        "captured_at": now.isoformat(),
                    },
                }
                t0 = time.perf_counter()
                try:
                    with conn.begin():
                        conn.execute(insert(cases), case_row)
                        conn.execute(insert(events), event_row)
                except Exception as exc:
                    rec.error(type(exc).__name__, f"{type(exc).__name__}: {str(exc)[:800]}")
                    continue
                rec.ok(t0, time.perf_counter())

    return run_threads(len(clerks), writer, warmup, seconds)


# ---------------------------------------------------------------- one backend


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    with fresh_database(backend) as (url, data_dir):
        clerks, timings = prepare(url, data_dir, args.clients)
        out["setup"] = {k: round(v, 2) for k, v in timings.items()}
        print(
            f"[{backend}] ready in {sum(timings.values()):.1f} s "
            f"({', '.join(f'{k} {v:.1f}' for k, v in timings.items())}); "
            f"{len(clerks)} clerks at {', '.join(c.station for c in clerks)}",
            flush=True,
        )

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log_path = RESULTS_DIR / f"intake-server-{backend}.log"
        server = ServerProcess(
            {
                "YIBAO_DATABASE_URL": url,
                "YIBAO_SECRET_KEY": SECRET,
                "YIBAO_DATA_DIR": str(data_dir),
            },
            log_path,
        )
        api_runs: list[LoadResult] = []
        bench_proc = psutil.Process()
        try:
            t_start = time.perf_counter()
            server.start()
            out["server_start_s"] = round(time.perf_counter() - t_start, 2)
            assert server.sampler is not None
            time.sleep(0.3)
            out["server_rss_started_mib"] = mib(server.sampler.peak())
            logins_from = time.perf_counter()
            tokens = [login(server.base_url, c) for c in clerks]
            time.sleep(0.2)
            # argon2id verifies with 64 MiB of memory each: logins are a peak of their own.
            out["server_rss_peak_logins_mib"] = mib(server.sampler.peak(logins_from))
            load_from = time.perf_counter()
            for r in range(args.repeats):
                cpu_server0, cpu_bench0 = server.cpu_seconds(), sum(bench_proc.cpu_times()[:2])
                rec = api_load(
                    server.base_url, clerks, tokens, args.warmup, args.seconds, seed=r + 1
                )
                wall = rec.measure_to - rec.measure_from + args.warmup
                res = rec.result()
                api_runs.append(res)
                cpu_server = server.cpu_seconds() - cpu_server0
                cpu_bench = sum(bench_proc.cpu_times()[:2]) - cpu_bench0
                print(
                    f"[{backend}] API run {r + 1}: {res.rate:,.1f} cases/s, "
                    f"p50 {percentile(sorted(res.latencies), 50) * 1e3:.1f} ms, "
                    f"errors {res.errors}; CPU cores busy: server {cpu_server / wall:.2f}, "
                    f"load clients {cpu_bench / wall:.2f}",
                    flush=True,
                )
                out.setdefault("server_cpu_cores", []).append(round(cpu_server / wall, 2))
                out.setdefault("server_cpu_ms_per_request", []).append(
                    round(cpu_server / max(1, rec.total + rec.errors) * 1e3, 2)
                )
                out.setdefault("client_cpu_cores", []).append(round(cpu_bench / wall, 2))
            out["server_rss_peak_load_mib"] = mib(server.sampler.peak(load_from))
            out["server_rss_peak_mib"] = mib(server.sampler.peak())
            out["server_rss_samples"] = len(server.sampler.samples)
        finally:
            server.stop()
        log = server.log_text()
        n_problems, problems = server_problems(log)
        out["server_log"] = str(log_path)
        out["server_log_error_blocks"] = n_problems
        out["server_log_errors"] = problems
        out["server_5xx_lines"] = sum(1 for ln in log.splitlines() if '" 5' in ln)

        engine = make_engine(url, pool_size=args.clients, max_overflow=0)
        sql_runs: list[LoadResult] = []
        try:
            for r in range(args.repeats):
                res = sql_load(
                    engine, clerks, min(args.warmup, 1.0), args.seconds, seed=r + 1
                ).result()
                sql_runs.append(res)
                print(
                    f"[{backend}] SQL run {r + 1}: {res.rate:,.1f} cases/s "
                    f"(+1 event row each), p50 "
                    f"{percentile(sorted(res.latencies), 50) * 1e3:.2f} ms, errors {res.errors}",
                    flush=True,
                )
        finally:
            engine.dispose()

    out["api_runs"] = [r.summary() for r in api_runs]
    out["sql_runs"] = [r.summary() for r in sql_runs]
    out["api"] = median_run(api_runs)
    out["sql"] = median_run(sql_runs)
    out["api_over_sql"] = round(out["api"]["per_s"] / out["sql"]["per_s"], 3)
    out["server_cpu_cores"] = statistics.median(out.get("server_cpu_cores", [0]))
    out["client_cpu_cores"] = statistics.median(out.get("client_cpu_cores", [0]))
    out["server_cpu_ms_per_request"] = statistics.median(out.get("server_cpu_ms_per_request", [0]))
    return out


def mib(n: int) -> float:
    return round(n / 2**20, 1)


def median_run(runs: list[LoadResult]) -> dict[str, Any]:
    """The run with the median rate (its own latencies), errors summed over all runs."""
    ordered = sorted(runs, key=lambda r: r.rate)
    mid = ordered[(len(ordered) - 1) // 2]
    summary = mid.summary()
    summary["per_s"] = round(statistics.median(r.rate for r in runs), 1)
    summary["errors"] = sum(r.errors for r in runs)
    kinds: Counter[str] = Counter()
    for r in runs:
        kinds.update(r.error_kinds)
    summary["error_kinds"] = dict(kinds)
    summary["error_samples"] = [s for r in runs for s in r.error_samples][:SHOW_ERRORS]
    return summary


# ---------------------------------------------------------------- report


def print_table(
    results: list[dict[str, Any]], machine: dict[str, Any], args: argparse.Namespace
) -> None:
    print()
    print(
        f"intake benchmark — {args.clients} concurrent clients, {args.seconds:g} s measured "
        f"after {args.warmup:g} s warm-up, median of {args.repeats}; "
        f"{machine['logical_cores']} cores (shared machine: numbers are noisy)"
    )
    head = (
        f"{'backend':<11} {'load':<28} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        for key, label in (
            ("api", "API POST /api/v1/cases"),
            ("sql", "SQL cases+case_events rows"),
        ):
            r = res[key]
            print(
                f"{res['backend']:<11} {label:<28} {r['per_s']:>8,.1f} {r['p50_ms']:>8.2f} "
                f"{r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>6}"
            )
        print(
            f"{'':<11} {'API / SQL':<28} {res['api_over_sql']:>8.3f}   "
            f"server RSS: peak {res['server_rss_peak_mib']:.0f} MiB, under load "
            f"{res['server_rss_peak_load_mib']:.0f}, started {res['server_rss_started_mib']:.0f}; "
            f"CPU cores busy: server {res['server_cpu_cores']:.2f} "
            f"({res['server_cpu_ms_per_request']:.1f} ms per request), "
            f"load clients {res['client_cpu_cores']:.2f}"
        )
    print(
        f"load average (1 min) at start {machine['load_avg_at_start'][0]}, "
        f"at end {machine['load_avg_at_end'][0]}"
    )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured load per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load before")
    parser.add_argument("--clients", type=int, default=8, help=f"1-{len(STATIONS)}")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs of each load per backend; the median is reported",
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= len(STATIONS):
        parser.error(f"--clients must be 1-{len(STATIONS)}")
    if args.repeats < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--repeats ≥ 1, --seconds > 0, --warmup ≥ 0")

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    skipped: dict[str, str] = {}
    if "postgresql" in backends:
        why = postgres_reachable()
        if why is not None:
            if args.backend == "postgresql":
                print(f"PostgreSQL not reachable: {why}", file=sys.stderr)
                return 2
            print(f"skipping PostgreSQL (not reachable: {why})", file=sys.stderr)
            skipped["postgresql"] = why
            backends.remove("postgresql")

    machine = machine_info()
    started = datetime.now(UTC)
    results = [bench_backend(b, args) for b in backends]
    machine["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(results, machine, args)

    failed = False
    for res in results:
        for key in ("api", "sql"):
            if res[key]["errors"]:
                failed = True
                print(
                    f"[{res['backend']}] {key.upper()} errors: {res[key]['errors']} "
                    f"{res[key]['error_kinds']}; first ones:"
                )
                for sample in res[key]["error_samples"]:
                    print(f"  {sample}")
        if res["server_log_error_blocks"]:
            failed = True
            print(
                f"[{res['backend']}] server log has {res['server_log_error_blocks']} error "
                f"block(s), {len(res['server_log_errors'])} distinct "
                f"(full log: {res['server_log']}):"
            )
            for block in res["server_log_errors"]:
                print("  " + block.replace("\n", "\n  "))

    report = {
        "benchmark": "intake: POST /api/v1/cases through `yibao serve` vs direct SQL inserts",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine,
        "config": {
            "clients": args.clients,
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "repeats": args.repeats,
            "service": SERVICE,
            "stations": list(STATIONS[: args.clients]),
            "server": "yibao serve (uvicorn, 1 process, access log on)",
            "sql_baseline": "SQLAlchemy Core insert of 1 cases + 1 case_events row per "
            "transaction, yibao.db.make_engine, one connection per thread",
        },
        "notes": [
            "Measured on a shared machine: figures are noisy; compare runs on one machine only.",
            "The load clients run in the benchmark process on the same cores as the server.",
            "The API intake also writes an audit_records row and reads the user row per "
            "request; the SQL baseline writes only the case and its first event.",
        ],
        "skipped": skipped,
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
