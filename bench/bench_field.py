"""Field mode: cases taken offline on a laptop, then synced to the central node.

Run with ``python bench/bench_field.py [--cases 10000] [--clients 4] [--fortnights 1]
[--fast-hash] [--keep]``; writes bench/results/field.json (and the server logs).

Every node is a real ``yibao`` process with its own SQLite data directory (a temporary one):

1. central node: ``yibao db upgrade``, ``yibao init``, one clerk per laptop (M01 for the big
   laptop, M02… for the fortnight laptops) made with ``yibao user create … --password-stdin``;
   ``yibao serve``. Each laptop: ``yibao field init --central URL --username … --password-stdin``
   in its own data directory. Then the central node is **stopped**: the laptops are offline.
2. offline intake: the M01 laptop's ``yibao serve``; ``--clients`` threads (own keep-alive
   ``httpx.Client``, signed in on the laptop) post ``--cases`` valid intakes
   (``POST /api/v1/cases``, a mix of the items a mobile station accepts) back to back. The
   laptop's resident memory is sampled every 100 ms; intake rate, latencies and CPU are
   recorded. The laptop server is stopped.
3. a fortnight offline, per fortnight laptop: 10 working days × 40 cases with ``captured_at``
   spread over the last 14 days (09:00-16:30 +08:00); 10 % taken with materials missing get
   ``request_materials``, half of those ``supplement``.
4. the central node starts again (same port, same file). ``yibao field sync --password-stdin``
   runs as a child process per laptop: wall time, records/s, the time of every batch of 50, the
   peak RSS of the sync process and of the central server meanwhile, CPU of both. A sync that
   stops on a case-number clash (the central number of a synced case is the local number of
   another case still pending on the laptop) is run once more as it is, then repaired by
   renumbering that local case, and run again (``--no-unwedge``: stop instead); each clash is
   reported, and makes the exit status 1.
5. verification, in the SQLite files opened read-only: the central node holds exactly the
   synced cases (per station), every record has an ``accepted`` receipt, the laptops have
   nothing pending, their case numbers and due dates are the central ones, and the fortnight
   cases are in the states their actions left them in.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from common import (
    RESULTS_DIR,
    MemorySampler,
    ServerProcess,
    free_port,
    machine_info,
    percentile,
    random_applicant,
    server_problems,
    yibao_command,
)

from yibao.field.laptop import BATCH

RESULTS = RESULTS_DIR / "field.json"
PASSWORD = "bench-field-password-1"
AGENCY = "500118"
TZ = ZoneInfo("Asia/Shanghai")
SHOW_ERRORS = 5
# What a mobile station accepts, roughly as often as a team takes it; every material brought.
MIX: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("outpatient_reimbursement_small", ("id_card", "invoices", "cost_list", "medical_records"), 30),
    ("chronic_disease_recognition", ("id_card", "medical_records"), 15),
    ("resident_enrolment", ("id_card",), 15),
    ("insurance_certificate", ("id_card",), 10),
    ("inpatient_reimbursement", ("id_card", "invoices", "cost_list", "discharge_summary"), 10),
    ("medical_assistance", ("id_card", "settlement_slips"), 10),
    ("policy_consultation", (), 10),
)
# The fortnight's cases that wait for materials: brought only two of the four.
PARTIAL = ("outpatient_reimbursement_small", ("id_card", "invoices"))
MISSING = ["cost_list", "medical_records"]
WORKING_DAYS, PER_DAY = 10, 40
REQUEST_SHARE = 0.10


# ---------------------------------------------------------------- processes


def mib(n: int) -> float:
    return round(n / 2**20, 1)


def child_env(env: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its YIBAO_* variables, plus the node's."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
    out.update(env)
    out["PYTHONUNBUFFERED"] = "1"
    return out


def cli(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    """Run ``yibao ARGS`` to completion; its output, or an error with its stderr."""
    out = subprocess.run(
        [*yibao_command(), *args],
        env=child_env(env),
        input=stdin,
        text=True,
        capture_output=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"yibao {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
    return out.stdout


@dataclass
class Node:
    """A yibao data directory (central node or laptop) and its server, when it runs."""

    name: str
    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    server: ServerProcess | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.home / "yibao.sqlite3"

    def start(self, phase: str) -> ServerProcess:
        """``yibao serve`` on this node's own port (the same each time: laptops know it)."""
        log = RESULTS_DIR / f"field-{self.name}-{phase}.log"
        server = ServerProcess(self.env, log)
        server.port, server.base_url = self.port, self.url
        self.logs.append(log)
        server.start()
        self.server = server
        return server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def db_mib(self) -> float:
        return mib(
            sum(
                p.stat().st_size
                for p in self.home.glob("yibao.sqlite3*")
                if p.is_file() and not p.name.endswith("-shm")
            )
        )


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query on an SQLite file opened read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.execute(sql, params))
    finally:
        con.close()


