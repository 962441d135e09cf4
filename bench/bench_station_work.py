"""Station work at district scale: the 异地就医备案 registry, 好差评, questionnaires, inspections.

Run with ``python bench/bench_station_work.py [--backend sqlite|postgresql|both]
[--filings 100000] [--ratings 50000] [--repeats 20] [--posts 50] [--export-repeats 1]``;
writes bench/results/station_work.json and each server's log to
bench/results/station-work-server-<backend>.log. About 4.5 minutes for both backends.

For each backend, on a **fresh database** (``common.fresh_database``):

1. ``yibao.migrate.upgrade``, ``yibao.bootstrap.init_reference`` and the demo
   (``yibao.demo.generate.generate``, what ``yibao demo`` runs: demo users, ``--cases`` past
   cases of the last 120 days, and its station work — ~180 filings, ratings, ~600
   questionnaire responses, inspections).
2. **A year of ratings.** The demo's completed cases are cloned into the last 365 days (new ids
   and case numbers, dates moved so that each closed on a random day of the year, their whole
   timelines copied, no visit) until ``--ratings`` of the clones are rated: 60 % of them, as in
   the demo, with the demo's levels (about 3 % bad). Each bad rating has its rectification task
   (closed, mostly on time, once 12 days old; open before), with its follow-up and log.
3. **The registry**, first ``--small-filings`` records in force: synthetic people with valid ID
   numbers, kinds, destinations and documents drawn as ``filings.demo`` draws them, filed over
   three years (long-term ones, or temporary ones not yet ended), and 6.4 % more records that
   have ended (expired, changed, cancelled). Rows are written through the driver (COPY on
   PostgreSQL, executemany on SQLite) with the columns' own type processing, in batches of
   5,000. On PostgreSQL ``ANALYZE`` follows each bulk load (autovacuum would do it within a
   minute or two); SQLite gets none, as yibao never runs it.
4. ``yibao serve`` starts as a separate process (``common.ServerProcess``, RSS sampled every
   100 ms). Users sign in through the login form (pages) or ``POST /api/v1/auth/token`` (API).
   The CSV export is taken once at the small registry; then the rest of the registry is
   inserted while the server runs (``--filings`` records in force in all).
5. Each read is requested 2 times to warm up and ``--repeats`` times measured, one at a time:
   ``/filings`` as the bureau officer (first page, a filtered page, the "ending within 30
   days" filter) and as clerk_f01 (their station's), ``POST /api/v1/filings/lookup`` as
   clerk_f01 (a different person each time), ``/overview`` as supervisor, ``/dashboard`` as
   master_f01, ``/ratings`` as supervisor, ``/questionnaires/policy-evaluation/results`` as
   supervisor and ``/inspections`` as officer. The export
   (``GET /api/v1/filings/export?format=csv|xlsx``, officer) is read as a stream,
   ``--export-repeats`` times per format: time to the first byte, total time, size, and the
   server's RSS just before and its peak during the export. Then ``--posts`` filings on the
   spot (``POST /api/v1/filings`` as clerk_f01: a case opened and completed, the filing, three
   audit records; one transaction each), after 2 unmeasured ones.
6. Anything but the expected status is an error; error blocks of the server log are printed;
   the exit status is 1 if there was any.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from bench_pages import api_token, sign_in
from common import (
    RESULTS_DIR,
    ServerProcess,
    fresh_database,
    id_number,
    machine_info,
    percentile,
    postgres_reachable,
    random_applicant,
    server_problems,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from yibao.bootstrap import init_reference
from yibao.calendar.service import load_calendar
from yibao.cases.models import Case, CaseEvent
from yibao.config import Settings
from yibao.db import make_engine
from yibao.demo.generate import generate
from yibao.filings import divisions
from yibao.filings import rules as filing_rules
from yibao.filings.demo import _KIND_WEIGHTS, _PLACES, _PROOF
from yibao.filings.models import Filing
from yibao.filings.rules import Basis
from yibao.filings.service import person_key
from yibao.migrate import upgrade
from yibao.ratings import rules as rating_rules
from yibao.ratings.demo import COMMENTS, LEVEL_WEIGHTS, SHARE_RATED
from yibao.ratings.models import FollowUp, Rating, RectificationTask, TaskEvent
from yibao.stations.models import Station

RESULTS = RESULTS_DIR / "station_work.json"
AGENCY = "500118"
TZ = ZoneInfo("Asia/Shanghai")
BATCH = 5000
SLOW_MS = 500.0  # the brief's bar for a slow read at this scale


# ---------------------------------------------------------------- bulk data


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(engine: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    """Insert rows in batches, through the driver: COPY on PostgreSQL, executemany on SQLite.

    Values go through the columns' own bind processors (UUIDs, JSON, UTC timestamps), so the
    rows are stored as the ORM would store them, without its per-row cost.
    """
    dialect = engine.dialect
    pg = dialect.name == "postgresql"
    n = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols: list[Any] = []
        procs: list[Any] = []
        sql = ""
        for batch in _batches(rows):
            if not cols:
                cols = [c for c in table.c if c.key in batch[0]]
                procs = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols]
                names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in cols)
                sql = (
                    f"COPY {table.name} ({names}) FROM STDIN"
                    if pg
                    else f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})"
                )
            values = [
                tuple(p(row[c.key]) if p else row[c.key] for c, p in zip(cols, procs, strict=True))
                for row in batch
            ]
            if pg:
                with cur.copy(sql) as copy:
                    for v in values:
                        copy.write_row(v)
                raw.commit()
            else:
                cur.execute("BEGIN")
                cur.executemany(sql, values)
                cur.execute("COMMIT")
            n += len(batch)
    finally:
        raw.close()
    return n


def seed_ratings(
    engine: Engine, *, ratings: int, today: date, rng: random.Random
) -> dict[str, int]:
    """Clone the demo's completed cases into the last year until ``ratings`` are rated."""
    cases_t = Case.__table__
    events_t = CaseEvent.__table__
    with engine.connect() as conn:
        templates = [
            dict(r._mapping)
            for r in conn.execute(
                select(cases_t).where(
                    cases_t.c.agency == AGENCY,
                    cases_t.c.state == "completed",
                    cases_t.c.closed_date.is_not(None),
                )
            )
        ]
        events: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for r in conn.execute(select(events_t).order_by(events_t.c.case_id, events_t.c.seq)):
            row = dict(r._mapping)
            events.setdefault(row["case_id"], []).append(row)
        used = set(conn.scalars(select(cases_t.c.case_no).where(cases_t.c.agency == AGENCY)))
    with Session(engine) as session:
        calendar = load_calendar(session)
    templates = [t for t in templates if t["id"] in events]
    if not templates:
        raise RuntimeError("the demo made no completed case to clone")
    levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
    case_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    rating_rows: list[dict[str, Any]] = []
    task_rows: list[dict[str, Any]] = []
    follow_rows: list[dict[str, Any]] = []
    task_event_rows: list[dict[str, Any]] = []
    rated = 0
    i = 0
    while rated < ratings:
        tpl = templates[i % len(templates)]
        i += 1
        closed: date = tpl["closed_date"]
        # Move the case so that it closed on a day of the last year, yesterday at the latest
        # (a completed case has nothing after its completion).
        shift = closed - (today - timedelta(days=rng.randint(1, 365)))
        at: datetime = tpl["received_at"] - shift
        day = at.astimezone(TZ).date()
        while True:
            case_no = f"{day:%Y%m%d}{rng.randrange(10**7):07d}"
            if case_no not in used:
                used.add(case_no)
                break
        case_id = uuid.uuid4()
        row = dict(tpl)
        row.update(
            id=case_id,
            case_no=case_no,
            visit_id=None,
            received_at=at,
            intake_date=tpl["intake_date"] - shift,
            due_date=tpl["due_date"] - shift,
            closed_date=closed - shift,
            created_at=tpl["created_at"] - shift,
            updated_at=tpl["updated_at"] - shift,
        )
        case_rows.append(row)
        handler_id, handler_name = None, ""
        for ev in events[tpl["id"]]:
            e = dict(ev)
            del e["id"]
            e.update(case_id=case_id, at=ev["at"] - shift)
            event_rows.append(e)
            if ev["action"] == "complete":
                handler_id, handler_name = ev["actor_id"], ev["actor_name"]
        if rng.random() >= SHARE_RATED:
            continue
        rated += 1
        closed_date: date = row["closed_date"]
        rated_date = min(today, closed_date + timedelta(days=rng.choice((0, 0, 0, 1, 2))))
        overall = rng.choices(levels, weights)[0]
        rating_id = uuid.uuid4()
        rated_at = _moment(rated_date, rng)
        rating_rows.append(
            {
                "id": rating_id,
                "agency": AGENCY,
                "case_id": case_id,
                "case_no": case_no,
                "service_code": row["service_code"],
                "station_code": row["unit"],
                "handler_id": handler_id,
                "handler_name": handler_name or "",
                "closed_date": closed_date,
                "channel": "pad" if rng.random() < 0.4 else "phone",
                "overall": overall,
                "efficiency": max(1, min(5, overall + rng.choice((0, 0, 0, 1, -1)))),
                "service_level": max(1, min(5, overall + rng.choice((0, 0, 1, -1)))),
                "attitude": overall,
                "comment": rng.choice(COMMENTS[overall])
                if rng.random() < 0.3 or overall <= 2
                else None,
                "rated_at": rated_at,
                "rated_date": rated_date,
                "recorded_by": handler_id if rng.random() < 0.5 else None,
            }
        )
        if rating_rules.is_bad(overall):
            _bad_task(
                calendar, rng, today, rating_rows[-1], task_rows, follow_rows, task_event_rows
            )
    case_rows.sort(key=lambda r: (r["received_at"], r["case_no"]))
    counts = {
        "cases": _insert(engine, cases_t, iter(case_rows)),
        "case_events": _insert(engine, events_t, iter(event_rows)),
        "ratings": _insert(engine, Rating.__table__, iter(rating_rows)),
        "rating_tasks": _insert(engine, RectificationTask.__table__, iter(task_rows)),
        "rating_follow_ups": _insert(engine, FollowUp.__table__, iter(follow_rows)),
        "rating_task_events": _insert(engine, TaskEvent.__table__, iter(task_event_rows)),
    }
    return counts


