"""Page render times of the workbench under 8 concurrent signed-in users, on the demo data.

Run with ``python bench/bench_pages.py [--seconds 20] [--clients 8] [--cases 4000]``; writes
bench/results/pages.json (and the server log to bench/results/pages-server.log).

1. ``yibao demo --data-dir <tmp> --port <free> --cases N`` starts as a separate process (its
   own fresh SQLite file, demo users, N past cases); the benchmark waits for "Serving" and
   ``/healthz``, then samples the server's resident memory every 100 ms.
   The citizen page is rate-limited per client address (30 a minute); every load client here
   comes from 127.0.0.1, so the demo process gets ``YIBAO_PUBLIC_RATE_PER_MINUTE`` raised.
2. Eight demo users sign in through the form (GET /login for the CSRF token, POST /login):
   five clerks, the F01 station master, the bureau officer and the supervisor.
3. ``--clients`` threads, each with its own keep-alive ``httpx.Client`` per session, fetch the
   pages in turn (each thread starting at a different page) for ``--seconds`` after a
   ``--warmup``: the queue, its rows with a search (``q=z``), intake, a case page and the
   receipt (each as the thread's own user: a clerk, the F01 master or the officer), all cases
   (as the bureau officer), the citizen page (no session, ``Accept: text/html``), the station
   dashboard (master_f01) and the bureau overview with its three tabs (supervisor). A page
   that does not answer 200 before the load starts is left out and reported as such.
   Anything but 200 during the load is an error.
   Before that, a solo pass fetches each page ``--solo`` times one at a time (median: what a
   page costs with nothing else in flight).
4. Report per page: the solo median, then requests and p50/p95/max in ms under load; a p95
   at or over 200 ms is flagged (the issue's quality bar); the server's peak RSS, during the
   load and overall.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import (
    RESULTS_DIR,
    MemorySampler,
    free_port,
    machine_info,
    percentile,
    server_problems,
    yibao_command,
)

RESULTS = RESULTS_DIR / "pages.json"
SERVER_LOG = RESULTS_DIR / "pages-server.log"
BUDGET_MS = 200.0
PASSWORD = "yibao-demo-2026"  # yibao.demo.generate.DEMO_PASSWORD
CLERKS = ("clerk_f01", "clerk_f02", "clerk_t01", "clerk_v01", "clerk_m01")
USERS = (*CLERKS, "master_f01", "officer", "supervisor")
# Whose queue, intake, case pages and receipts each load thread opens (in turn).
HOMES = (*CLERKS, "master_f01", "officer")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# ---------------------------------------------------------------- the demo process


class Demo:
    """``yibao demo`` on a free port in a temporary data directory."""

    def __init__(self, cases: int) -> None:
        self.cases = cases
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="yibao-bench-pages-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.sampler: MemorySampler | None = None
        self._log = None

    def start(self, timeout: float = 300.0) -> float:
        """Start, wait for "Serving" and /healthz; return the seconds it took."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
        # Pages are measured, not sign-in: the officer and supervisor sign in with a password.
        env.update(
            PYTHONUNBUFFERED="1",
            YIBAO_PUBLIC_RATE_PER_MINUTE="1000000000",
            YIBAO_MFA_REQUIRED_ROLES="",
        )
        cmd = [
            *yibao_command(),
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--cases",
            str(self.cases),
        ]
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self._log = SERVER_LOG.open("wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.sampler = MemorySampler(self.proc.pid)
        self.sampler.start()
        deadline = time.monotonic() + timeout
        serving = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"demo exited with {self.proc.returncode}:\n{self.log()}")
            if not serving:
                serving = "Serving" in self.log()
            else:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                        return time.perf_counter() - t0
            time.sleep(0.2)
        raise RuntimeError(f"demo not serving within {timeout:.0f} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        if self._log is not None:
            self._log.flush()
        return SERVER_LOG.read_text("utf-8", errors="replace")

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.data_dir, ignore_errors=True)


# ---------------------------------------------------------------- sessions and targets


