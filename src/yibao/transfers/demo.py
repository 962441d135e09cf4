"""Three agencies' nodes on one machine, and a scripted transfer between them.

Used by ``yibao federation demo``, the federation tests and the transfer benchmark: every
node is a real ``yibao serve`` process with its own SQLite file, key and peers file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from yibao.transfers.peers import generate_keypair

AGENCIES = {"500118": "永川", "500116": "江津", "510500": "泸州"}
PASSWORD = "federation-demo-1"
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def synthetic_id(n: int, region: str = "510502") -> str:
    """A synthetic ID number with a correct check character (never a real person's)."""
    body = f"{region}{1950 + n % 50:04d}{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, W, strict=True)) % 11]


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeSpec:
    """Where one node lives and listens."""

    agency: str
    port: int
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "yibao.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=300,
    )


def prepare(
    base: Path, ports: dict[str, int] | None = None, agencies: list[str] | None = None
) -> dict[str, NodeSpec]:
    """Keys, peers files, migrated databases and users for each agency's node."""
    codes = agencies or list(AGENCIES)
    ports = ports or {code: free_port() for code in codes}
    nodes = {code: NodeSpec(code, ports[code], base / code) for code in codes}
    for node in nodes.values():
        (node.home / "keys").mkdir(parents=True, exist_ok=True)
        private, public = generate_keypair()
        (node.home / "keys" / f"{node.agency}.key").write_bytes(private)
        (node.home / "keys" / f"{node.agency}.pub").write_bytes(public)
    for node in nodes.values():
        peers = [
            {
                "agency": o.agency,
                "base_url": o.url,
                "key_id": o.agency,
                "public_key": (o.home / "keys" / f"{o.agency}.pub").read_text(),
            }
            for o in nodes.values()
            if o.agency != node.agency
        ]
        config = {
            "self": {
                "agency": node.agency,
                "key_id": node.agency,
                "private_key_file": f"keys/{node.agency}.key",
            },
            "peers": peers,
        }
        (node.home / "peers.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        node.env = {
            "YIBAO_AGENCY": node.agency,
            "YIBAO_DATA_DIR": str(node.home),
            "YIBAO_DATABASE_URL": f"sqlite:///{node.home / 'yibao.sqlite3'}",
            "YIBAO_SECRET_KEY": f"federation-demo-secret-{node.agency}-0123456789",
            "YIBAO_PEERS_FILE": str(node.home / "peers.yaml"),
            # The demo drives each node's officer over the API with a password alone; a real
            # node keeps the default (officers sign in with a second factor).
            "YIBAO_MFA_REQUIRED_ROLES": "",
        }
        _cli(["db", "upgrade"], node.env)
        _cli(["init"], node.env)
        _cli(
            [
                "user",
                "create",
                "officer",
                "--role",
                "bureau_officer",
                "--password-stdin",
                "--display-name",
                f"{AGENCIES.get(node.agency, node.agency)}局经办",
            ],
            node.env,
            PASSWORD + "\n",
        )
    return nodes