def _moment(day: date, rng: random.Random) -> datetime:
    local = datetime.combine(day, dtime(9 + rng.randrange(8), rng.randrange(60)), TZ)
    return local.astimezone(UTC)


def _bad_task(
    calendar: Any,
    rng: random.Random,
    today: date,
    rating: dict[str, Any],
    tasks: list[dict[str, Any]],
    follows: list[dict[str, Any]],
    log: list[dict[str, Any]],
) -> None:
    """The rectification task of a bad rating: closed on time (mostly), late, or still open."""
    opened: date = rating["rated_date"]
    due = rating_rules.rectify_due(calendar, opened, 5)
    task_id = uuid.uuid4()
    who = rating["handler_name"] or "站长"
    steps: list[tuple[str, str | None, str, date]] = [("open", None, "open", opened)]
    state = "open"
    task: dict[str, Any] = {
        "id": task_id,
        "agency": AGENCY,
        "rating_id": rating["id"],
        "case_id": rating["case_id"],
        "case_no": rating["case_no"],
        "station_code": rating["station_code"],
        "owner_id": rating["handler_id"],
        "owner_name": who,
        "opened_date": opened,
        "due_date": due.date,
        "due_estimated": due.estimated,
        "follow_ups": 0,
        "followed_up_date": None,
        "rectified_date": None,
        "rectification": None,
        "appeal_reason": None,
        "decision": None,
        "decision_note": None,
        "closed_date": None,
        "outcome": None,
        "created_at": rating["rated_at"],
        "version": 1,
    }
    if (today - opened).days > 12:
        followed = min(today, opened + timedelta(days=1))
        rectified = min(today, opened + timedelta(days=9 if rng.random() < 0.15 else 2))
        closed = min(today, rectified + timedelta(days=1))
        task.update(
            follow_ups=1,
            followed_up_date=followed,
            rectified_date=rectified,
            rectification="高峰时段增开窗口，安排导办员引导分流",
            closed_date=closed,
            outcome="rectified",
        )
        follows.append(
            {
                "agency": AGENCY,
                "task_id": task_id,
                "followed_at": _moment(followed, rng),
                "method": "phone",
                "outcome": "已电话联系群众说明情况并致歉，群众表示理解",
                "recorded_by": rating["handler_id"],
                "recorded_name": who,
                "created_at": _moment(followed, rng),
            }
        )
        steps += [
            ("follow_up", "open", "open", followed),
            ("rectify", "open", "rectified", rectified),
            ("close", "rectified", "closed", closed),
        ]
        state = "closed"
    task["state"] = state
    task["updated_at"] = _moment(steps[-1][3], rng)
    tasks.append(task)
    for seq, (action, src, dst, when) in enumerate(steps, 1):
        log.append(
            {
                "agency": AGENCY,
                "task_id": task_id,
                "seq": seq,
                "at": rating["rated_at"] if action == "open" else _moment(when, rng),
                "actor_id": None if action == "open" else rating["handler_id"],
                "actor_name": "系统" if action == "open" else who,
                "action": action,
                "from_state": src,
                "to_state": dst,
                "note": None,
            }
        )


