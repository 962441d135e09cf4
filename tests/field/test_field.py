"""A field laptop and the central node as real processes: offline intake, cut syncs, conflicts."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import make_id

PASSWORD = "field-test-password"
YIBAO = [sys.executable, "-m", "yibao.cli"]
pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*YIBAO, *args],
        env={**os.environ, **env},
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


@dataclass
class Proc:
    env: dict[str, str]
    port: int
    home: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.home / "server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*YIBAO, "serve", "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
        )
        for _ in range(300):
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(
            f"server did not start: {(self.home / 'server.log').read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def token(self, username: str) -> dict[str, str]:
        r = httpx.post(
            self.url + "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


class CuttingProxy:
    """Forwards to the central node; on chosen requests it waits for the central answer, then
    drops the connection without passing the answer on (commit done, acknowledgement lost)."""

    def __init__(self, target: str, cut_plan: list[bool]) -> None:
        self.target = target
        self.plan = list(cut_plan)
        self.cuts = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                r = httpx.request(
                    self.command,
                    proxy.target + self.path,
                    content=body,
                    headers=headers,
                    timeout=120,
                )
                cut = (
                    self.path.startswith("/api/v1/field/sync") and proxy.plan and proxy.plan.pop(0)
                )
                if cut:
                    proxy.cuts += 1
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    return
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    home = tmp_path_factory.mktemp("central")
    env = {
        "YIBAO_DATA_DIR": str(home),
        "YIBAO_DATABASE_URL": "",
        "YIBAO_SECRET_KEY": "central-secret-" + "c" * 24,
        "YIBAO_PUBLIC_RATE_PER_MINUTE": "10000",
    }
    assert _cli(["db", "upgrade"], env).returncode == 0
    assert _cli(["init"], env).returncode == 0
    for name, role, station in [
        ("team_m01", "clerk", "M01"),
        ("team_m02", "clerk", "M02"),
        ("officer", "bureau_officer", None),
    ]:
        args = ["user", "create", name, "--role", role, "--password-stdin"]
        if station:
            args += ["--station", station]
        out = _cli(args, env, PASSWORD + "\n")
        assert out.returncode == 0, out.stderr
    proc = Proc(env, _port(), home)
    proc.start()
    yield proc
    proc.stop()


def make_laptop(tmp: Path, central_url: str, username: str) -> Proc:
    home = tmp / f"laptop-{username}"
    home.mkdir()
    env = {
        "YIBAO_DATA_DIR": str(home),
        "YIBAO_DATABASE_URL": "",
        "YIBAO_SECRET_KEY": "laptop-secret-" + "l" * 24,
    }
    out = _cli(
        [
            "field",
            "init",
            "--central",
            central_url,
            "--username",
            username,
            "--password-stdin",
            "--label",
            "test laptop",
        ],
        env,
        PASSWORD + "\n",
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return Proc(env, _port(), home)


def intake(laptop: Proc, headers: dict[str, str], n: int, station: str, **over: object) -> dict:
    body = {
        "service_code": "outpatient_reimbursement_small",
        "station_code": station,
        "channel": "mobile",
        "materials": ["id_card"],
        "applicant": {"id_number": make_id(seq=n), "name": "赵六", "phone": "13700000000"},
    }
    body.update(over)
    r = httpx.post(laptop.url + "/api/v1/cases", json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def sync(laptop: Proc) -> subprocess.CompletedProcess[str]:
    return _cli(["field", "sync", "--password-stdin"], laptop.env, PASSWORD + "\n")


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def test_500_offline_cases_survive_ten_cut_syncs(central: Proc, tmp_path: Path) -> None:
    rng = random.Random(20261129)
    plan = [rng.random() < 0.6 for _ in range(40)]
    plan[:10] = [True] * 10  # ten cuts for sure, at the start of the plan
    rng.shuffle(plan)
    while sum(plan) < 10:
        plan.append(True)
    proxy = CuttingProxy(central.url, plan)
    laptop = make_laptop(tmp_path, proxy.url, "team_m01")
    # The team goes into a village with no network: the central node is not even reachable.
    laptop.start()
    try:
        h = laptop.token("team_m01")
        made = [intake(laptop, h, i, "M01")["case_no"] for i in range(500)]
        assert len(set(made)) == 500
        assert all(no.startswith("L") for no in made)  # never a number the centre issues
    finally:
        laptop.stop()
    # The ID numbers are sealed in the laptop's file.
    sealed = rows(laptop.home / "yibao.sqlite3", "SELECT applicant_id_number FROM cases")
    assert all(v.startswith("enc2:field:") for (v,) in sealed)  # the laptop key, key id field
    before = rows(central.home / "yibao.sqlite3", "SELECT count(*) FROM cases")[0][0]
    attempts = 0
    while True:
        attempts += 1
        out = sync(laptop)
        pending = rows(
            laptop.home / "yibao.sqlite3",
            "SELECT count(*) FROM field_queue WHERE status = 'pending'",
        )[0][0]
        if pending == 0:
            assert out.returncode == 0, out.stderr
            break
        assert attempts < 60, out.stderr
    proxy.close()
    assert proxy.cuts >= 10
    after = rows(central.home / "yibao.sqlite3", "SELECT count(*) FROM cases")[0][0]
    assert after - before == 500  # exactly: none lost, none doubled
    statuses = dict(
        rows(
            laptop.home / "yibao.sqlite3",
            "SELECT status, count(*) FROM field_queue GROUP BY status",
        )
    )
    assert statuses == {"acked": 500}
    # The laptop shows the central case numbers now.
    central_nos = {n for (n,) in rows(central.home / "yibao.sqlite3", "SELECT case_no FROM cases")}
    laptop_nos = {n for (n,) in rows(laptop.home / "yibao.sqlite3", "SELECT case_no FROM cases")}
    assert laptop_nos <= central_nos


def test_capture_time_counts_across_a_holiday_and_conflicts_are_shown(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m02")
    # The laptop's catalogue is a day old: an item it still offers was retired centrally.
    con = sqlite3.connect(laptop.home / "yibao.sqlite3")
    con.execute("""INSERT INTO services (agency, code, name_zh, name_en, category, time_limit_days,
                   channel_limits, materials, accept_kinds, complete_kinds, instant, active)
                   SELECT agency, 'retired_item', '已停办事项', 'Retired item', category,
                   time_limit_days, channel_limits, materials, accept_kinds, complete_kinds,
                   instant, active FROM services WHERE code = 'resident_enrolment'""")
    con.commit()
    con.close()
    laptop.start()
    try:
        h = laptop.token("team_m02")
        # Captured on Thu 2026-09-24 before the Mid-Autumn break: 5 working days → 10/09.
        old = intake(laptop, h, 9001, "M02", captured_at="2026-09-24T16:00:00+08:00")
        assert old["due_date"] == "2026-10-09"
        fresh = intake(laptop, h, 9002, "M02")
        sync_out = sync(laptop)
        assert sync_out.returncode == 0, sync_out.stderr
        # Both sides now hold the case; the bureau changes it centrally ...
        central_no = rows(
            laptop.home / "yibao.sqlite3",
            f"SELECT central_case_no FROM field_queue WHERE local_case_no = '{fresh['case_no']}'",
        )[0][0]
        team = central.token("team_m02")
        r = httpx.post(
            central.url + f"/api/v1/cases/{central_no}/actions",
            json={"action": "start", "version": 1},
            headers=team,
        )
        assert r.status_code == 200, r.text
        got = httpx.get(central.url + f"/api/v1/cases/{central_no}", headers=team).json()
        assert got["due_date"] == fresh["due_date"]
        # ... while the laptop, offline, rejects the same case.
        r = httpx.post(
            laptop.url + f"/api/v1/cases/{central_no}/actions",
            json={"action": "reject", "version": 1, "reason": "材料不全"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        # A record the central node refuses: an item it no longer has.
        intake(laptop, h, 9003, "M02", service_code="retired_item")
    finally:
        laptop.stop()
    out = sync(laptop)
    assert out.returncode == 0, out.stderr
    queue = rows(
        laptop.home / "yibao.sqlite3",
        "SELECT kind, status, reason FROM field_queue WHERE status != 'acked' ORDER BY id",
    )
    assert [(k, s) for k, s, _ in queue] == [("action", "conflict"), ("case", "quarantined")]
    assert "unknown service" in queue[1][2]
    # Not merged silently: the central case is still in progress, and the bureau sees it.
    officer = central.token("officer")
    assert (
        httpx.get(central.url + f"/api/v1/cases/{central_no}", headers=officer).json()["state"]
        == "in_progress"
    )
    conflicts = httpx.get(central.url + "/api/v1/field/conflicts", headers=officer).json()
    assert {c["status"] for c in conflicts} >= {"conflict", "refused"}
    # The old capture counted from its capture time centrally too.
    old_central = [
        c
        for c in httpx.get(
            central.url + "/api/v1/cases?date_from=2026-09-24&date_to=2026-09-24", headers=officer
        ).json()["items"]
        if c["intake_date"] == "2026-09-24"
    ]
    assert old_central and old_central[0]["due_date"] == "2026-10-09"


def test_a_revoked_laptop_cannot_sync(central: Proc, tmp_path: Path) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    officer = central.token("officer")
    devices = httpx.get(central.url + "/api/v1/field/devices", headers=officer).json()
    device_id = rows(laptop.home / "yibao.sqlite3", "SELECT device_id FROM field_state")[0][0]
    device_id = str(device_id)
    match = [d for d in devices if d["id"].replace("-", "") == device_id.replace("-", "")]
    assert match, devices
    r = httpx.post(central.url + f"/api/v1/field/devices/{match[0]['id']}/revoke", headers=officer)
    assert r.status_code == 200
    laptop.start()
    try:
        intake(laptop, laptop.token("team_m01"), 9100, "M01")
    finally:
        laptop.stop()
    out = sync(laptop)
    assert out.returncode != 0 and "revoked" in out.stderr
    assert (
        rows(
            laptop.home / "yibao.sqlite3",
            "SELECT count(*) FROM field_queue WHERE status = 'pending'",
        )[0][0]
        == 1
    )
