"""The citizen lookup is bound per case number (10 wrong tails a day), not only per address.

From changing addresses all 10,000 tails of one case could be tried; now the 11th try of the
day, right or wrong, on a known or an unknown number, gets the same "ask at a station" answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import intake_body
from tests.conftest import Node
from yibao.runtime import Runtime
from yibao.web.app import create_app

JSON = {"Accept": "application/json"}
PAUSED = "今日在线查询已暂停"


def _case(client: TestClient, login: Any) -> tuple[str, str, str]:
    case = client.post("/api/v1/cases", json=intake_body(), headers=login("clerk_f01")).json()
    tail = case["applicant"]["id_number"][-4:]
    wrong = "0000" if tail != "0000" else "1111"
    return case["case_no"], tail, wrong


def _get(client: TestClient, case_no: str, tail: str, addr: str = "") -> Any:
    headers = {**JSON, **({"X-Forwarded-For": addr} if addr else {})}
    return client.get(f"/public/cases/{case_no}?id_tail={tail}", headers=headers)


def test_eleventh_tail_of_a_day_is_refused_right_or_wrong(client: TestClient, login: Any) -> None:
    case_no, tail, wrong = _case(client, login)
    # Ten wrong tails, each from "another address" (an untrusted peer's X-Forwarded-For).
    codes = [_get(client, case_no, wrong, f"198.51.100.{i}").status_code for i in range(10)]
    assert codes == [404] * 10
    right = _get(client, case_no, tail, "198.51.100.77")
    again_wrong = _get(client, case_no, wrong, "198.51.100.78")
    assert right.status_code == again_wrong.status_code == 429
    assert right.json() == again_wrong.json()
    assert PAUSED in right.json()["message_zh"] and "服务站" in right.json()["message_zh"]
    assert right.json()["type"].endswith("/lookup_paused")
    # The phone page (the tail posted in the form) says the same, in Chinese.
    page = client.post(f"/public/cases/{case_no}", data={"id_tail": tail})
    assert page.status_code == 429 and PAUSED in page.text
    assert "张*" not in page.text  # nothing of the case is shown
    typed = client.post("/public/cases", data={"case_no": case_no, "id_tail": tail})
    assert typed.status_code == 429 and PAUSED in typed.text


def test_unknown_numbers_pause_the_same_way(client: TestClient, login: Any) -> None:
    case_no, tail, wrong = _case(client, login)
    for _ in range(10):
        _get(client, case_no, wrong)
    known = _get(client, case_no, tail)
    for _ in range(10):
        assert _get(client, "202699990000001", "1234").status_code == 404
    unknown = _get(client, "202699990000001", "1234")
    assert unknown.status_code == known.status_code == 429
    assert unknown.json() == known.json()


def test_right_tails_do_not_use_up_the_bound_and_it_ends_after_a_day(
    client: TestClient, clean: Node, login: Any
) -> None:
    case_no, tail, wrong = _case(client, login)
    for _ in range(9):
        assert _get(client, case_no, wrong).status_code == 404
    for _ in range(5):
        assert _get(client, case_no, tail).status_code == 200
    assert _get(client, case_no, wrong).status_code == 404  # the 10th wrong one
    assert _get(client, case_no, tail).status_code == 429
    clean.clock.now += timedelta(days=2)
    assert _get(client, case_no, tail).status_code == 200


def test_rating_by_json_counts_and_honours_the_bound(client: TestClient, login: Any) -> None:
    case_no, tail, wrong = _case(client, login)
    for _ in range(10):
        r = client.post(f"/public/cases/{case_no}/rating", json={"id_tail": wrong, "overall": 5})
        assert r.status_code in (404, 422), r.text
    assert _get(client, case_no, tail).status_code == 429
    r = client.post(f"/public/cases/{case_no}/rating", json={"id_tail": tail, "overall": 5})
    assert r.status_code == 429 and r.json()["type"].endswith("/lookup_paused")


def test_forwarded_for_from_an_untrusted_peer_resets_no_limit(clean: Node, login: Any) -> None:
    settings = clean.settings.model_copy(update={"public_rate_per_minute": 3})
    app = create_app(settings=settings, runtime=clean.runtime)
    with TestClient(app) as c:
        codes = [
            c.get(
                f"/public/cases/20269999000000{i}?id_tail=1234",
                headers={**JSON, "X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(4)
        ]
    assert codes == [404, 404, 404, 429]


def test_trusted_proxy_addresses_still_share_the_case_bound(clean: Node, login: Any) -> None:
    """Behind a trusted proxy every citizen has their own address, and still one case's
    count is shared by all of them."""
    settings = clean.settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    app = create_app(runtime=Runtime(settings, clean.runtime.db, clock=clean.clock))
    with TestClient(app, client=("10.0.0.5", 40000)) as c:
        case_no, tail, wrong = _case(c, login)
        codes = [_get(c, case_no, wrong, f"198.51.100.{i}").status_code for i in range(10)]
        assert codes == [404] * 10
        assert _get(c, case_no, tail, "198.51.100.200").status_code == 429