@dataclass
class Registry:
    """Writes synthetic registry records; remembers some people for the lookups."""

    engine: Engine
    today: date
    rng: random.Random
    stations: list[str]
    station_weights: list[float]
    used: set[str]
    people: list[str]

    @classmethod
    def open(cls, engine: Engine, today: date, rng: random.Random) -> Registry:
        with engine.connect() as conn:
            codes = list(
                conn.scalars(
                    select(Station.__table__.c.code).where(Station.__table__.c.agency == AGENCY)
                )
            )
            used = set(
                conn.scalars(
                    select(Filing.__table__.c.filing_no).where(Filing.__table__.c.agency == AGENCY)
                )
            )
        # Hospital-side stations and the bureau file most; every station files some.
        weights = [
            {"F01": 30.0, "F02": 25.0, "BUREAU": 20.0}.get(c, 1.0 if c.startswith("M") else 3.0)
            for c in codes
        ]
        return cls(engine, today, rng, codes, weights, used, [])

    def insert(self, active: int) -> int:
        """``active`` records in force and about 6 % more that have ended."""
        ended = round(active * 0.064)
        return _insert(self.engine, Filing.__table__, self._rows(active, ended))

    def _rows(self, active: int, ended: int) -> Iterator[dict[str, Any]]:
        r = self.rng
        table = divisions.load()
        kinds = list(_KIND_WEIGHTS)
        kind_w = [_KIND_WEIGHTS[k] for k in kinds]
        for i in range(active + ended):
            in_force = i < active
            kind = r.choices(kinds, kind_w)[0]
            long_term = kind in filing_rules.LONG_TERM
            if long_term:
                start = self.today - timedelta(days=r.randint(1, 3 * 365))
                end = None
            else:
                months = r.choices((6, 12), (4, 1))[0]
                span = 30 * months - 2
                back = r.randint(1, span) if in_force else r.randint(span + 8, 3 * 365)
                start = self.today - timedelta(days=back)
                end = filing_rules.add_months(start, months) - timedelta(days=1)
                if in_force and end < self.today:
                    end = self.today + timedelta(days=r.randint(0, 60))
            state, ended_date = "active", None
            if not in_force:
                if end is not None and end < self.today:
                    state, ended_date = "expired", end + timedelta(days=1)
                else:
                    state = r.choice(("changed", "cancelled"))
                    ended_date = min(self.today - timedelta(days=1), start + timedelta(days=200))
            created = _moment(min(start, self.today - timedelta(days=1)), r)
            day = created.astimezone(TZ).date()
            while True:
                no = f"BA{day:%Y%m%d}{r.randrange(10**6):06d}"
                if no not in self.used:
                    self.used.add(no)
                    break
            person = random_applicant(r)
            ident = id_number("500118", _birth(r), r.randrange(1000))
            if len(self.people) < 500 and in_force:
                self.people.append(ident)
            p, c, _w = r.choices(_PLACES[kind], [w for *_x, w in _PLACES[kind]])[0]
            basis = Basis.COMMITMENT if r.random() < 0.3 else Basis.PROOF
            docs = _PROOF[kind]
            yield {
                "id": uuid.uuid4(),
                "agency": AGENCY,
                "filing_no": no,
                "action": "file",
                "previous_id": None,
                "person_id_number": ident,
                "person_id_tail": ident[-4:],
                "person_key": person_key(AGENCY, ident),
                "person_name": person["name"],
                "person_phone": person["phone"],
                "kind": kind.value,
                "basis": basis.value,
                "documents": list(docs[: r.randint(1, len(docs))]) if basis is Basis.PROOF else [],
                "province_code": p,
                "province_name": table.province_name(p),
                "city_code": c,
                "city_name": table.city_name(c),
                "division_release": table.release,
                "start_date": start,
                "end_date": end,
                "admission_date": None,
                "state": state,
                "reason": None,
                "note": None,
                "case_id": None,
                "case_no": None,
                "station_code": r.choices(self.stations, self.station_weights)[0],
                "request_key": None,
                "created_by": None,
                "created_by_name": "历史数据导入",
                "created_at": created,
                "updated_at": created,
                "ended_date": ended_date,
                "version": 1,
            }


