"""Three agencies' nodes as real ``yibao serve`` processes on loopback ports, shared by the tests.

The nodes (Yongchuan 500118, Jiangjin 500116, Luzhou 510500) are prepared once per run with
``yibao.transfers.demo.prepare`` (keys, peers files, migrated SQLite files, an officer each):
that takes several seconds per node, so every test reuses them and works on transfers of its
own people. A test says which nodes it needs and whether their relay runs (``Cluster.ensure``);
a node is restarted only when its mode has to change.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from yibao.transfers import demo as fd
from yibao.transfers.peers import Federation, load_federation
from yibao.transfers.relay import PATH
from yibao.transfers.signing import sign_request

YC, JJ, LZ = "500118", "500116", "510500"
CODES = [YC, JJ, LZ]
START_TIMEOUT = 120  # seconds for a node process to answer (beyond ``fd.start``'s own 30 s)
T = TypeVar("T")


def uuid_hex(value: str | uuid.UUID) -> str:
    """A UUID as SQLAlchemy's ``Uuid`` stores it in SQLite (32 hex digits)."""
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).hex


def wait_for(
    what: str, probe: Callable[[], T | None], *, timeout: float = 60, every: float = 0.1
) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _healthy(node: fd.NodeSpec) -> bool:
    try:
        return httpx.get(node.url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass(repr=False)
class Cluster:
    """The prepared nodes, their processes, and read-only views of their SQLite files."""

    base: Path
    nodes: dict[str, fd.NodeSpec]
    relay: dict[str, bool] = field(default_factory=dict)
    _officers: dict[str, fd.Officer] = field(default_factory=dict)
    _people: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:
        return f"Cluster({', '.join(f'{c}:{n.port}' for c, n in self.nodes.items())})"

    # ------------------------------------------------------------ processes

    def running(self, code: str) -> bool:
        """Whether the node's process is up."""
        p = self.nodes[code].process
        return p is not None and p.poll() is None

    def start(self, code: str, *, relay: bool = True) -> None:
        """Start a stopped node."""
        assert not self.running(code), f"{code} already runs"
        node = self.nodes[code]
        try:
            fd.start(node, relay=relay)
        except RuntimeError:
            # ``fd.start`` waits 30 s; a busy machine (a parallel test run) may need longer.
            if node.process is None or node.process.poll() is not None:
                raise
            wait_for(f"{code} to answer /healthz", lambda: _healthy(node), timeout=START_TIMEOUT)
        self.relay[code] = relay

    def stop(self, code: str, *, kill: bool = False) -> None:
        """Stop a node (SIGTERM, or SIGKILL with ``kill``)."""
        fd.stop(self.nodes[code], kill=kill)
        self._officers.pop(code, None)

    def ensure(self, *codes: str, relay: bool = True) -> None:
        """The nodes run, with the relay on or off; restart those in the other mode."""
        todo = [c for c in codes if not (self.running(c) and self.relay.get(c) == relay)]
        for code in todo:
            if self.running(code):
                self.stop(code)
        with ThreadPoolExecutor(max_workers=max(len(todo), 1)) as pool:
            list(pool.map(lambda c: self.start(c, relay=relay), todo))

    def stop_all(self) -> None:
        """Stop every node that runs."""
        for code in self.nodes:
            if self.running(code):
                self.stop(code)

    # ------------------------------------------------------------ people and officers

    def person(self) -> int:
        """A person number no other test uses (distinct synthetic ID numbers)."""
        return next(self._people)

    def people(self, n: int) -> list[int]:
        """``n`` fresh person numbers."""
        return [self.person() for _ in range(n)]

    def officer(self, code: str) -> fd.Officer:
        """The node's bureau officer (one shared client; use ``new_officer`` per thread)."""
        if code not in self._officers:
            self._officers[code] = fd.Officer(self.nodes[code])
        return self._officers[code]

    def new_officer(self, code: str) -> fd.Officer:
        """Another client of the node's officer (own connection pool, same token: no login)."""
        base = self.officer(code)
        other = object.__new__(fd.Officer)
        other.node = base.node
        other.http = httpx.Client(
            base_url=base.node.url,
            timeout=30,
            headers={"Authorization": base.http.headers["Authorization"]},
        )
        return other

    def url(self, code: str) -> str:
        """The node's base URL."""
        return self.nodes[code].url

    # ------------------------------------------------------------ federation on the wire

    def federation(self, code: str) -> Federation:
        """The node's own federation config (its private key and peers), from its peers file."""
        return load_federation(self.nodes[code].home / "peers.yaml", agency=code)

    def post_signed(
        self,
        sender: str,
        receiver: str,
        payload: dict[str, Any] | bytes,
        *,
        now: datetime | None = None,
    ) -> httpx.Response:
        """POST a message to ``receiver`` signed with ``sender``'s key, as the relay does."""
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
        url = self.url(receiver) + PATH
        headers = sign_request(
            self.federation(sender), url=url, body=body, now=now or datetime.now(UTC)
        )
        return httpx.post(url, content=body, headers=headers, timeout=30)

    # ------------------------------------------------------------ the SQLite files

    def db_path(self, code: str) -> Path:
        """The node's SQLite file."""
        return self.nodes[code].home / "yibao.sqlite3"

    @contextlib.contextmanager
    def sql(self, code: str) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the node's SQLite file."""
        conn = sqlite3.connect(f"file:{self.db_path(code)}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def rows(self, code: str, query: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query on the node's database."""
        with self.sql(code) as conn:
            return list(conn.execute(query, tuple(params)))

    def scalar(self, code: str, query: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row."""
        rows = self.rows(code, query, params)
        return rows[0][0] if rows else None

    def outbox(self, code: str, transfer_id: str) -> list[dict[str, Any]]:
        """The node's outbox rows of one transfer, in the order they were written."""
        rows = self.rows(
            code,
            "SELECT * FROM outbox WHERE json_extract(payload, '$.transfer_id') = ? ORDER BY id",
            [transfer_id],
        )
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    def recv_rows(self, code: str, message_id: str) -> int:
        """How many inbox (``recv``) rows the node has for one message id."""
        return int(
            self.scalar(
                code,
                "SELECT count(*) FROM transfer_messages WHERE message_id = ? AND direction = 'recv'",
                [uuid_hex(message_id)],
            )
        )

    # ------------------------------------------------------------ API reads

    def transfer(self, code: str, transfer_id: str) -> dict[str, Any] | None:
        """The transfer as the node's API shows it (None if it has not arrived)."""
        return self.officer(code).get(transfer_id)

    def case(self, code: str, case_no: str) -> dict[str, Any]:
        """A case as the node's API shows it."""
        r = self.officer(code).http.get(f"/api/v1/cases/{case_no}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_state(
        self, code: str, transfer_id: str, state: str, *, timeout: float = 60
    ) -> dict[str, Any]:
        """Poll the node's API until the transfer is in ``state``."""

        def probe() -> dict[str, Any] | None:
            t = self.transfer(code, transfer_id)
            return t if t is not None and t["state"] == state else None

        return wait_for(f"{code}: transfer {transfer_id} {state}", probe, timeout=timeout)


def step(
    officer: fd.Officer,
    transfer_id: str,
    mtype: str,
    body: dict[str, Any],
    *,
    version: int | None = None,
) -> dict[str, Any]:
    """An officer's step at ``version`` (or the one they see now); a 409 is retried fresh."""
    for _ in range(20):
        if version is None:
            t = officer.get(transfer_id)
            assert t is not None, f"{officer.node.agency} has no transfer {transfer_id}"
            version = int(t["version"])
        r = officer.http.post(
            f"/api/v1/transfers/{transfer_id}/messages",
            json={"type": mtype, "version": version, "body": body},
        )
        if r.status_code != 409:
            assert r.status_code == 200, f"{mtype} at {officer.node.agency}: {r.text}"
            return dict(r.json())
        version = None  # a message landed meanwhile: look again
        time.sleep(0.05)
    raise AssertionError(f"{mtype} at {officer.node.agency}: 409 twenty times")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The three nodes, prepared once and started with their relays on."""
    base = tmp_path_factory.mktemp("federation")
    c = Cluster(base, fd.prepare(base, agencies=CODES))
    try:
        c.ensure(*CODES, relay=True)
        yield c
    finally:
        c.stop_all()
