"""Cross-region transfers between two real nodes: rate, propagation time, backlog drain.

Run with ``python bench/bench_transfers.py [--seconds 20] [--clients 8] [--samples 30]
[--backlog 1000]``; writes bench/results/transfers.json (and each node's server log to
bench/results/transfers-server-<agency>.log).

Two nodes, Yongchuan (500118) and Luzhou (510500), are prepared by
``yibao.transfers.demo.prepare`` in a temporary directory (keys, peers files, fresh SQLite
files, one officer each) and run as separate ``yibao serve`` processes on loopback ports with
their relays on. Every transfer is applied for in Yongchuan (transfer-in) and Luzhou is the
transfer-out agency; both agreed on 泸永江 (one working day).

1. **Rate.** ``--clients`` threads (each with its own officer on each node) do the human
   steps as soon as the officers' transfer boards show them ready (machine time only): a
   dispatcher reads both boards (``GET /api/v1/transfers?open_only=true``) every
   ``--board-every`` seconds and hands out the steps — intake and start in Yongchuan (keeping
   ``--in-flight`` transfers going), eligibility + information table + remittance in Luzhou
   once it shows the letter, completion in Yongchuan once it shows the remittance. A transfer
   counts when neither board lists it any more (both nodes completed); after ``--warmup``
   seconds, those that finish inside the next ``--seconds`` count.
2. **Propagation.** With nothing else running, ``--samples`` transfers one at a time; for each
   message a person causes (the letter, the remittance, the completion) the time from the
   action's request to the other node's API showing the new state, polling every 10 ms. The
   time from the action's answer (its commit) is given too.
3. **Backlog.** Luzhou is stopped (SIGTERM); Yongchuan's officers start ``--backlog / 4``
   transfers and send three reminders on each (``--backlog`` messages in Yongchuan's outbox,
   retried with back-off by its relay); Luzhou is started again and the clock runs from the
   moment it answers ``/healthz`` until Yongchuan's outbox has nothing undelivered (read from
   its SQLite file every 50 ms, read-only), and until Luzhou has applied them all.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from common import RESULTS_DIR, machine_info, percentile, server_problems

from yibao.transfers import demo as fd

RESULTS = RESULTS_DIR / "transfers.json"
YC, LZ = "500118", "510500"
BALANCE = 1_234_567
PERIODS = fd.PERIODS


class Failed(Exception):
    """An answer the benchmark did not expect."""


# ---------------------------------------------------------------- one officer's steps


def get(officer: fd.Officer, tid: str) -> dict[str, Any] | None:
    r = officer.http.get(f"/api/v1/transfers/{tid}")
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise Failed(f"GET transfer at {officer.node.agency}: {r.status_code} {r.text[:200]}")
    return dict(r.json())


def poll(
    officer: fd.Officer, tid: str, state: str, *, every: float, timeout: float = 120
) -> tuple[dict[str, Any], float]:
    """Poll until the transfer is in ``state``; returns it and when it was first seen."""
    deadline = time.perf_counter() + timeout
    while True:
        t = get(officer, tid)
        seen = time.perf_counter()
        if t is not None and t["state"] == state:
            return t, seen
        if seen > deadline:
            raise Failed(f"{officer.node.agency}: {tid} not {state} after {timeout:.0f} s")
        time.sleep(every)


def act(
    officer: fd.Officer, tid: str, mtype: str, body: dict[str, Any], version: int
) -> dict[str, Any]:
    """A step at ``version``; a 409 (a message landed meanwhile) is retried at the new one."""
    for _ in range(20):
        r = officer.http.post(
            f"/api/v1/transfers/{tid}/messages",
            json={"type": mtype, "version": version, "body": body},
        )
        if r.status_code == 200:
            return dict(r.json())
        if r.status_code != 409:
            raise Failed(f"{mtype} at {officer.node.agency}: {r.status_code} {r.text[:200]}")
        t = get(officer, tid)
        assert t is not None
        version = t["version"]
    raise Failed(f"{mtype} at {officer.node.agency}: 409 twenty times")


def open_transfer(yc: fd.Officer, n: int) -> dict[str, Any]:
    """A person applies in Yongchuan; the officer starts the transfer (the letter goes out)."""
    return yc.start(yc.intake(n), LZ, "in")


def transfer(yc: fd.Officer, lz: fd.Officer, n: int, every: float) -> dict[str, float]:
    """One whole transfer; per hop, (action sent, action answered, other node shows it)."""
    marks: dict[str, float] = {}
    marks["letter_sent"] = time.perf_counter()
    tid = open_transfer(yc, n)["id"]
    marks["letter_done"] = time.perf_counter()
    t, marks["letter_seen"] = poll(lz, tid, "checking", every=every)
    v = act(lz, tid, "eligibility", {"accepted": True}, t["version"])["version"]
    v = act(lz, tid, "info_table", {"periods": PERIODS, "balance_fen": BALANCE}, v)["version"]
    marks["funds_sent"] = time.perf_counter()
    act(lz, tid, "funds_remitted", {"amount_fen": BALANCE, "reference": f"B{n:010d}"}, v)
    marks["funds_done"] = time.perf_counter()
    t, marks["funds_seen"] = poll(yc, tid, "remitted", every=every)
    marks["completed_sent"] = time.perf_counter()
    body = {"credited_fen": BALANCE, "periods_recorded": 2}
    act(yc, tid, "transfer_completed", body, t["version"])
    marks["completed_done"] = time.perf_counter()
    _, marks["completed_seen"] = poll(lz, tid, "completed", every=every)
    return marks


# ---------------------------------------------------------------- measurements


def cpu_seconds(nodes: dict[str, fd.NodeSpec]) -> float:
    total = 0.0
    for node in nodes.values():
        if node.process is not None:
            t = psutil.Process(node.process.pid).cpu_times()
            total += t.user + t.system
    return total


def stats_ms(values: list[float]) -> dict[str, float]:
    s = sorted(v * 1000 for v in values)
    return {
        "n": len(s),
        "p50_ms": round(percentile(s, 50), 1),
        "p95_ms": round(percentile(s, 95), 1),
        "max_ms": round(s[-1], 1) if s else float("nan"),
    }


def undelivered(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(
            conn.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
        )
    finally:
        conn.close()


def received(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        q = "SELECT count(*) FROM transfer_messages WHERE direction = 'recv' AND applied = 1"
        return int(conn.execute(q).fetchone()[0])
    finally:
        conn.close()


def board(officer: fd.Officer) -> dict[str, dict[str, Any]]:
    """The node's open transfers, as the officer's transfer board shows them."""
    r = officer.http.get("/api/v1/transfers", params={"open_only": True})
    if r.status_code != 200:
        raise Failed(f"board at {officer.node.agency}: {r.status_code} {r.text[:200]}")
    return {t["id"]: t for t in r.json()["items"]}


def bench_rate(
    nodes: dict[str, fd.NodeSpec], args: argparse.Namespace, people: itertools.count[int]
) -> dict[str, Any]:
    """Transfers completed per second, ``--clients`` officers acting on what boards show ready.

    A dispatcher reads both boards every ``--board-every`` seconds and hands each step that is
    ready to the pool of ``--clients`` threads (each with its own officer on each node); it
    keeps ``--in-flight`` transfers going by starting new ones in Yongchuan. A transfer counts
    when Luzhou's board no longer lists it after its completion was sent (both nodes done).
    """
    local = threading.local()

    def officers() -> tuple[fd.Officer, fd.Officer]:
        if not hasattr(local, "pair"):
            local.pair = (fd.Officer(nodes[YC]), fd.Officer(nodes[LZ]))
        return local.pair  # type: ignore[no-any-return]

    def begin(n: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        return open_transfer(officers()[0], n)["id"], t0

    def remit(tid: str, v: int) -> None:
        lz = officers()[1]
        v = act(lz, tid, "eligibility", {"accepted": True}, v)["version"]
        v = act(lz, tid, "info_table", {"periods": PERIODS, "balance_fen": BALANCE}, v)["version"]
        act(lz, tid, "funds_remitted", {"amount_fen": BALANCE, "reference": tid[:20]}, v)

    def complete(tid: str, v: int) -> None:
        body = {"credited_fen": BALANCE, "periods_recorded": 2}
        act(officers()[0], tid, "transfer_completed", body, v)

    watch_yc, watch_lz = fd.Officer(nodes[YC]), fd.Officer(nodes[LZ])
    began: dict[str, float] = {}  # transfer → when its intake was sent
    stage: dict[str, str] = {}  # transfer → the last step handed out
    done: list[tuple[float, float]] = []
    errors: list[str] = []
    starting: list[Future[tuple[str, float]]] = []
    steps: list[Future[None]] = []
    t0 = time.perf_counter()
    w0 = t0 + args.warmup
    w1 = w0 + args.seconds
    c0 = c1 = cpu0 = cpu1 = 0.0
    dbs = {code: nodes[code].home / "yibao.sqlite3" for code in (YC, LZ)}
    waiting: dict[str, list[int]] = {YC: [], LZ: []}  # outbox rows not yet delivered
    next_sample = w0
    with ThreadPoolExecutor(args.clients) as pool:
        while time.perf_counter() < w1:
            now = time.perf_counter()
            if not c0 and now >= w0:
                c0, cpu0 = cpu_seconds(nodes), sum(psutil.Process().cpu_times()[:2])
            for f in [f for f in starting if f.done()]:
                starting.remove(f)
                try:
                    tid, at = f.result()
                except Exception as exc:  # count it, keep the load going
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                began[tid], stage[tid] = at, "started"
            for f in [f for f in steps if f.done()]:
                steps.remove(f)
                if f.exception() is not None:
                    errors.append(f"{type(f.exception()).__name__}: {f.exception()}"[:300])
            in_flight = len(starting) + len(stage)
            for _ in range(max(args.in_flight - in_flight, 0)):
                starting.append(pool.submit(begin, next(people)))
            if w0 <= now and now >= next_sample:
                next_sample = now + 0.5
                for code, db in dbs.items():
                    waiting[code].append(undelivered(db))
            lz_board, yc_board = board(watch_lz), board(watch_yc)
            seen = time.perf_counter()
            for tid, st in list(stage.items()):
                if st == "started" and lz_board.get(tid, {}).get("state") == "checking":
                    stage[tid] = "remitting"
                    steps.append(pool.submit(remit, tid, lz_board[tid]["version"]))
                elif st == "remitting" and yc_board.get(tid, {}).get("state") == "remitted":
                    stage[tid] = "completing"
                    steps.append(pool.submit(complete, tid, yc_board[tid]["version"]))
                elif st == "completing" and tid not in lz_board and tid not in yc_board:
                    del stage[tid]
                    done.append((began.pop(tid), seen))
            time.sleep(args.board_every)
        c1, cpu1 = cpu_seconds(nodes), sum(psutil.Process().cpu_times()[:2])
        for f in starting + steps:
            f.cancel()
    inside = [(s, e) for s, e in done if w0 <= e <= w1]
    window = w1 - w0
    return {
        "clients": args.clients,
        "in_flight": args.in_flight,
        "board_every_s": args.board_every,
        "window_s": round(window, 2),
        "completed": len(inside),
        "per_s": round(len(inside) / window, 2),
        "messages_per_s": round(5 * len(inside) / window, 1),
        "transfer_time": stats_ms([e - s for s, e in inside]),
        "servers_cpu_cores": round((c1 - c0) / window, 2),
        "servers_cpu_ms_per_transfer": round(1000 * (c1 - c0) / max(len(inside), 1), 1),
        "bench_process_cpu_cores": round((cpu1 - cpu0) / window, 2),
        "outbox_waiting": {
            code: {"mean": round(sum(v) / max(len(v), 1), 1), "max": max(v, default=0)}
            for code, v in waiting.items()
        },
        "errors": len(errors),
        "error_kinds": dict(Counter(e.split(":")[0] for e in errors)),
        "error_samples": errors[:5],
        "total_completed": len(done),
    }


def bench_latency(
    nodes: dict[str, fd.NodeSpec], args: argparse.Namespace, people: itertools.count[int]
) -> dict[str, Any]:
    yc, lz = fd.Officer(nodes[YC]), fd.Officer(nodes[LZ])
    transfer(yc, lz, next(people), every=0.01)  # warm both nodes' paths
    hops: dict[str, dict[str, list[float]]] = {
        h: {"from_action": [], "from_commit": [], "action": []}
        for h in ("letter", "funds", "completed")
    }
    for _ in range(args.samples):
        marks = transfer(yc, lz, next(people), every=0.01)
        for h, d in hops.items():
            d["from_action"].append(marks[f"{h}_seen"] - marks[f"{h}_sent"])
            d["from_commit"].append(marks[f"{h}_seen"] - marks[f"{h}_done"])
            d["action"].append(marks[f"{h}_done"] - marks[f"{h}_sent"])
    out: dict[str, Any] = {"samples": args.samples, "poll_every_ms": 10}
    for h, d in hops.items():
        out[h] = {k: stats_ms(v) for k, v in d.items()}
    every = [x for d in hops.values() for x in d["from_action"]]
    out["all_hops_from_action"] = stats_ms(every)
    out["all_hops_from_commit"] = stats_ms([x for d in hops.values() for x in d["from_commit"]])
    return out


def bench_backlog(
    nodes: dict[str, fd.NodeSpec], args: argparse.Namespace, people: itertools.count[int]
) -> dict[str, Any]:
    yc_db = nodes[YC].home / "yibao.sqlite3"
    lz_db = nodes[LZ].home / "yibao.sqlite3"
    if undelivered(yc_db):
        raise Failed("Yongchuan's outbox is not empty before the backlog run")
    applied_before = received(lz_db)
    fd.stop(nodes[LZ])
    transfers = args.backlog // 4
    officers = [fd.Officer(nodes[YC]) for _ in range(args.clients)]
    numbers = [next(people) for _ in range(transfers)]

    def queue(k: int) -> None:
        yc = officers[k]
        for n in numbers[k :: args.clients]:
            t = open_transfer(yc, n)
            v = t["version"]
            for i in range(3):
                v = act(yc, t["id"], "reminder", {"note": f"第{i + 1}次催办"}, v)["version"]

    q0 = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(queue, range(args.clients)))
    queued_s = time.perf_counter() - q0
    backlog = undelivered(yc_db)
    expected = 4 * transfers
    if backlog != expected:
        raise Failed(f"{backlog} undelivered messages queued, expected {expected}")

    s0 = time.perf_counter()
    fd.start(nodes[LZ], relay=True)
    up = time.perf_counter()
    first = drained = applied = None
    while drained is None or applied is None:
        now = time.perf_counter()
        left = undelivered(yc_db)
        if first is None and left < backlog:
            first = now
        if drained is None and left == 0:
            drained = now
        if applied is None and received(lz_db) - applied_before >= expected:
            applied = now
        if now - up > 600:
            raise Failed(f"backlog not drained after 600 s ({left} left)")
        time.sleep(0.05)
    return {
        "messages": expected,
        "transfers": transfers,
        "queue_s": round(queued_s, 1),
        "receiver_start_s": round(up - s0, 2),
        "first_delivery_after_up_s": round((first or up) - up, 2),
        "drain_s": round(drained - up, 2),
        "applied_s": round(applied - up, 2),
        "messages_per_s": round(expected / (drained - up), 1),
        "received_and_applied": received(lz_db) - applied_before,
    }


# ---------------------------------------------------------------- report


def print_table(report: dict[str, Any]) -> None:
    m, r, lat, b = report["machine"], report["rate"], report["latency"], report["backlog"]
    print()
    print(
        f"transfer benchmark — Yongchuan ⇄ Luzhou, two `yibao serve` processes (SQLite); "
        f"{m['logical_cores']} cores, load average {m['load_avg_at_start'][0]} at start "
        f"(shared machine: numbers are noisy)"
    )
    head = f"{'measure':<52} {'value':>10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(head)
    print("-" * len(head))
    tt = r["transfer_time"]
    print(
        f"{'(i) transfers completed per s, ' + str(r['clients']) + ' clients':<52} "
        f"{r['per_s']:>10.2f} {tt['p50_ms']:>8.0f} {tt['p95_ms']:>8.0f} {tt['max_ms']:>8.0f}"
    )
    print(f"{'    messages per s (5 per transfer)':<52} {r['messages_per_s']:>10.1f}")
    ow = r["outbox_waiting"]
    print(
        f"{'    outbox waiting, mean (max): YC / LZ':<52} "
        f"{ow[YC]['mean']:>4.1f} ({ow[YC]['max']}) / {ow[LZ]['mean']:.1f} ({ow[LZ]['max']})"
    )
    print(
        f"{'    server CPU, cores busy / ms per transfer':<52} {r['servers_cpu_cores']:>10.2f} "
        f"{r['servers_cpu_ms_per_transfer']:>8.0f}"
    )
    for h, label in (
        ("letter", "letter: start in YC → LZ shows checking"),
        ("funds", "remittance: LZ remits → YC shows remitted"),
        ("completed", "completion: YC completes → LZ shows completed"),
        ("all_hops", "all hops"),
    ):
        s = lat[h]["from_action"] if h != "all_hops" else lat["all_hops_from_action"]
        c = lat[h]["from_commit"] if h != "all_hops" else lat["all_hops_from_commit"]
        print(
            f"{'(ii) ' + label:<52} {s['n']:>10} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} "
            f"{s['max_ms']:>8.1f}"
        )
        print(
            f"{'      … from the action’s answer (commit)':<52} {'':>10} {c['p50_ms']:>8.1f} "
            f"{c['p95_ms']:>8.1f} {c['max_ms']:>8.1f}"
        )
    print(f"{'(iii) backlog: messages queued while LZ was down':<52} {b['messages']:>10}")
    print(f"{'      drained (YC outbox empty), s after LZ up':<52} {b['drain_s']:>10.2f}")
    print(f"{'      all applied at LZ, s after LZ up':<52} {b['applied_s']:>10.2f}")
    print(f"{'      messages per s while draining':<52} {b['messages_per_s']:>10.1f}")
    print(f"{'      LZ start (process → /healthz), s':<52} {b['receiver_start_s']:>10.2f}")
    print(f"{'      first delivery, s after LZ up':<52} {b['first_delivery_after_up_s']:>10.2f}")
    print(f"load average at end {m['load_avg_at_end'][0]}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured rate window")
    parser.add_argument("--warmup", type=float, default=8.0, help="unmeasured load before")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=16, help="transfers going at once in (i)")
    parser.add_argument("--board-every", type=float, default=0.1, help="board polling in (i), s")
    parser.add_argument("--samples", type=int, default=30, help="transfers for (ii)")
    parser.add_argument("--backlog", type=int, default=1000, help="messages for (iii)")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.samples < 1 or args.backlog < 4:
        parser.error("--clients ≥ 1, --seconds > 0, --samples ≥ 1, --backlog ≥ 4")

    machine = machine_info()
    started = datetime.now(UTC)
    base = Path(tempfile.mkdtemp(prefix="yibao-bench-transfers-"))
    people = itertools.count(1)
    nodes: dict[str, fd.NodeSpec] = {}
    t0 = time.perf_counter()
    try:
        print("preparing two nodes (keys, peers files, databases, officers)…", flush=True)
        nodes = fd.prepare(base, agencies=[YC, LZ])
        prepare_s = time.perf_counter() - t0
        for node in nodes.values():
            fd.start(node, relay=True)
        print("(i) rate…", flush=True)
        rate = bench_rate(nodes, args, people)
        print("(ii) propagation…", flush=True)
        latency = bench_latency(nodes, args, people)
        print("(iii) backlog…", flush=True)
        backlog = bench_backlog(nodes, args, people)
    finally:
        for node in nodes.values():
            fd.stop(node)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        logs: dict[str, Any] = {}
        for code in (YC, LZ):
            src = base / code / "server.log"
            if src.exists():
                dst = RESULTS_DIR / f"transfers-server-{code}.log"
                shutil.copyfile(src, dst)
                blocks, kinds = server_problems(src.read_text("utf-8", errors="replace"))
                logs[code] = {"log": str(dst), "error_blocks": blocks, "errors": kinds}
        shutil.rmtree(base, ignore_errors=True)
    machine["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "benchmark": "transfers between two yibao nodes (Yongchuan in, Luzhou out), SQLite",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine,
        "config": {
            "clients": args.clients,
            "in_flight": args.in_flight,
            "board_every_s": args.board_every,
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "samples": args.samples,
            "backlog": args.backlog,
            "server": "yibao serve (uvicorn, 1 process each, relay in process, access log on)",
            "prepare_s": round(prepare_s, 1),
        },
        "notes": [
            "Machine time only: the human steps are requests sent as soon as the state allows.",
            "Both nodes and the load clients share the same cores.",
            "Measured on a shared machine: figures are noisy; compare runs on one machine only.",
        ],
        "rate": rate,
        "latency": latency,
        "backlog": backlog,
        "server_logs": logs,
        "total_s": round(time.perf_counter() - t0, 1),
    }
    print_table(report)
    failed = bool(rate["errors"]) or any(v["error_blocks"] for v in logs.values())
    if rate["errors"]:
        print(f"errors during the rate run: {rate['error_kinds']}: {rate['error_samples']}")
    for code, v in logs.items():
        if v["error_blocks"]:
            print(f"[{code}] server log has {v['error_blocks']} error block(s) ({v['log']}):")
            for block in v["errors"]:
                print("  " + block.replace("\n", "\n  "))
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