def _birth(r: random.Random) -> date:
    year = r.randint(1940, 1962) if r.random() < 0.55 else r.randint(1963, 2005)
    return date(year, r.randint(1, 12), r.randint(1, 28))


# ---------------------------------------------------------------- measuring


@dataclass
class Timed:
    name: str
    who: str
    ms: list[float]
    errors: int = 0
    first_error: str = ""

    def row(self) -> dict[str, Any]:
        s = sorted(self.ms)
        return {
            "request": self.name,
            "as": self.who,
            "n": len(s),
            "median_ms": round(statistics.median(s), 1) if s else None,
            "p95_ms": round(percentile(s, 95), 1) if s else None,
            "max_ms": round(s[-1], 1) if s else None,
            "errors": self.errors,
            "first_error": self.first_error or None,
            "slow": bool(s) and percentile(s, 95) > SLOW_MS,
        }


def timed(
    name: str,
    who: str,
    call: Callable[[int], httpx.Response],
    *,
    repeats: int,
    warmup: int = 2,
    expect: int = 200,
) -> Timed:
    """``warmup`` unmeasured calls, then ``repeats`` measured ones, one at a time."""
    out = Timed(name, who, [])
    for k in range(warmup + repeats):
        t0 = time.perf_counter()
        try:
            r = call(k)
            status, body = r.status_code, r.text[:300]
        except httpx.HTTPError as exc:
            status, body = -1, f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - t0) * 1000
        if status != expect:
            out.errors += 1
            out.first_error = out.first_error or f"{status}: {body}"
        elif k >= warmup:
            out.ms.append(ms)
    return out