def start(node: NodeSpec, *, relay: bool = True, log: Path | None = None) -> None:
    """Start the node's server process and wait until it answers."""
    env = {**os.environ, **node.env, "YIBAO_RELAY": "true" if relay else "false"}
    out = open(log or node.home / "server.log", "ab")  # noqa: SIM115 - lives with the process
    node.process = subprocess.Popen(
        [sys.executable, "-m", "yibao.cli", "serve", "--port", str(node.port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120  # a loaded machine can take a while to import
    while time.monotonic() < deadline:
        try:
            if httpx.get(node.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if node.process.poll() is not None:
            raise RuntimeError(f"node {node.agency} exited; see {node.home / 'server.log'}")
        time.sleep(0.1)
    raise RuntimeError(f"node {node.agency} did not start")


def stop(node: NodeSpec, *, kill: bool = False) -> None:
    """Stop the node's process (SIGKILL with ``kill``: no chance to finish anything)."""
    if node.process is None:
        return
    if kill:
        node.process.kill()
    else:
        node.process.terminate()
    node.process.wait(timeout=20)
    node.process = None


class Officer:
    """A bureau officer of one node, speaking its HTTP API."""

    def __init__(self, node: NodeSpec) -> None:
        self.node = node
        self.http = httpx.Client(base_url=node.url, timeout=30)
        r = self.http.post("/api/v1/auth/token", json={"username": "officer", "password": PASSWORD})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def intake(self, n: int, *, region: str = "510502") -> str:
        """Take a relationship-transfer case at the bureau hall; returns its number."""
        r = self.http.post(
            "/api/v1/cases",
            json={
                "service_code": "relationship_transfer",
                "station_code": "BUREAU",
                "channel": "window",
                "materials": [],
                "applicant": {
                    "id_number": synthetic_id(n, region),
                    "name": "王秀英",
                    "phone": "13900001111",
                },
            },
        )
        r.raise_for_status()
        return str(r.json()["case_no"])

    def start(self, case_no: str, counterpart: str, role: str) -> dict[str, Any]:
        """Start the transfer."""
        r = self.http.post(
            "/api/v1/transfers", json={"case_no": case_no, "counterpart": counterpart, "role": role}
        )
        r.raise_for_status()
        return dict(r.json())

    def get(self, transfer_id: str) -> dict[str, Any] | None:
        """The transfer as this node has it, or None if it has not arrived."""
        r = self.http.get(f"/api/v1/transfers/{transfer_id}")
        return None if r.status_code == 404 else dict(r.json())

    def wait(self, transfer_id: str, states: set[str], timeout: float = 30) -> dict[str, Any]:
        """Poll until the transfer reaches one of ``states``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.get(transfer_id)
            if t is not None and t["state"] in states:
                return t
            time.sleep(0.05)
        raise TimeoutError(f"{self.node.agency}: transfer {transfer_id} not in {states}")

    def send(self, transfer_id: str, mtype: str, body: dict[str, Any]) -> dict[str, Any]:
        """Take a step (at the current version)."""
        t = self.get(transfer_id)
        assert t is not None
        r = self.http.post(
            f"/api/v1/transfers/{transfer_id}/messages",
            json={"type": mtype, "version": t["version"], "body": body},
        )
        r.raise_for_status()
        return dict(r.json())


PERIODS = [
    {"from": "2015-01", "to": "2020-12", "insurance_type": "employee"},
    {"from": "2021-01", "to": "2026-10", "insurance_type": "resident"},
]


def run_transfer(
    inn: Officer,
    out: Officer,
    n: int,
    *,
    say: Callable[[str], None] = lambda _m: None,
    balance_fen: int = 1_234_567,
    timeout: float = 30,
) -> dict[str, Any]:
    """One transfer applied for at the in-agency, driven through every step by both officers."""
    t0 = time.monotonic()
    case_no = inn.intake(n)
    t = inn.start(case_no, out.node.agency, "in")
    tid = t["id"]
    say(f"{time.monotonic() - t0:6.2f}s  {inn.node.agency} 受理 {case_no}，发出联系函")
    out.wait(tid, {"checking"}, timeout)
    say(f"{time.monotonic() - t0:6.2f}s  {out.node.agency} 收到联系函，审核")
    out.send(tid, "eligibility", {"accepted": True})
    out.send(tid, "info_table", {"periods": PERIODS, "balance_fen": balance_fen})
    out.send(tid, "funds_remitted", {"amount_fen": balance_fen, "reference": f"REF{n:08d}"})
    yuan = balance_fen / 100
    say(f"{time.monotonic() - t0:6.2f}s  {out.node.agency} 审核通过，发信息表，划转 {yuan:.2f} 元")
    inn.wait(tid, {"remitted"}, timeout)
    inn.send(tid, "transfer_completed", {"credited_fen": balance_fen, "periods_recorded": 2})
    say(f"{time.monotonic() - t0:6.2f}s  {inn.node.agency} 记录缴费年限、入账，办结")
    done = out.wait(tid, {"completed"}, timeout)
    agreement = done["agreement_name"]
    say(f"{time.monotonic() - t0:6.2f}s  {out.node.agency} 看到已完成（协议：{agreement}）")
    return done
