"""The console script as a user runs it: migrate, init, users, calendar import, serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.audit import guard

YIBAO = [sys.executable, "-m", "yibao.cli"]


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*YIBAO, *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("cli")
    env = {"YIBAO_DATA_DIR": str(data), "YIBAO_DATABASE_URL": "", "YIBAO_SECRET_KEY": "k" * 32}
    assert run(["db", "upgrade"], env).returncode == 0
    out = run(["init"], env)
    assert out.returncode == 0, out.stderr
    assert "16 services, 23 stations, 23 towns" in out.stdout
    return env


def test_init_is_idempotent(fresh_env: dict[str, str]) -> None:
    out = run(["init"], fresh_env)
    assert out.returncode == 0 and "23 stations" in out.stdout


def test_user_create_checks_input(fresh_env: dict[str, str]) -> None:
    ok = run(
        ["user", "create", "wang", "--role", "clerk", "--station", "f01", "--password-stdin"],
        fresh_env,
        "a-long-password\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "wang (clerk, F01)" in ok.stdout
    for args, needle in [
        (["user", "create", "wang", "--role", "clerk", "--station", "F01"], "already taken"),
        (["user", "create", "li", "--role", "clerk"], "needs a station"),
        (["user", "create", "li", "--role", "boss"], "unknown role"),
        (["user", "create", "li", "--role", "clerk", "--station", "X9"], "unknown station"),
    ]:
        bad = run([*args, "--password-stdin"], fresh_env, "a-long-password\n")
        assert bad.returncode == 2 and needle in bad.stderr, (args, bad.stderr)
    short = run(["user", "create", "zhao", "--role", "admin", "--password-stdin"], fresh_env, "x\n")
    assert short.returncode == 2 and "password" in short.stderr


def test_calendar_import_refuses_bad_file(fresh_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("year: 2027\nholidays:\n  - 2027-02-30\nworkdays:\n  - 2027-02-16\n")
    out = run(["calendar", "import", str(bad)], fresh_env)
    assert out.returncode == 2
    assert "holidays[0]" in out.stderr and "workdays[0]" in out.stderr


def test_serve_answers_health_and_token(fresh_env: dict[str, str]) -> None:
    run(
        ["user", "create", "srv", "--role", "clerk", "--station", "F01", "--password-stdin"],
        fresh_env,
        "a-long-password\n",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*YIBAO, "serve", "--port", str(port)],
        env={**os.environ, **fresh_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        r = httpx.post(
            f"{base}/api/v1/auth/token", json={"username": "srv", "password": "a-long-password"}
        )
        assert r.status_code == 200
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = httpx.post(f"{base}/api/v1/cases", json=intake_body(), headers=h)
        assert r.status_code == 201, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_estimated_until_the_year_is_imported(
    client: TestClient, login, clean: Node, tmp_path: Path
) -> None:
    """A due date in a year without an official schedule is flagged; importing it clears that."""
    clean.clock.now = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)  # Monday
    h = login("clerk_f01")
    body = intake_body(service_code="outpatient_reimbursement", materials=["id_card"])
    r = client.post("/api/v1/cases", json=body, headers=h)
    assert r.status_code == 201, r.text
    case = r.json()
    # The estimate knows 元旦 (Fri 1/1) but no make-up day: 12/29-31, 1/4-8, 1/11, 1/12.
    assert case["due_date"] == "2027-01-12"
    assert case["due_estimated"] is True

    # The imported schedule makes Sat 1/9 a make-up working day, so 1/11 is the tenth.
    schedule = tmp_path / "cn-2027.yaml"
    schedule.write_text(
        "year: 2027\nsource: test schedule\nholidays:\n  - 2027-01-01\n"
        "workdays:\n  - 2027-01-09\n"
    )
    env = {"YIBAO_DATABASE_URL": clean.url, "YIBAO_DATA_DIR": str(tmp_path)}
    out = run(["calendar", "import", str(schedule)], env)
    assert out.returncode == 0, out.stderr
    clean.runtime.invalidate()
    case2 = client.post(
        "/api/v1/cases",
        json=intake_body(service_code="outpatient_reimbursement", materials=["id_card"]),
        headers=h,
    ).json()
    assert case2["due_date"] == "2027-01-11"
    assert case2["due_estimated"] is False
    # The open case counted on the estimate was recounted by the import, with an event.
    first = client.get(f"/api/v1/cases/{case['case_no']}", headers=h).json()
    assert (first["due_date"], first["due_estimated"]) == ("2027-01-11", False)
    events = client.get(f"/api/v1/cases/{case['case_no']}/events", headers=h).json()
    assert any("recompute" in str(e) for e in events), events
    # Remove the imported year again so other tests see the packaged calendar only.
    from sqlalchemy import delete

    from yibao.calendar.models import CalendarYear

    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test set-up")
        uow.session.execute(delete(CalendarYear).where(CalendarYear.year == 2027))
        uow.commit()
    clean.runtime.invalidate()


EXAMPLE_2027 = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cn-2027-example.yaml"


def test_calendar_status_warns_until_next_year_is_imported(
    fresh_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {**fresh_env, "YIBAO_DATA_DIR": str(tmp_path_factory.mktemp("cli-status"))}
    assert run(["db", "upgrade"], env).returncode == 0
    assert run(["init"], env).returncode == 0
    june = run(["calendar", "status"], {**env, "YIBAO_TODAY": "2026-06-01"})
    assert june.returncode == 0, june.stderr
    assert "official schedules: 2004-2026" in june.stdout
    december = run(["calendar", "status"], {**env, "YIBAO_TODAY": "2026-12-07"})
    assert december.returncode == 1
    assert "schedule of 2027 has not been imported" in december.stderr
    out = run(["calendar", "import", str(EXAMPLE_2027)], env)
    assert out.returncode == 0, out.stderr
    assert "imported 2027" in out.stdout and "due dates recomputed" in out.stdout
    after = run(["calendar", "status"], {**env, "YIBAO_TODAY": "2026-12-07"})
    assert after.returncode == 0, after.stderr
    assert "official schedules: 2004-2027" in after.stdout
