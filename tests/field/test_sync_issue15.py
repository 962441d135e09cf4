"""Issue 15 through real processes: concurrent syncs, a central death between apply and answer,
the printed L… number after sync, the capture time of offline actions, the sync lock."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.field.test_field import (
    PASSWORD,
    YIBAO,
    Proc,
    _cli,
    central,
    intake,
    make_laptop,
    rows,
    sync,
)

pytestmark = pytest.mark.slow
__all__ = ["central"]


def _db(laptop: Proc) -> Path:
    return laptop.home / "yibao.sqlite3"


def _act(laptop: Proc, h: dict[str, str], case: dict, action: str) -> dict:
    r = httpx.post(
        laptop.url + f"/api/v1/cases/{case['case_no']}/actions",
        json={"action": action, "version": case["version"]},
        headers=h,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_two_syncs_at_once_over_100_completions_invent_no_conflict(
    central: Proc, tmp_path: Path
) -> None:
    officer = central.token("officer")
    clerk = central.token("team_m01")
    made = []
    for i in range(100):
        r = httpx.post(
            central.url + "/api/v1/cases",
            json={
                "service_code": "resident_enrolment",
                "station_code": "M01",
                "channel": "mobile",
                "materials": ["id_card"],
                "applicant": {
                    "id_number": _id(i),
                    "name": "赵六",
                    "phone": "13700000000",
                },
            },
            headers=clerk,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    r = httpx.post(central.url + "/api/v1/field/devices", json={"label": "race"}, headers=clerk)
    device = {"Authorization": f"Bearer {r.json()['device_token']}"}
    records = [
        {
            "client_id": str(uuid.uuid4()),
            "kind": "action",
            "payload": {"case_no": c["case_no"], "action": "complete", "version": c["version"]},
        }
        for c in made
    ]
    answers: list[list[dict]] = []

    def send() -> None:
        got = []
        for start in range(0, 100, 50):
            r = httpx.post(
                central.url + "/api/v1/field/sync",
                json={"records": records[start : start + 50]},
                headers=device,
                timeout=300,
            )
            assert r.status_code == 200, r.text
            got += r.json()["results"]
        answers.append(got)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2
    for got in answers:
        assert [a["status"] for a in got] == ["accepted"] * 100, [
            a for a in got if a["status"] != "accepted"
        ][:3]
    conflicts = rows(
        central.home / "yibao.sqlite3",
        "SELECT count(*) FROM field_receipts WHERE status = 'conflict'",
    )[0][0]
    assert conflicts == 0
    for c in made[:5]:
        got = httpx.get(central.url + f"/api/v1/cases/{c['case_no']}", headers=officer).json()
        assert got["state"] == "completed"


def _id(i: int) -> str:
    from tests.api.helpers import make_id

    return make_id(seq=7000 + i)


def test_the_laptop_runs_one_sync_at_a_time_with_a_clear_message(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    laptop.start()
    try:
        h = laptop.token("team_m01")
        taken = [
            intake(laptop, h, 8000 + i, "M01", service_code="resident_enrolment")
            for i in range(100)
        ]
    finally:
        laptop.stop()
    assert sync(laptop).returncode == 0
    laptop.start()
    try:
        h = laptop.token("team_m01")
        for c in taken:
            _act(laptop, h, {"case_no": c["case_no"], "version": c["version"]}, "complete")
    finally:
        laptop.stop()
    # While a sync holds the laptop's lock, another one says so and sends nothing.
    with open(str(_db(laptop)) + ".sync-lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = sync(laptop)
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert busy.returncode != 0
    assert "another sync is already running on this laptop" in busy.stderr
    assert (
        rows(_db(laptop), "SELECT count(*) FROM field_queue WHERE status = 'pending'")[0][0] == 100
    )
    # Two `yibao field sync` at once over the 100 completions.
    procs = [
        subprocess.Popen(
            [*YIBAO, "field", "sync", "--password-stdin"],
            env={**os.environ, **laptop.env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(PASSWORD + "\n", timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes
    for code, (_out, err) in zip(codes, outs, strict=True):
        if code != 0:
            assert "another sync is already running on this laptop" in err
            assert "本机已有一次同步在进行" in err
    statuses = dict(rows(_db(laptop), "SELECT status, count(*) FROM field_queue GROUP BY status"))
    assert statuses == {"acked": 200}
    assert (
        rows(
            central.home / "yibao.sqlite3",
            "SELECT count(*) FROM field_receipts WHERE status = 'conflict'",
        )[0][0]
        == 0
    )


def test_a_replay_after_central_died_between_apply_and_answer_is_the_stored_answer(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m02")
    laptop.start()
    try:
        h = laptop.token("team_m02")
        case = intake(laptop, h, 8500, "M02", service_code="resident_enrolment")
    finally:
        laptop.stop()
    assert sync(laptop).returncode == 0
    laptop.start()
    try:
        _act(laptop, laptop.token("team_m02"), case, "complete")
    finally:
        laptop.stop()
    central.stop()
    central.env["YIBAO_TEST_FAULT"] = "after_action"
    central.start()
    try:
        died = sync(laptop)
        assert died.returncode != 0  # the central node died before it answered
    finally:
        central.stop()
        del central.env["YIBAO_TEST_FAULT"]
        central.start()
    again = sync(laptop)
    assert again.returncode == 0, again.stderr
    assert "conflicts 0" in again.stdout
    statuses = dict(rows(_db(laptop), "SELECT status, count(*) FROM field_queue GROUP BY status"))
    assert statuses == {"acked": 2}
    got = httpx.get(
        central.url + f"/api/v1/cases/{case['case_no']}", headers=central.token("officer")
    ).json()
    assert got["state"] == "completed"


def _page_login(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/login")
    token = next(v for k, v in client.cookies.items() if "csrf" in k.lower())
    r = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code in (200, 303), r.text
    return client


def test_the_printed_local_number_works_after_sync(central: Proc, tmp_path: Path) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    laptop.start()
    try:
        h = laptop.token("team_m01")
        case = intake(laptop, h, 8600, "M01")
    finally:
        laptop.stop()
    printed = case["case_no"]
    assert printed.startswith("L")
    assert sync(laptop).returncode == 0
    tail = case["applicant"]["id_number"][-4:]
    # The citizen's lookup with the number on the receipt (and its QR code).
    r = httpx.get(
        central.url + f"/public/cases/{printed}",
        params={"id_tail": tail},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["case_no"] == printed
    page = httpx.get(central.url + f"/public/cases/{printed}", params={"id_tail": tail})
    assert page.status_code == 200 and printed in page.text
    # The staff search finds it by the same number.
    staff = _page_login(central.url, "officer")
    try:
        found = staff.get("/cases", params={"q": printed})
        assert found.status_code == 200 and printed in found.text
    finally:
        staff.close()
    # And the laptop shows the same number.
    assert rows(_db(laptop), f"SELECT count(*) FROM cases WHERE case_no = '{printed}'")[0][0] == 1


def test_an_action_captured_friday_and_synced_monday_counts_on_time(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m02")
    laptop.start()
    try:
        h = laptop.token("team_m02")
        # Friday 2026-12-04 in the village: an instant item, due that day.
        case = intake(
            laptop,
            h,
            8700,
            "M02",
            service_code="resident_enrolment",
            captured_at="2026-12-04T10:00:00+08:00",
        )
        assert case["due_date"] == "2026-12-04"
        _act(laptop, h, case, "complete")
    finally:
        laptop.stop()
    # The laptop's clock cannot be set back: date the queued completion Friday, as it was.
    con = sqlite3.connect(_db(laptop))
    ((qid, payload),) = con.execute("SELECT id, payload FROM field_queue WHERE kind = 'action'")
    body = json.loads(payload)
    assert "captured_at" in body  # the laptop stamps every action
    body["captured_at"] = "2026-12-04T11:30:00+08:00"
    con.execute("UPDATE field_queue SET payload = ? WHERE id = ?", (json.dumps(body), qid))
    con.commit()
    con.close()
    out = sync(laptop)  # Monday
    assert out.returncode == 0, out.stderr
    officer = central.token("officer")
    got = httpx.get(central.url + f"/api/v1/cases/{case['case_no']}", headers=officer).json()
    assert got["state"] == "completed"
    assert got["closed_date"] == "2026-12-04"
    events = httpx.get(
        central.url + f"/api/v1/cases/{case['case_no']}/events", headers=officer
    ).json()
    assert events[-1]["action"] == "complete"
    assert events[-1]["at"].startswith("2026-12-04T03:30")
    assert events[-1]["detail"]["on_time"] is True


def test_an_action_captured_in_the_future_is_refused_and_kept(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    laptop.start()
    try:
        h = laptop.token("team_m01")
        case = intake(laptop, h, 8800, "M01", service_code="resident_enrolment")
        _act(laptop, h, case, "complete")
    finally:
        laptop.stop()
    con = sqlite3.connect(_db(laptop))
    ((qid, payload),) = con.execute("SELECT id, payload FROM field_queue WHERE kind = 'action'")
    body = json.loads(payload)
    body["captured_at"] = "2099-01-01T00:00:00+08:00"
    con.execute("UPDATE field_queue SET payload = ? WHERE id = ?", (json.dumps(body), qid))
    con.commit()
    con.close()
    assert sync(laptop).returncode == 0
    ((status, reason),) = rows(
        _db(laptop), "SELECT status, reason FROM field_queue WHERE kind = 'action'"
    )
    assert status == "quarantined" and "future" in reason


def test_refresh_brings_a_fresh_bundle_and_token_and_keeps_the_queue(
    central: Proc, tmp_path: Path
) -> None:
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    laptop.start()
    try:
        h = laptop.token("team_m01")
        offline = intake(laptop, h, 8900, "M01")
    finally:
        laptop.stop()
    queue_before = rows(_db(laptop), "SELECT client_id, status, payload FROM field_queue")
    token_before = rows(_db(laptop), "SELECT device_token FROM field_state")[0][0]
    # Centrally, after the laptop was set up: a new case of the station waits for materials.
    clerk = central.token("team_m01")
    services = httpx.get(central.url + "/api/v1/services", headers=clerk).json()
    item = next(s for s in services if s["code"] == "outpatient_reimbursement_small")
    r = httpx.post(
        central.url + "/api/v1/cases",
        json={
            "service_code": item["code"],
            "station_code": "M01",
            "channel": "mobile",
            "materials": [],
            "applicant": {"id_number": _id(950), "name": "钱七", "phone": "13700000001"},
        },
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    waiting = r.json()
    missing = [m if isinstance(m, str) else m["code"] for m in item["materials"]]
    r = httpx.post(
        central.url + f"/api/v1/cases/{waiting['case_no']}/actions",
        json={"action": "request_materials", "version": 1, "missing_materials": missing},
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    assert not rows(_db(laptop), f"SELECT 1 FROM cases WHERE case_no = '{waiting['case_no']}'")

    out = _cli(["field", "refresh", "--password-stdin"], laptop.env, PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert "device token renewed" in out.stdout
    assert rows(_db(laptop), "SELECT client_id, status, payload FROM field_queue") == queue_before
    assert rows(_db(laptop), "SELECT device_token FROM field_state")[0][0] != token_before
    ((state, version),) = rows(
        _db(laptop), f"SELECT state, version FROM cases WHERE case_no = '{waiting['case_no']}'"
    )
    assert state == "materials_pending" and version == 2
    # Refreshing again changes nothing twice, and the queue still syncs with the new token.
    again = _cli(["field", "refresh", "--password-stdin"], laptop.env, PASSWORD + "\n")
    assert again.returncode == 0, again.stderr
    assert rows(_db(laptop), "SELECT count(*) FROM cases")[0][0] == 2
    assert sync(laptop).returncode == 0
    assert rows(
        _db(laptop), f"SELECT status FROM field_queue WHERE local_case_no = '{offline['case_no']}'"
    ) == [("acked",)]
    wrong = _cli(["field", "refresh", "--password-stdin"], laptop.env, "not-it\n")
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr
