"""Kill -9 drill: no acknowledged intake is lost, and re-sending never doubles a case.

Eight client threads take cases through ``POST /api/v1/cases``, each intended case with its own
``Idempotency-Key``. The server process is killed with SIGKILL at a random moment, twenty times;
after each kill it is started again and every client re-sends its unacknowledged request with the
same key and body. At the end every acknowledged (201) intake must be in the database with its
first event and its audit record, and no intended case may exist twice.

The server is ``yibao serve`` forked from a process that has already imported the application
(tests/drills/_zygote.py), so that a restart costs a fraction of a second instead of three.
Figures: docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.helpers import make_id
from tests.drills.common import Fresh, free_port, fresh_node, healthy, token, wait_healthy

ROUNDS = 20
CLIENTS = 8
ZYGOTE = Path(__file__).with_name("_zygote.py")


@dataclass
class Intended:
    """One case a client means to take: its key and body never change between re-sends."""

    key: str
    body: dict[str, Any]
    sends: int = 0
    case_no: str | None = None
    replayed: bool = False  # acknowledged by a replay: the first answer was lost in a kill


@dataclass
class Client:
    """One intake desk: sends its cases one after another, re-sending until acknowledged."""

    base: str
    bearer: str
    stop: threading.Event
    intended: list[Intended] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def new_case(self) -> Intended:
        tag = uuid.uuid4().hex
        body = {
            "service_code": "insurance_certificate",
            "station_code": "F01",
            "channel": "window",
            "applicant": {
                "id_number": make_id(seq=random.randrange(1000)),
                "name": "张演练",
                "phone": "13800138000",
            },
            "materials": ["id_card"],
            "note": f"drill:{tag}",
        }
        item = Intended(key=f"drill-{tag}", body=body)
        self.intended.append(item)
        return item

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.bearer}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=5) as http:
            current: Intended | None = None
            while True:
                if current is None:
                    if self.stop.is_set():
                        return
                    current = self.new_case()
                current.sends += 1
                try:
                    r = http.post(
                        "/api/v1/cases",
                        json=current.body,
                        headers={"Idempotency-Key": current.key},
                    )
                except httpx.HTTPError:
                    time.sleep(0.02)  # the server is down: try the same request again
                    continue
                if r.status_code == 201:
                    current.case_no = r.json()["case_no"]
                    current.replayed = r.headers.get("Idempotent-Replayed") == "true"
                    current = None
                elif r.status_code >= 500 or r.status_code == 409:
                    time.sleep(0.02)  # a restart in progress, or a retryable conflict
                else:
                    self.errors.append(f"{r.status_code} {r.text[:300]}")
                    current = None


class Server:
    """The node's server, restarted by forking a pre-imported ``yibao serve``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.zygote = subprocess.Popen(
            [sys.executable, str(ZYGOTE)],
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.zygote.stdout is not None and self.zygote.stdout.readline().strip() == "ready"
        self.pid: int | None = None

    def start(self) -> None:
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(f"start {self.port}\n")
        self.zygote.stdin.flush()
        self.pid = int(self.zygote.stdout.readline())
        wait_healthy(self.base, timeout=30)

    def kill9(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"server {self.pid} survived SIGKILL")
            time.sleep(0.005)
        self.pid = None
        assert not healthy(self.base)

    def close(self) -> None:
        if self.pid is not None:
            self.kill9()
        assert self.zygote.stdin is not None
        self.zygote.stdin.write("quit\n")
        self.zygote.stdin.flush()
        self.zygote.wait(timeout=10)


def _check(node: Fresh, clients: list[Client]) -> dict[str, int]:
    """Count acknowledged / present (with event and audit) / doubled, straight from the tables."""
    intended = [i for c in clients for i in c.intended]
    acked = {i.case_no: i for i in intended if i.case_no}
    engine = create_engine(node.url)
    try:
        with engine.connect() as conn:
            cases = {
                row.case_no: row
                for row in conn.execute(text("SELECT id, case_no, note FROM cases"))
            }
            first_events = {
                row.case_no
                for row in conn.execute(
                    text(
                        "SELECT c.case_no FROM case_events e JOIN cases c ON c.id = e.case_id "
                        "WHERE e.seq = 1 AND e.action = 'intake'"
                    )
                )
            }
            audited = {
                row.object_id
                for row in conn.execute(
                    text(
                        "SELECT object_id FROM audit_records "
                        "WHERE action = 'case.intake' AND object_type = 'case'"
                    )
                )
            }
            keys = conn.execute(
                text("SELECT key, count(*) AS n FROM idempotency_keys GROUP BY key")
            ).all()
    finally:
        engine.dispose()
    per_intent: dict[str, int] = {}
    for row in cases.values():
        per_intent[row.note] = per_intent.get(row.note, 0) + 1
    present = [
        no
        for no, item in acked.items()
        if no in cases
        and cases[no].note == item.body["note"]
        and no in first_events
        and no in audited
    ]
    return {
        "intended": len(intended),
        "acknowledged": len(acked),
        "present": len(present),
        "doubled": sum(n - 1 for n in per_intent.values() if n > 1)
        + sum(r.n - 1 for r in keys if r.n > 1),
        "interrupted": sum(1 for i in intended if i.sends > 1),
        "replayed": sum(1 for i in intended if i.replayed),
        "cases": len(cases),
    }


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill9_loses_no_acknowledged_intake_and_doubles_none(
    backend: str, tmp_path: Path
) -> None:
    rng = random.Random()
    started = time.monotonic()
    with fresh_node(backend, tmp_path / backend) as node:
        server = Server(node.env())
        try:
            server.start()
            bearer = token(server.base, "drill_clerk")
            stop = threading.Event()
            clients = [Client(server.base, bearer, stop) for _ in range(CLIENTS)]
            threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
            for t in threads:
                t.start()
            for _ in range(ROUNDS):
                time.sleep(rng.uniform(0.1, 0.7))  # a random moment of the load
                server.kill9()
                time.sleep(rng.uniform(0.0, 0.1))
                server.start()
            # The last restart: no new cases, every client re-sends what is unacknowledged.
            stop.set()
            for t in threads:
                t.join(timeout=60)
            assert not any(t.is_alive() for t in threads), "a client never got its answer"
        finally:
            server.close()
        figures = _check(node, clients)
    figures["seconds"] = round(time.monotonic() - started)
    print(f"\nkill -9 drill on {backend}, {ROUNDS} rounds, {CLIENTS} clients: {figures}")
    assert [e for c in clients for e in c.errors] == []
    assert figures["acknowledged"] == figures["intended"] > ROUNDS * CLIENTS
    assert figures["present"] == figures["acknowledged"]
    assert figures["doubled"] == 0
    assert figures["cases"] == figures["intended"]
    assert figures["interrupted"] > 0  # the kills did interrupt requests