def export_once(
    server: ServerProcess, client: httpx.Client, fmt: str, registry_rows: int
) -> dict[str, Any]:
    """One export read as a stream: times, size, and the server's memory around it."""
    assert server.sampler is not None
    time.sleep(0.3)  # a fresh RSS sample before the request
    before = server.sampler.samples[-1][1] if server.sampler.samples else 0
    size = 0
    lines = 0
    t0 = time.perf_counter()
    first = None
    with client.stream("GET", "/api/v1/filings/export", params={"format": fmt}) as r:
        status = r.status_code
        for chunk in r.iter_bytes():
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
            if fmt == "csv":
                lines += chunk.count(b"\n")
    t1 = time.perf_counter()
    time.sleep(0.3)
    peak = server.sampler.peak(t0, time.perf_counter())
    return {
        "format": fmt,
        "registry_active": registry_rows,
        "status": status,
        "rows": lines - 1 if fmt == "csv" else None,
        "first_byte_s": round((first or t1) - t0, 2),
        "total_s": round(t1 - t0, 2),
        "mib": round(size / 2**20, 1),
        "rss_before_mib": round(before / 2**20, 1),
        "rss_peak_mib": round(peak / 2**20, 1),
        "rss_growth_mib": round((peak - before) / 2**20, 1),
    }


