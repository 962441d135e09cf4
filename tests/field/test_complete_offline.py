"""当场办结 on a field laptop: completed at the village, and completed centrally after the sync."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.field.test_field import central, intake, make_laptop, rows, sync

pytestmark = pytest.mark.slow
__all__ = ["central"]  # the central node fixture, shared with the other field journeys


def test_an_instant_item_completed_offline_arrives_completed(central, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    laptop = make_laptop(tmp_path, central.url, "team_m01")
    laptop.start()
    try:
        h = laptop.token("team_m01")
        done = intake(laptop, h, 9101, "M01", service_code="resident_enrolment", complete_now=True)
        assert done["state"] == "completed"
        # The laptop refuses it for an item with a time limit, as the central node would.
        r = httpx.post(
            laptop.url + "/api/v1/cases",
            json={
                "service_code": "outpatient_reimbursement_small",
                "station_code": "M01",
                "channel": "mobile",
                "materials": ["id_card"],
                "applicant": {
                    "id_number": done["applicant"]["id_number"],
                    "name": "赵六",
                    "phone": "13700000000",
                },
                "complete_now": True,
            },
            headers=h,
            timeout=30,
        )
        assert r.status_code == 422
    finally:
        laptop.stop()
    out = sync(laptop)
    assert out.returncode == 0, out.stderr
    central_no = rows(
        laptop.home / "yibao.sqlite3",
        f"SELECT central_case_no FROM field_queue WHERE local_case_no = '{done['case_no']}'",
    )[0][0]
    officer = central.token("officer")
    got = httpx.get(central.url + f"/api/v1/cases/{central_no}", headers=officer).json()
    assert got["state"] == "completed" and got["closed_date"] == done["closed_date"]
    events = httpx.get(central.url + f"/api/v1/cases/{central_no}/events", headers=officer).json()
    assert [e["action"] for e in events] == ["intake", "complete"]
    assert events[1]["detail"]["at_intake"] is True