def login(base_url: str, username: str) -> str:
    r = httpx.post(
        f"{base_url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=60,
    )
    if r.status_code != 200:
        raise RuntimeError(f"login of {username} failed: {r.status_code} {r.text}")
    return str(r.json()["access_token"])


# ---------------------------------------------------------------- taking cases


@dataclass
class Taken:
    """What a round of intakes did."""

    wall_s: float
    latencies: list[float]
    answers: dict[int, dict[str, Any]]  # index → the laptop's answer (case_no, version, …)
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)


def take_cases(
    base_url: str, tokens: list[str], bodies: list[dict[str, Any]], progress: str = ""
) -> Taken:
    """Post every body once (a failed one again, with the next free client), ``len(tokens)``
    clients in parallel; stops after 50 errors."""
    lock = threading.Lock()
    todo = list(range(len(bodies) - 1, -1, -1))
    taken = Taken(0.0, [], {})
    t_start = time.perf_counter()
    every = max(1, len(bodies) // 10)

    def client(i: int) -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {tokens[i]}"}, timeout=120
        ) as http:
            while True:
                with lock:
                    if not todo or taken.errors >= 50:
                        return
                    k = todo.pop()
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/v1/cases", json=bodies[k])
                    status, text = r.status_code, r.text
                except httpx.HTTPError as exc:
                    status, text = 0, f"{type(exc).__name__}: {exc}"
                t1 = time.perf_counter()
                with lock:
                    if status == 201:
                        taken.latencies.append(t1 - t0)
                        taken.answers[k] = r.json()
                        n = len(taken.answers)
                        if progress and n % every == 0:
                            print(
                                f"{progress}: {n:,} cases, {n / (t1 - t_start):,.1f}/s",
                                flush=True,
                            )
                    else:
                        taken.errors += 1
                        kind = f"HTTP {status}" if status else text.split(":")[0]
                        taken.error_kinds[kind] += 1
                        if len(taken.error_samples) < SHOW_ERRORS:
                            taken.error_samples.append(f"{kind}: {text[:800]}")
                        todo.append(k)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken.wall_s = time.perf_counter() - t_start
    return taken


def mixed_bodies(rng: random.Random, n: int, station: str) -> list[dict[str, Any]]:
    """``n`` valid intakes at a mobile station, items drawn from MIX, everything brought."""
    weights = [w for _c, _m, w in MIX]
    out = []
    for _ in range(n):
        code, materials, _w = rng.choices(MIX, weights)[0]
        out.append(
            {
                "service_code": code,
                "station_code": station,
                "channel": "mobile",
                "applicant": random_applicant(rng),
                "materials": list(materials),
            }
        )
    return out


def fortnight_days(today: date) -> list[date]:
    """The working days (Monday-Friday) of the 14 days before ``today``: always 10."""
    days = [today - timedelta(days=d) for d in range(14, 0, -1)]
    return [d for d in days if d.weekday() < 5][:WORKING_DAYS]


def fortnight_bodies(
    rng: random.Random, station: str, today: date
) -> tuple[list[dict[str, Any]], list[int]]:
    """A mobile team's fortnight: 40 cases on each of 10 working days, captured 09:00-16:30;
    returns the bodies and the indices of the 10 % that came with materials missing."""
    bodies = mixed_bodies(rng, WORKING_DAYS * PER_DAY, station)
    k = 0
    for day in fortnight_days(today):
        start = datetime.combine(day, dtime(9, 0), TZ)
        for minute in sorted(rng.sample(range(450), PER_DAY)):
            at = start + timedelta(minutes=minute, seconds=rng.randrange(60))
            bodies[k]["captured_at"] = at.isoformat()
            k += 1
    partial = sorted(rng.sample(range(len(bodies)), round(len(bodies) * REQUEST_SHARE)))
    for k in partial:
        bodies[k]["service_code"], materials = PARTIAL
        bodies[k]["materials"] = list(materials)
    return bodies, partial