def filing_body(rng: random.Random, i: int) -> dict[str, Any]:
    person = random_applicant(rng)
    kind, province, city, docs = [
        ("retired_elsewhere", "460000", "460200", ["异地居住证明", "户口簿"]),
        ("referral", "510000", "510100", ["转诊转院审批表"]),
        ("stationed_work", "440000", "440300", ["单位派出证明"]),
        ("long_term_residence", "510000", "510100", ["居住证"]),
    ][i % 4]
    return {
        "person": person,
        "kind": kind,
        "basis": "proof",
        "documents": docs,
        "province": province,
        "city": city,
    }


# ---------------------------------------------------------------- one backend


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    rng = random.Random(20261202)
    with fresh_database(backend) as (url, data_dir):
        secret = secrets.token_urlsafe(32)
        settings = Settings(data_dir=data_dir, database_url=url, secret_key=secret)
        t0 = time.perf_counter()
        upgrade(url)
        init_reference(settings)
        made = generate(settings, cases=args.cases)
        t_demo = time.perf_counter() - t0
        today = datetime.now(TZ).date()
        engine = make_engine(url)
        try:
            t0 = time.perf_counter()
            counts = seed_ratings(engine, ratings=args.ratings, today=today, rng=rng)
            history = dict(counts)
            t_ratings = time.perf_counter() - t0
            registry = Registry.open(engine, today, rng)
            small = min(args.small_filings, args.filings)
            t0 = time.perf_counter()
            counts["filings (first part)"] = registry.insert(small)
            t_filings = time.perf_counter() - t0
            if backend == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE"))
            print(
                f"[{backend}] demo {made} cases {t_demo:.1f} s; ratings history {history} "
                f"{t_ratings:.1f} s; {small} filings {t_filings:.1f} s",
                flush=True,
            )
            log = RESULTS_DIR / f"station-work-server-{backend}.log"
            server = ServerProcess(
                {
                    "YIBAO_DATABASE_URL": url,
                    "YIBAO_SECRET_KEY": secret,
                    "YIBAO_DATA_DIR": str(data_dir),
                    # Pages are measured, not sign-in: officers sign in with a password here.
                    "YIBAO_MFA_REQUIRED_ROLES": "",
                },
                log,
            )
            server.start()
            try:
                out.update(measure(server, engine, registry, backend, args, counts))
            finally:
                server.stop()
            n_problems, kinds = server_problems(server.log_text())
            out["server_log_problems"] = n_problems
            out["server_log_kinds"] = kinds[:3]
            out["setup_seconds"] = {
                "demo": round(t_demo, 1),
                "ratings_history": round(t_ratings, 1),
                "filings_first_part": round(t_filings, 1),
            }
            with engine.connect() as conn:
                out["rows"] = {
                    name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
                    for name, t in (
                        ("cases", Case.__table__),
                        ("case_events", CaseEvent.__table__),
                        ("ratings", Rating.__table__),
                        ("rating_tasks", RectificationTask.__table__),
                        ("filings", Filing.__table__),
                    )
                }
                out["rows"]["filings_active"] = int(
                    conn.scalar(
                        select(func.count())
                        .select_from(Filing.__table__)
                        .where(Filing.__table__.c.state == "active")
                    )
                    or 0
                )
        finally:
            engine.dispose()
    return out