def sign_in(base_url: str, username: str) -> dict[str, str]:
    """Sign in through the form; the cookies of the new session."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        form = c.get("/login")
        token = _CSRF.search(form.text)
        if form.status_code != 200 or token is None:
            raise RuntimeError(f"GET /login: {form.status_code}, no CSRF token")
        r = c.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        )
        if r.status_code != 303:
            raise RuntimeError(f"sign-in of {username} failed: {r.status_code} {r.text[:300]}")
        return dict(c.cookies.items())


def api_token(base_url: str, username: str) -> dict[str, str]:
    r = httpx.post(
        f"{base_url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=30,
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def cases_of(base_url: str, username: str, n: int = 10) -> list[tuple[str, str]]:
    """(case number, ID tail) of up to ``n`` cases this user sees, newest first."""
    r = httpx.get(
        f"{base_url}/api/v1/cases",
        params={"limit": n},
        headers=api_token(base_url, username),
        timeout=30,
    )
    r.raise_for_status()
    return [(c["case_no"], c["applicant"]["id_number"][-4:]) for c in r.json()["items"]]


@dataclass(frozen=True)
class Target:
    """One page as one kind of user fetches it."""

    name: str  # the page, as reported
    session: str  # whose cookies: a username, "home" (the thread's clerk) or "" (none)
    url: str  # may hold {case} / {tail}: filled from the thread's cases
    optional: bool = False  # left out when it does not answer 200 before the load


TARGETS = [
    Target("/queue", "home", "/queue"),
    Target("/queue/rows?q=z", "home", "/queue/rows?q=z"),
    Target("/intake", "home", "/intake"),
    Target("/cases/{no}", "home", "/cases/{case}"),
    Target("/cases (officer)", "officer", "/cases"),
    Target("/public/cases/{no}", "", "/public/cases/{case}?id_tail={tail}"),
    Target("/dashboard (master_f01)", "master_f01", "/dashboard", optional=True),
    Target("/overview (supervisor)", "supervisor", "/overview", optional=True),
    # The overview's tabs, each as a whole page (its headline too): what a bookmark or a plain
    # link costs; the HTMX fragment a click fetches is the same minus the headline.
    Target("/overview/stations (supervisor)", "supervisor", "/overview/stations", optional=True),
    Target("/overview/ratings (supervisor)", "supervisor", "/overview/ratings", optional=True),
    Target("/overview/trips (supervisor)", "supervisor", "/overview/trips", optional=True),
    Target("/cases/{no}/receipt", "home", "/cases/{case}/receipt", optional=True),
]


@dataclass
class Sample:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


def run_load(
    base_url: str,
    cookies: dict[str, dict[str, str]],
    cases: dict[str, list[tuple[str, str]]],
    targets: list[Target],
    clients: int,
    warmup: float,
    seconds: float,
    think: float = 0.0,
) -> tuple[Sample, float, float]:
    """Every thread walks the pages in turn, pausing ``think`` s (±50 %) between pages like a
    person reading them (0: back to back, a saturation test); returns samples and window."""
    sample = Sample()
    lock = threading.Lock()
    start = time.perf_counter() + 0.5
    measure_from = start + warmup
    measure_to = measure_from + seconds

    def worker(i: int) -> None:
        home = HOMES[i % len(HOMES)]
        my_cases = cases[home]
        sessions: dict[str, httpx.Client] = {}

        def client(who: str) -> httpx.Client:
            user = home if who == "home" else who
            if user not in sessions:
                sessions[user] = httpx.Client(
                    base_url=base_url,
                    cookies=cookies.get(user, {}),
                    headers={"Accept": "text/html"},
                    timeout=30,
                )
            return sessions[user]

        k = i
        rng = random.Random(i)
        time.sleep(max(0.0, start - time.perf_counter()))
        try:
            while True:
                t = targets[k % len(targets)]
                case_no, tail = my_cases[(k // len(targets)) % len(my_cases)]
                k += 1
                url = t.url.format(case=case_no, tail=tail)
                t0 = time.perf_counter()
                if t0 >= measure_to:
                    return
                try:
                    r = client(t.session).get(url)
                    status = r.status_code
                    body = r.text[:200]
                except httpx.HTTPError as exc:
                    status, body = -1, f"{type(exc).__name__}: {exc}"
                t1 = time.perf_counter()
                with lock:
                    if status != 200:
                        sample.errors[t.name] = sample.errors.get(t.name, 0) + 1
                        if len(sample.error_samples) < 5:
                            sample.error_samples.append(f"{status} {url}: {body}")
                    elif t0 >= measure_from and t1 <= measure_to:
                        sample.latencies.setdefault(t.name, []).append(t1 - t0)
                if think > 0:
                    time.sleep(think * rng.uniform(0.5, 1.5))
        finally:
            for c in sessions.values():
                c.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sample, measure_from, measure_to


def preflight(
    base_url: str,
    cookies: dict[str, dict[str, str]],
    cases: dict[str, list[tuple[str, str]]],
) -> tuple[list[Target], dict[str, str]]:
    """The pages that answer 200 now; why the others are left out."""
    keep: list[Target] = []
    left_out: dict[str, str] = {}
    for t in TARGETS:
        user = "clerk_f01" if t.session == "home" else t.session
        case_no, tail = cases["clerk_f01"][0]
        url = t.url.format(case=case_no, tail=tail)
        r = httpx.get(
            base_url + url,
            cookies=cookies.get(user, {}),
            headers={"Accept": "text/html"},
            timeout=60,
        )
        if r.status_code == 200:
            keep.append(t)
        elif t.optional:
            left_out[t.name] = f"answered {r.status_code}"
        else:
            raise RuntimeError(f"{url} as {user or 'nobody'}: {r.status_code} {r.text[:300]}")
    return keep, left_out


def solo_pass(
    base_url: str,
    cookies: dict[str, dict[str, str]],
    cases: dict[str, list[tuple[str, str]]],
    targets: list[Target],
    repeats: int,
) -> dict[str, float]:
    """Median time of each page with no other request in flight: the render cost alone."""
    out: dict[str, float] = {}
    clients: dict[str, httpx.Client] = {}
    try:
        for t in targets:
            user = "clerk_f01" if t.session == "home" else t.session
            if user not in clients:
                clients[user] = httpx.Client(
                    base_url=base_url,
                    cookies=cookies.get(user, {}),
                    headers={"Accept": "text/html"},
                    timeout=60,
                )
            times = []
            for k in range(repeats):
                case_no, tail = cases["clerk_f01"][k % len(cases["clerk_f01"])]
                t0 = time.perf_counter()
                r = clients[user].get(t.url.format(case=case_no, tail=tail))
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{t.name}: {r.status_code} in the solo pass")
            out[t.name] = round(statistics.median(times), 1)
    finally:
        for c in clients.values():
            c.close()
    return out


def summarise(
    sample: Sample, targets: list[Target], seconds: float, solo: dict[str, float]
) -> list[dict[str, Any]]:
    rows = []
    for t in targets:
        lat = sorted(x * 1000 for x in sample.latencies.get(t.name, []))
        p95 = percentile(lat, 95)
        rows.append(
            {
                "page": t.name,
                "as": t.session.replace("home", "own user") or "citizen (no session)",
                "solo_median_ms": solo.get(t.name),
                "requests": len(lat),
                "per_second": round(len(lat) / seconds, 1),
                "p50_ms": round(percentile(lat, 50), 1),
                "p95_ms": round(p95, 1),
                "max_ms": round(lat[-1], 1) if lat else None,
                "errors": sample.errors.get(t.name, 0),
                "over_budget": bool(lat) and p95 >= BUDGET_MS,
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'page':<26} {'solo ms':>8} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'err':>4}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = f"  ← p95 ≥ {BUDGET_MS:.0f} ms" if r["over_budget"] else ""
        print(
            f"{r['page']:<26} {r['solo_median_ms'] or 0:>8.1f} {r['requests']:>6} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
            f"{(r['max_ms'] or 0):>8.1f} {r['errors']:>4}{flag}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a person pauses between pages (±50 %%); the saturation run uses 0",
    )
    parser.add_argument("--cases", type=int, default=4000, help="demo cases to generate")
    parser.add_argument(
        "--solo", type=int, default=15, help="requests per page, one at a time, before the load"
    )
    args = parser.parse_args()

    info = machine_info()
    demo = Demo(args.cases)
    print(f"starting yibao demo with {args.cases} cases on {demo.base_url} …", flush=True)
    try:
        startup = demo.start()
        print(f"serving after {startup:.1f} s; signing in {len(USERS)} users", flush=True)
        cookies = {u: sign_in(demo.base_url, u) for u in USERS}
        cases = {u: cases_of(demo.base_url, u) for u in HOMES}
        for user, found in cases.items():
            if not found:
                raise RuntimeError(f"{user} sees no case in the demo data")
        targets, left_out = preflight(demo.base_url, cookies, cases)
        for name, why in left_out.items():
            print(f"left out {name}: {why}")
        solo = solo_pass(demo.base_url, cookies, cases, targets, args.solo)
        print(
            f"{args.clients} clients × {len(targets)} pages: "
            f"{args.warmup:.0f} s warm-up, {args.seconds:.0f} s measured",
            flush=True,
        )
        # 8 people at work (each reads a page before the next), then 8 clients back to back.
        people, p_from, p_to = run_load(
            demo.base_url, cookies, cases, targets, args.clients, args.warmup, args.seconds,
            think=args.think,
        )
        print("saturation run (no pause between pages) …", flush=True)
        sample, t_from, t_to = run_load(
            demo.base_url, cookies, cases, targets, args.clients, args.warmup, args.seconds
        )
        assert demo.sampler is not None
        peak_load = max(demo.sampler.peak(t_from, t_to), demo.sampler.peak(p_from, p_to))
        peak_all = demo.sampler.peak()
        log = demo.log()
    finally:
        demo.stop()

    people_rows = summarise(people, targets, args.seconds, solo)
    rows = summarise(sample, targets, args.seconds, solo)
    n_problems, problem_kinds = server_problems(log)
    result = {
        "benchmark": "pages",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "setup": {
            "demo_cases": args.cases,
            "clients": args.clients,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "startup_seconds": round(startup, 1),
            "budget_p95_ms": BUDGET_MS,
            "public_rate_limit": "raised for the benchmark (all clients share 127.0.0.1)",
        },
        "pages_people": people_rows,
        "think_seconds": args.think,
        "pages": rows,
        "left_out": left_out,
        "server_peak_rss_mib": {
            "under_load": round(peak_load / 2**20, 1),
            "overall": round(peak_all / 2**20, 1),
        },
        "errors": sum(sample.errors.values()) + sum(people.errors.values()),
        "error_samples": people.error_samples + sample.error_samples,
        "server_log_problems": n_problems,
    }
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")

    print(f"\n{args.clients} people, {args.think:.1f} s (±50 %) between pages:")
    print_table(people_rows)
    print(f"\nsaturation: {args.clients} clients back to back, no pause:")
    print_table(rows)
    print(
        f"\nserver peak RSS: {result['server_peak_rss_mib']['under_load']} MiB under load, "
        f"{result['server_peak_rss_mib']['overall']} MiB overall "
        f"(load average at start {info['load_avg_at_start']}, {info['logical_cores']} cores)"
    )
    over = [r["page"] for r in people_rows if r["over_budget"]]
    if over:
        print(f"p95 at or over {BUDGET_MS:.0f} ms with people at work: {', '.join(over)}")
    for s in people.error_samples + sample.error_samples:
        print(f"error: {s}")
    for block in problem_kinds[:3]:
        print(f"server log:\n{block}")
    print(f"\nwritten {RESULTS}")
    return 1 if result["errors"] or n_problems else 0


if __name__ == "__main__":
    sys.exit(main())