def act(base_url: str, token: str, case_no: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{base_url}/api/v1/cases/{case_no}/actions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if r.status_code != 200:
        raise RuntimeError(f"{body['action']} on {case_no}: {r.status_code} {r.text[:500]}")
    return dict(r.json())


# ---------------------------------------------------------------- sync

_SUMMARY = re.compile(
    r"acknowledged (\d+), refused (\d+) .*conflicts (\d+); waiting now: (\d+)", re.S
)


def children_cpu() -> float:
    """User + system CPU of this process's waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Attempt:
    """One ``yibao field sync`` process."""

    rc: int
    wall_s: float
    sending_s: float  # first batch sent → last batch answered
    startup_s: float  # process start → key unlocked, records counted
    batch_s: list[float]
    acked: int  # records in the batches it completed (its "sent" lines)
    rss_peak: int
    cpu_s: float
    summary: tuple[int, int, int, int] | None  # acked, refused, conflicts, waiting
    stderr: str


def sync_attempt(laptop: Node) -> Attempt:
    """Run ``yibao field sync --password-stdin`` once as a child process, timed and sampled."""
    err_path = laptop.home / "sync.stderr"
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [*yibao_command(), "field", "sync", "--password-stdin"],
            env=child_env(laptop.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        sampler = MemorySampler(proc.pid, interval=0.05)
        sampler.start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(PASSWORD + "\n")
        proc.stdin.close()
        batch_ends: list[float] = []
        sent = 0
        ready: float | None = None
        lines: list[str] = []
        for line in proc.stdout:
            now = time.perf_counter()
            lines.append(line.rstrip("\n"))
            if "records to send" in line:
                ready = now
            elif line.strip().startswith("sent "):
                batch_ends.append(now)
                sent += int(line.split()[1])
        rc = proc.wait()
    t1 = time.perf_counter()
    sampler.stop()
    edges = [ready or t0, *batch_ends]
    m = _SUMMARY.search("\n".join(lines))
    return Attempt(
        rc=rc,
        wall_s=t1 - t0,
        sending_s=(batch_ends[-1] - edges[0]) if batch_ends else 0.0,
        startup_s=(ready or t1) - t0,
        batch_s=[b - a for a, b in itertools.pairwise(edges)],
        acked=sent,
        rss_peak=sampler.peak(),
        cpu_s=children_cpu() - cpu0,
        summary=(int(m[1]), int(m[2]), int(m[3]), int(m[4])) if m else None,
        stderr=err_path.read_text("utf-8", errors="replace"),
    )


def is_case_no_wedge(stderr: str) -> bool:
    """The laptop could not take a central case number: another local case has it."""
    return "UNIQUE constraint failed: cases.agency, cases.case_no" in stderr and (
        "UPDATE cases SET case_no" in stderr
    )


def blockers(laptop: Node, central: Node) -> list[dict[str, Any]]:
    """Pending laptop cases whose central number (already given, answer not recorded) is the
    local number of another laptop case that still waits to be synced."""
    pending = dict(
        rows(
            laptop.db_path,
            "SELECT client_id, id FROM field_queue WHERE status = 'pending' AND kind = 'case'",
        )
    )
    local = dict(rows(laptop.db_path, "SELECT case_no, id FROM cases"))
    queue_id = dict(rows(laptop.db_path, "SELECT client_id, id FROM field_queue"))
    out = []
    for client_id, case_no in rows(
        central.db_path,
        "SELECT client_id, case_no FROM field_receipts WHERE kind = 'case' AND case_no IS NOT NULL",
    ):
        other = local.get(case_no)
        if client_id in pending and other is not None and other != client_id:
            out.append(
                {
                    "record": client_id,
                    "record_queue_id": pending[client_id],
                    "central_case_no": case_no,
                    "held_by": other,
                    "held_by_queue_id": queue_id.get(other),
                    "held_by_pending": other in pending,
                }
            )
    return out


def renumber(laptop: Node, central: Node, case_id: str, rng: random.Random) -> str:
    """Give a laptop case a local number used neither on the laptop nor centrally (the repair
    an operator would make by hand; the product does not do it)."""
    taken = {n for (n,) in rows(laptop.db_path, "SELECT case_no FROM cases")}
    taken |= {n for (n,) in rows(central.db_path, "SELECT case_no FROM cases")}
    (old,) = rows(laptop.db_path, "SELECT case_no FROM cases WHERE id = ?", (case_id,))[0]
    while True:
        new = f"{old[:8]}{rng.randrange(10**7):07d}"
        if new not in taken:
            break
    con = sqlite3.connect(laptop.db_path)
    try:
        with con:
            con.execute("UPDATE cases SET case_no = ? WHERE id = ?", (new, case_id))
            con.execute(
                "UPDATE field_queue SET local_case_no = ? WHERE client_id = ?", (new, case_id)
            )
    finally:
        con.close()
    return new


def measured_sync(laptop: Node, central: Node, *, unwedge: bool) -> dict[str, Any]:
    """Sync a laptop to the end: one ``field sync`` process, or more when it gets wedged on a
    case number (see ``blockers``) and ``unwedge`` allows the repair between them."""
    server = central.server
    assert server is not None and server.sampler is not None
    records = rows(laptop.db_path, "SELECT count(*) FROM field_queue WHERE status = 'pending'")[0][
        0
    ]
    central_rss_before = mib(server.sampler.peak(time.perf_counter() - 1.0))
    central_cpu0 = server.cpu_seconds()
    rng = random.Random(records)
    attempts: list[Attempt] = []
    wedges: list[dict[str, Any]] = []
    confirmed: dict[str, Any] | None = None
    t0 = time.perf_counter()
    while True:
        a = sync_attempt(laptop)
        attempts.append(a)
        if a.rc == 0:
            break
        if not is_case_no_wedge(a.stderr) or len(attempts) > 200:
            raise RuntimeError(f"field sync of {laptop.name} exited {a.rc}:\n{a.stderr[-3000:]}")
        found = blockers(laptop, central)
        if not found:
            raise RuntimeError(f"{laptop.name}: case-number clash, blocker not found:\n{a.stderr}")
        if confirmed is None:
            # Once: does simply running it again help (as the CLI's message suggests)?
            again = sync_attempt(laptop)
            attempts.append(again)
            confirmed = {
                "rerun_without_repair_rc": again.rc,
                "same_error": is_case_no_wedge(again.stderr),
                "records_acked_by_rerun": again.acked,
                "blockers_after_rerun": len(blockers(laptop, central)),
            }
            print(
                f"  sync wedged after {sum(x.acked for x in attempts):,} records: central "
                f"number {found[0]['central_case_no']} is the local number of a case still "
                f"pending; run again without repair → exit {again.rc}"
                f"{' (same error)' if confirmed['same_error'] else ''}",
                flush=True,
            )
            if again.rc == 0:
                break
        if not unwedge:
            raise RuntimeError(
                f"{laptop.name}: sync wedged on a case number (--no-unwedge): {found}"
            )
        for b in found:
            b["renumbered_to"] = renumber(laptop, central, b["held_by"], rng)
            wedges.append(b)
    t1 = time.perf_counter()
    time.sleep(0.15)  # one more sample of the central server after the sync
    central_cpu = server.cpu_seconds() - central_cpu0
    wall = t1 - t0
    acked = rows(laptop.db_path, "SELECT count(*) FROM field_queue WHERE status = 'acked'")[0][0]
    waiting = rows(laptop.db_path, "SELECT count(*) FROM field_queue WHERE status = 'pending'")[0][
        0
    ]
    batch_s = sorted(x for a in attempts for x in a.batch_s)
    sending = sum(a.sending_s for a in attempts)
    last = attempts[-1].summary or (0, 0, 0, 0)
    out: dict[str, Any] = {
        "records": records,
        "acked_total_on_laptop": acked,
        "refused": last[1],
        "conflicts": last[2],
        "waiting_after": waiting,
        "wall_s": round(wall, 2),
        "records_per_s": round(records / wall, 1),
        "sync_processes": len(attempts),
        "case_number_wedges": len(wedges),
        "wedges": wedges,
        "wedge_confirmation": confirmed,
        "sending_s": round(sending, 2),
        "records_per_s_sending": round(records / sending, 1) if sending else None,
        "startup_and_unlock_s": round(statistics.median(a.startup_s for a in attempts), 2),
        "batches": len(batch_s),
        "batch_ms_p50": round(percentile(batch_s, 50) * 1e3, 1),
        "batch_ms_p95": round(percentile(batch_s, 95) * 1e3, 1),
        "batch_ms_max": round(batch_s[-1] * 1e3, 1) if batch_s else None,
        "sync_process_rss_peak_mib": mib(max(a.rss_peak for a in attempts)),
        "sync_process_cpu_s": round(sum(a.cpu_s for a in attempts), 2),
        "central_rss_before_mib": central_rss_before,
        "central_rss_peak_mib": mib(server.sampler.peak(t0, t1 + 0.2)),
        "central_cpu_s": round(central_cpu, 2),
        "central_cpu_cores": round(central_cpu / wall, 2),
        "central_cpu_ms_per_record": round(central_cpu / max(1, records) * 1e3, 2),
    }
    big = max(attempts, key=lambda a: len(a.batch_s))
    if len(big.batch_s) >= 20:
        # Does the central node slow down as its file grows? First and last tenth of the
        # longest sync process.
        tenth = len(big.batch_s) // 10
        out["records_per_s_first_tenth"] = round(tenth * BATCH / sum(big.batch_s[:tenth]), 1)
        out["records_per_s_last_tenth"] = round(tenth * BATCH / sum(big.batch_s[-tenth:]), 1)
    return out


# ---------------------------------------------------------------- the run


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra = {"YIBAO_ARGON2_COST": "test"} if args.fast_hash else {}

    def node(name: str, secret: str) -> Node:
        home = root / name
        home.mkdir()
        return Node(
            name,
            home,
            {
                "YIBAO_DATA_DIR": str(home),
                "YIBAO_DATABASE_URL": "",
                "YIBAO_SECRET_KEY": f"bench-{secret}-" + secret[0] * 32,
                "YIBAO_AGENCY": AGENCY,
                **extra,
            },
        )

    stations = ["M01", *(f"M{i + 2:02d}" for i in range(args.fortnights))]
    central = node("central", "central")
    setup: dict[str, float] = {}
    t = time.perf_counter()
    cli(["db", "upgrade"], central.env)
    cli(["init"], central.env)
    for st in stations:
        cli(
            [
                *("user", "create", f"team_{st.lower()}", "--role", "clerk", "--station", st),
                *("--password-stdin", "--display-name", f"{st} team"),
            ],
            central.env,
            PASSWORD + "\n",
        )
    setup["central_db_upgrade_init_users_s"] = time.perf_counter() - t
    laptops: list[Node] = []
    try:
        central.start("setup")
        t = time.perf_counter()
        for st in stations:
            lap = node(f"laptop-{st.lower()}", f"laptop{st.lower()}")
            cli(
                [
                    *("field", "init", "--central", central.url),
                    *("--username", f"team_{st.lower()}", "--password-stdin"),
                    *("--label", f"bench {st}"),
                ],
                lap.env,
                PASSWORD + "\n",
            )
            laptops.append(lap)
        setup["field_init_per_laptop_s"] = (time.perf_counter() - t) / len(stations)
    finally:
        central.stop()  # from here on the laptops are offline
    out["setup"] = {k: round(v, 2) for k, v in setup.items()}
    print(
        f"set up: central node with {len(stations)} clerks, {len(laptops)} laptops "
        f"({', '.join(f'{k} {v:.1f}' for k, v in setup.items())}); central node stopped",
        flush=True,
    )

    # ---- offline intake on the big laptop
    big = laptops[0]
    rng = random.Random(args.seed)
    bodies = mixed_bodies(rng, args.cases, "M01")
    server = big.start("intake")
    intake: dict[str, Any] = {}
    try:
        assert server.sampler is not None
        time.sleep(0.3)
        intake["laptop_rss_started_mib"] = mib(server.sampler.peak())
        tokens = [login(big.url, "team_m01") for _ in range(args.clients)]
        cpu0 = server.cpu_seconds()
        t0 = time.perf_counter()
        taken = take_cases(big.url, tokens, bodies, progress="offline intake (laptop M01)")
        t1 = time.perf_counter()
        cpu = server.cpu_seconds() - cpu0
        time.sleep(0.2)
        lat = sorted(taken.latencies)
        intake.update(
            {
                "cases": len(taken.answers),
                "clients": args.clients,
                "wall_s": round(taken.wall_s, 2),
                "per_s": round(len(taken.answers) / taken.wall_s, 1),
                "p50_ms": round(percentile(lat, 50) * 1e3, 2),
                "p95_ms": round(percentile(lat, 95) * 1e3, 2),
                "p99_ms": round(percentile(lat, 99) * 1e3, 2),
                "max_ms": round(lat[-1] * 1e3, 2) if lat else None,
                "errors": taken.errors,
                "error_kinds": dict(taken.error_kinds),
                "error_samples": taken.error_samples,
                "laptop_rss_peak_intake_mib": mib(server.sampler.peak(t0, t1)),
                "laptop_rss_peak_mib": mib(server.sampler.peak()),
                "laptop_cpu_cores": round(cpu / (t1 - t0), 2),
                "laptop_cpu_ms_per_intake": round(cpu / max(1, len(taken.answers)) * 1e3, 2),
            }
        )
    finally:
        big.stop()
    intake["laptop_db_mib"] = big.db_mib()
    out["offline_intake"] = intake
    print(
        f"offline intake: {intake['cases']:,} cases in {intake['wall_s']:.1f} s "
        f"({intake['per_s']:.1f}/s), laptop RSS peak {intake['laptop_rss_peak_intake_mib']:.0f} "
        f"MiB while taking cases, errors {intake['errors']}",
        flush=True,
    )
    if len(taken.answers) != args.cases:
        raise RuntimeError(f"only {len(taken.answers)} of {args.cases} cases were taken")

    # ---- a fortnight offline on the other laptops
    today = datetime.now(TZ).date()
    fortnights: list[dict[str, Any]] = []
    for lap, st in zip(laptops[1:], stations[1:], strict=True):
        frng = random.Random(args.seed * 100 + len(fortnights) + 1)
        fbodies, partial = fortnight_bodies(frng, st, today)
        lap.start("fortnight")
        try:
            ftokens = [login(lap.url, f"team_{st.lower()}") for _ in range(args.clients)]
            t0 = time.perf_counter()
            ftaken = take_cases(lap.url, ftokens, fbodies)
            if len(ftaken.answers) != len(fbodies):
                raise RuntimeError(
                    f"{st}: only {len(ftaken.answers)} cases taken: {ftaken.error_samples}"
                )
            supplied = partial[: len(partial) // 2]
            for k in partial:
                a = ftaken.answers[k]
                act(
                    lap.url,
                    ftokens[0],
                    a["case_no"],
                    {"action": "request_materials", "version": a["version"]}
                    | {"missing_materials": MISSING},
                )
            for k in supplied:
                a = ftaken.answers[k]
                act(
                    lap.url,
                    ftokens[0],
                    a["case_no"],
                    {"action": "supplement", "version": a["version"] + 1},
                )
            took = time.perf_counter() - t0
        finally:
            lap.stop()
        pending = rows(lap.db_path, "SELECT count(*) FROM field_queue WHERE status = 'pending'")
        fortnights.append(
            {
                "station": st,
                "cases": len(ftaken.answers),
                "request_materials": len(partial),
                "supplement": len(supplied),
                "records_pending": pending[0][0],
                "days": [d.isoformat() for d in fortnight_days(today)],
                "taking_s": round(took, 2),
                "intake_errors": ftaken.errors,
            }
        )
        print(
            f"fortnight offline (laptop {st}): {len(ftaken.answers)} cases over "
            f"{WORKING_DAYS} working days, {len(partial)} request_materials, "
            f"{len(supplied)} supplement → {pending[0][0]} records pending",
            flush=True,
        )

    # ---- back in reach: sync
    central.start("sync")
    try:
        print(f"central node back; syncing {args.cases:,} cases from laptop M01…", flush=True)
        out["sync"] = measured_sync(big, central, unwedge=not args.no_unwedge)
        s = out["sync"]
        print(
            f"sync (laptop M01): {s['records']:,} records in {s['wall_s']:.1f} s "
            f"({s['records_per_s']:.1f}/s), sync process RSS peak "
            f"{s['sync_process_rss_peak_mib']:.0f} MiB, central RSS peak "
            f"{s['central_rss_peak_mib']:.0f} MiB; {s['sync_processes']} sync process(es), "
            f"{s['case_number_wedges']} case-number wedge(s)",
            flush=True,
        )
        for f in fortnights:
            lap = laptops[stations.index(f["station"])]
            f["sync"] = measured_sync(lap, central, unwedge=not args.no_unwedge)
            print(
                f"sync after 14 days offline (laptop {f['station']}): "
                f"{f['sync']['records']} records in {f['sync']['wall_s']:.2f} s, "
                f"{f['sync']['case_number_wedges']} case-number wedge(s)",
                flush=True,
            )
        out["verification"] = verify(central, laptops, stations, args.cases, fortnights)
        out["central_db_mib"] = central.db_mib()
    finally:
        central.stop()
    out["fortnights"] = fortnights
    if fortnights:
        walls = [f["sync"]["wall_s"] for f in fortnights]
        out["fortnight_sync_wall_s_median"] = round(statistics.median(walls), 2)
        out["fortnight_sync_wall_s_range"] = [min(walls), max(walls)]

    problems: dict[str, Any] = {}
    for n in (central, *laptops):
        for log in n.logs:
            count, kinds = server_problems(log.read_text("utf-8", errors="replace"))
            if count:
                problems[str(log)] = {"error_blocks": count, "distinct": kinds}
    out["server_logs"] = [str(p) for n in (central, *laptops) for p in n.logs]
    out["server_log_problems"] = problems
    return out


def verify(
    central: Node, laptops: list[Node], stations: list[str], cases: int, fortnights: list[Any]
) -> dict[str, Any]:
    """Count what arrived, in the files themselves (read-only)."""
    c = central.db_path
    per_station = dict(rows(c, "SELECT intake_station, count(*) FROM cases GROUP BY 1"))
    expected = {stations[0]: cases} | {f["station"]: f["cases"] for f in fortnights}
    receipts = dict(rows(c, "SELECT status, count(*) FROM field_receipts GROUP BY 1"))
    expected_records = cases + sum(
        f["cases"] + f["request_materials"] + f["supplement"] for f in fortnights
    )
    central_due = dict(rows(c, "SELECT case_no, due_date FROM cases"))
    checks: dict[str, Any] = {
        "central_cases": sum(per_station.values()),
        "central_cases_expected": sum(expected.values()),
        "central_cases_per_station": per_station,
        "central_receipts": receipts,
        "central_receipts_expected_accepted": expected_records,
    }
    ok = per_station == expected and receipts == {"accepted": expected_records}
    laptop_checks = []
    for lap, st in zip(laptops, stations, strict=True):
        queue = dict(rows(lap.db_path, "SELECT status, count(*) FROM field_queue GROUP BY 1"))
        mine = rows(lap.db_path, "SELECT case_no, due_date FROM cases")
        unknown = sum(1 for no, _d in mine if no not in central_due)
        other_due = sum(1 for no, d in mine if no in central_due and central_due[no] != d)
        laptop_checks.append(
            {
                "station": st,
                "queue": queue,
                "cases": len(mine),
                "case_numbers_not_central": unknown,
                "due_dates_differing": other_due,
            }
        )
        ok = ok and set(queue) == {"acked"} and unknown == 0 and other_due == 0
    checks["laptops"] = laptop_checks
    states = []
    for f in fortnights:
        got = dict(
            rows(
                c,
                "SELECT state, count(*) FROM cases WHERE intake_station = ? GROUP BY 1",
                (f["station"],),
            )
        )
        days = [
            d
            for (d,) in rows(
                c,
                "SELECT DISTINCT intake_date FROM cases WHERE intake_station = ? ORDER BY 1",
                (f["station"],),
            )
        ]
        want = {
            "received": f["cases"] - f["request_materials"],
            "materials_pending": f["request_materials"] - f["supplement"],
            "in_progress": f["supplement"],
        }
        states.append({"station": f["station"], "states": got, "intake_dates": days})
        ok = ok and got == want and days == f["days"]
    checks["fortnight_states"] = states
    checks["ok"] = ok
    return checks


# ---------------------------------------------------------------- report


def print_table(report: dict[str, Any]) -> None:
    r, cfg, machine = report["results"], report["config"], report["machine"]
    i, s = r["offline_intake"], r["sync"]
    print()
    print(
        f"field benchmark — {cfg['cases']:,} offline cases, {cfg['clients']} clients, "
        f"{len(r['fortnights'])} fortnight laptop(s), argon2 cost {cfg['argon2_cost']}; "
        f"{machine['logical_cores']} cores (shared machine: numbers are noisy)"
    )
    head = f"{'phase':<44} {'records':>8} {'wall s':>8} {'per s':>8}  memory (peak RSS)"
    print(head)
    print("-" * (len(head) + 30))
    label = f"laptop: take cases offline ({cfg['clients']} clients, API)"
    print(
        f"{label:<44} {i['cases']:>8,} {i['wall_s']:>8.1f} {i['per_s']:>8.1f}  "
        f"laptop server {i['laptop_rss_peak_intake_mib']:.0f} MiB "
        f"(started {i['laptop_rss_started_mib']:.0f})"
    )
    print(
        f"{'':<44} {'':>8} {'':>8} {'':>8}  p50 {i['p50_ms']:.0f} ms, p95 {i['p95_ms']:.0f} ms, "
        f"p99 {i['p99_ms']:.0f} ms; {i['laptop_cpu_ms_per_intake']:.1f} ms CPU per intake; "
        f"errors {i['errors']}"
    )
    print(
        f"{'field sync → central':<44} {s['records']:>8,} {s['wall_s']:>8.1f} "
        f"{s['records_per_s']:>8.1f}  sync process {s['sync_process_rss_peak_mib']:.0f} MiB, "
        f"central {s['central_rss_peak_mib']:.0f} MiB (before {s['central_rss_before_mib']:.0f})"
    )
    tenth = ""
    if "records_per_s_first_tenth" in s:
        tenth = (
            f"; first tenth {s['records_per_s_first_tenth']:.0f}/s, "
            f"last tenth {s['records_per_s_last_tenth']:.0f}/s"
        )
    print(
        f"{'':<44} {'':>8} {'':>8} {'':>8}  batch of {BATCH}: p50 {s['batch_ms_p50']:.0f} ms, "
        f"p95 {s['batch_ms_p95']:.0f} ms{tenth}; CPU: central "
        f"{s['central_cpu_ms_per_record']:.1f} ms/record ({s['central_cpu_cores']:.2f} cores), "
        f"sync process {s['sync_process_cpu_s']:.1f} s"
    )
    if s["case_number_wedges"]:
        c = s["wedge_confirmation"] or {}
        print(
            f"{'':<44} {'':>8} {'':>8} {'':>8}  WEDGED {s['case_number_wedges']}× on a case "
            f"number (rerun alone: exit {c.get('rerun_without_repair_rc')}); "
            f"{s['sync_processes']} sync processes; sending only "
            f"{s['records_per_s_sending']:.1f}/s"
        )
    for f in r["fortnights"]:
        fs = f["sync"]
        label = (
            f"14 days offline, {f['station']}: {f['cases']} cases + "
            f"{f['request_materials'] + f['supplement']} actions"
        )
        print(
            f"{label:<44} {fs['records']:>8,} {fs['wall_s']:>8.2f} {fs['records_per_s']:>8.1f}  "
            f"sync process {fs['sync_process_rss_peak_mib']:.0f} MiB, central "
            f"{fs['central_rss_peak_mib']:.0f} MiB"
        )
    if r["fortnights"]:
        lo, hi = r["fortnight_sync_wall_s_range"]
        print(
            f"time to sync after 14 days offline: median {r['fortnight_sync_wall_s_median']:.2f} s "
            f"(range {lo:.2f}-{hi:.2f} s, {len(r['fortnights'])} laptops)"
        )
    v = r["verification"]
    print(
        f"verification: central holds {v['central_cases']:,} cases "
        f"(expected {v['central_cases_expected']:,}), receipts {v['central_receipts']}; laptops "
        f"pending {sum(lap['queue'].get('pending', 0) for lap in v['laptops'])} → "
        f"{'OK' if v['ok'] else 'FAILED'}"
    )
    print(
        f"files: laptop M01 {i['laptop_db_mib']:.1f} MiB, central {r['central_db_mib']:.1f} MiB; "
        f"load average (1 min) at start {machine['load_avg_at_start'][0]}, "
        f"at end {machine['load_avg_at_end'][0]}; total {report['total_s']:.0f} s"
    )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="taken offline on laptop M01")
    parser.add_argument("--clients", type=int, default=4, help="concurrent intake clients")
    parser.add_argument(
        "--fortnights", type=int, default=1, help="laptops (M02…) with a fortnight offline each"
    )
    parser.add_argument(
        "--fast-hash",
        action="store_true",
        help="YIBAO_ARGON2_COST=test (cheap password hashing; only sign-ins get faster)",
    )
    parser.add_argument(
        "--no-unwedge",
        action="store_true",
        help="stop when a sync is wedged on a case number instead of renumbering the local case",
    )
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    if args.cases < 1 or args.clients < 1 or not 0 <= args.fortnights <= 17:
        parser.error("--cases ≥ 1, --clients ≥ 1, 0 ≤ --fortnights ≤ 17")

    machine = machine_info()
    machine["sqlite"] = sqlite3.sqlite_version
    started = datetime.now(UTC)
    t_all = time.perf_counter()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="yibao-bench-field-"))
    try:
        results = run(args, root)
    finally:
        if args.keep:
            print(f"data directories kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    machine["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "benchmark": "field mode: offline intake on a laptop, then yibao field sync",
        "date": started.isoformat(timespec="seconds"),
        "total_s": round(time.perf_counter() - t_all, 1),
        "machine": machine,
        "config": {
            "cases": args.cases,
            "clients": args.clients,
            "fortnights": args.fortnights,
            "fortnight": f"{WORKING_DAYS} working days × {PER_DAY} cases, "
            f"{REQUEST_SHARE:.0%} request_materials, half of those supplement",
            "batch": BATCH,
            "argon2_cost": "test (time 1, 8 KiB)" if args.fast_hash else "default (64 MiB)",
            "mix": {code: w for code, _m, w in MIX},
            "seed": args.seed,
            "nodes": "every node a separate yibao process on SQLite (WAL), 1 uvicorn process",
        },
        "notes": [
            "Measured on a shared machine: figures are noisy; compare runs on one machine only.",
            "Central node, laptops, sync process and the load clients share the same cores.",
            "The central node is stopped while the laptops take cases.",
        ],
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(report)
    failed = not results["verification"]["ok"]
    syncs = [("M01", results["sync"])] + [(f["station"], f["sync"]) for f in results["fortnights"]]
    for station, sync in syncs:
        if sync["case_number_wedges"]:
            failed = True
            print(
                f"laptop {station}: `yibao field sync` crashed {sync['case_number_wedges']}× "
                "with IntegrityError (UNIQUE cases.agency, cases.case_no) on "
                "`UPDATE cases SET case_no=…`: the central number of a synced case was the local "
                "number of another case still pending on the laptop; running it again alone "
                f"did not help ({sync['wedge_confirmation']}). Repaired by renumbering the local "
                "case; details in field.json (results.sync.wedges)."
            )
    if results["offline_intake"]["errors"]:
        failed = True
        print(f"intake errors: {results['offline_intake']['error_kinds']}")
        for sample in results["offline_intake"]["error_samples"]:
            print(f"  {sample}")
    for log, p in results["server_log_problems"].items():
        failed = True
        print(f"{log}: {p['error_blocks']} error block(s):")
        for block in p["distinct"]:
            print("  " + block.replace("\n", "\n  "))
    if not results["verification"]["ok"]:
        print("verification FAILED:")
        print(json.dumps(results["verification"], indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