def measure(
    server: ServerProcess,
    engine: Engine,
    registry: Registry,
    backend: str,
    args: argparse.Namespace,
    counts: dict[str, int],
) -> dict[str, Any]:
    base = server.base_url
    users = ("officer", "supervisor", "master_f01", "clerk_f01")
    cookies = {u: sign_in(base, u) for u in users}
    pages = {
        u: httpx.Client(base_url=base, cookies=c, headers={"Accept": "text/html"}, timeout=300)
        for u, c in cookies.items()
    }
    api = {
        u: httpx.Client(base_url=base, headers=api_token(base, u), timeout=600)
        for u in ("officer", "clerk_f01")
    }
    exports: list[dict[str, Any]] = []
    try:
        small = min(args.small_filings, args.filings)
        exports.append(export_once(server, api["officer"], "csv", small))
        print(f"[{backend}] exports at {small}: {exports}", flush=True)
        t0 = time.perf_counter()
        rest = registry.insert(args.filings - small) if args.filings > small else 0
        counts["filings (rest)"] = rest
        if backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        t_rest = time.perf_counter() - t0
        print(f"[{backend}] {rest} more filings in {t_rest:.1f} s; measuring reads", flush=True)

        def get(user: str, url: str) -> Callable[[int], httpx.Response]:
            return lambda _k: pages[user].get(url)

        people = registry.people
        reads = [
            timed("/filings", "officer", get("officer", "/filings"), repeats=args.repeats),
            timed(
                "/filings?state=active&kind=referral&province=510000",
                "officer",
                get("officer", "/filings?state=active&kind=referral&province=510000"),
                repeats=args.repeats,
            ),
            timed(
                "/filings?expiring=1",
                "officer",
                get("officer", "/filings?expiring=1"),
                repeats=args.repeats,
            ),
            timed("/filings", "clerk_f01", get("clerk_f01", "/filings"), repeats=args.repeats),
            timed(
                "POST /api/v1/filings/lookup",
                "clerk_f01",
                lambda k: api["clerk_f01"].post(
                    "/api/v1/filings/lookup", json={"id_number": people[k % len(people)]}
                ),
                repeats=args.repeats,
            ),
            timed("/overview", "supervisor", get("supervisor", "/overview"), repeats=args.repeats),
            timed(
                "/dashboard", "master_f01", get("master_f01", "/dashboard"), repeats=args.repeats
            ),
            timed("/ratings", "supervisor", get("supervisor", "/ratings"), repeats=args.repeats),
            timed(
                "/questionnaires/policy-evaluation/results",
                "supervisor",
                get("supervisor", "/questionnaires/policy-evaluation/results"),
                repeats=args.repeats,
            ),
            timed("/inspections", "officer", get("officer", "/inspections"), repeats=args.repeats),
        ]
        active = args.filings
        for fmt in ("csv", "xlsx"):
            for _ in range(args.export_repeats):
                exports.append(export_once(server, api["officer"], fmt, active))
        print(f"[{backend}] exports at {active}: done", flush=True)
        post_rng = random.Random(7)
        posts = timed(
            "POST /api/v1/filings",
            "clerk_f01",
            lambda k: api["clerk_f01"].post("/api/v1/filings", json=filing_body(post_rng, k)),
            repeats=args.posts,
            warmup=2,
            expect=201,
        )
        assert server.sampler is not None
        return {
            "reads": [t.row() for t in reads],
            "filing_on_the_spot": posts.row(),
            "exports": exports,
            "server_peak_rss_mib": round(server.sampler.peak() / 2**20, 1),
            "bulk_rows": counts,
            "filings_rest_seconds": round(t_rest, 1),
        }
    finally:
        for c in [*pages.values(), *api.values()]:
            c.close()


# ---------------------------------------------------------------- report


def print_report(results: list[dict[str, Any]]) -> None:
    by = {r["backend"]: r for r in results}
    names = [(row["request"], row["as"]) for row in results[0]["reads"]]
    names.append(("POST /api/v1/filings", "clerk_f01"))
    cols = list(by)
    head = f"{'request':<52} {'as':<11}" + "".join(
        f" {b[:6] + ' p50':>11} {'p95':>7}" for b in cols
    )
    if len(cols) == 2:
        head += f" {'PG/SQLite':>9}"
    print(head)
    print("-" * len(head))
    for name, who in names:
        line = f"{name[:52]:<52} {who:<11}"
        meds = []
        for b in cols:
            rows = [*by[b]["reads"], by[b]["filing_on_the_spot"]]
            row = next(x for x in rows if x["request"] == name and x["as"] == who)
            flag = "!" if row["slow"] else " "
            err = f" err {row['errors']}" if row["errors"] else ""
            line += f" {row['median_ms'] or 0:>11.1f} {row['p95_ms'] or 0:>6.1f}{flag}{err}"
            meds.append(row["median_ms"] or 0)
        if len(meds) == 2 and meds[0]:
            line += f" {meds[1] / meds[0]:>9.2f}"
        print(line)
    print(f"\n(! = p95 over {SLOW_MS:.0f} ms)\n")
    head = (
        f"{'backend':<11} {'format':<6} {'active':>7} {'rows':>7} {'MiB':>6} {'1st byte s':>10} "
        f"{'total s':>8} {'RSS before':>10} {'peak':>7} {'growth':>7}"
    )
    print(head)
    print("-" * len(head))
    for b in cols:
        for e in by[b]["exports"]:
            print(
                f"{b:<11} {e['format']:<6} {e['registry_active']:>7} {e['rows'] or '':>7} "
                f"{e['mib']:>6.1f} {e['first_byte_s']:>10.2f} {e['total_s']:>8.2f} "
                f"{e['rss_before_mib']:>10.1f} {e['rss_peak_mib']:>7.1f} "
                f"{e['rss_growth_mib']:>7.1f}"
            )
    for b in cols:
        print(f"{b}: rows {by[b]['rows']}, server peak RSS {by[b]['server_peak_rss_mib']} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cases", type=int, default=4000, help="demo cases (the last 120 days)")
    parser.add_argument("--ratings", type=int, default=50_000, help="ratings over a year")
    parser.add_argument("--filings", type=int, default=100_000, help="active registry records")
    parser.add_argument(
        "--small-filings", type=int, default=20_000, help="registry size of the first export"
    )
    parser.add_argument("--repeats", type=int, default=20, help="measured requests per read")
    parser.add_argument(
        "--export-repeats", type=int, default=1, help="exports per format at full size"
    )
    parser.add_argument("--posts", type=int, default=50, help="filings on the spot")
    args = parser.parse_args()

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        why = postgres_reachable()
        if why is not None:
            if args.backend == "postgresql":
                print(f"PostgreSQL is not reachable: {why}", file=sys.stderr)
                return 1
            print(f"skipping PostgreSQL: {why}")
            backends.remove("postgresql")
    info = machine_info()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    for backend in backends:
        t0 = time.perf_counter()
        res = run_backend(backend, args)
        res["wall_seconds"] = round(time.perf_counter() - t0, 1)
        results.append(res)
    doc = {
        "benchmark": "station_work",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "setup": {k: v for k, v in vars(args).items()},
        "slow_ms": SLOW_MS,
        "results": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8")
    print()
    print_report(results)
    errors = 0
    for r in results:
        for row in [*r["reads"], r["filing_on_the_spot"]]:
            if row["errors"]:
                errors += row["errors"]
                print(f"{r['backend']} {row['request']}: {row['first_error']}")
        errors += sum(1 for e in r["exports"] if e["status"] != 200)
        for block in r["server_log_kinds"]:
            print(f"{r['backend']} server log:\n{block}")
        errors += r["server_log_problems"]
    print(
        f"\nload average at start {info['load_avg_at_start']}, {info['logical_cores']} cores; "
        f"{doc['wall_seconds']:.0f} s in all\nwritten {RESULTS}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
