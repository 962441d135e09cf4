"""The 异地就医备案 panel appears on a case page only where a filing matters (docs/filings.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from tests.filings.conftest import Api, file
from tests.web.conftest import Browser
from yibao.filings import panel
from yibao.filings.rules import State

PANEL = 'class="filings-panel"'


def case_page(api: Api, browser: Callable[[str], Browser], id_number: str, **over: object) -> str:
    body = intake_body(applicant={"id_number": id_number, "name": "何淑芬", "phone": "13700002222"})
    body.update(over)
    case = api("clerk_f01", "POST", "/api/v1/cases", json=body)
    assert case.status_code == 201, case.text
    return str(browser("clerk_f01").get(f"/cases/{case.json()['case_no']}").text)


def test_no_panel_on_a_certificate_of_a_person_without_filings(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    page = case_page(api, browser, make_id())
    assert PANEL not in page and "异地就医备案" not in page


def test_the_panel_on_the_filing_item_and_on_reimbursements(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    for service, materials in (
        ("remote_care_filing", ["id_card"]),
        ("inpatient_reimbursement", ["id_card"]),
        ("outpatient_reimbursement_small", ["id_card"]),
    ):
        page = case_page(api, browser, make_id(), service_code=service, materials=materials)
        assert PANEL in page and "暂无该参保人的异地就医备案" in page, service


def test_a_filing_in_force_shows_on_any_case_of_the_person(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    id_number = make_id()
    filing = file(api, person={"id_number": id_number, "name": "何淑芬", "phone": "13700002222"})
    page = case_page(api, browser, id_number)  # a certificate
    assert PANEL in page and filing["filing_no"] in page


def test_a_cancelled_filing_alone_does_not(
    api: Api, browser: Callable[[str], Browser], clean: Node
) -> None:
    id_number = make_id()
    filing = file(api, person={"id_number": id_number, "name": "何淑芬", "phone": "13700002222"})
    r = api(
        "clerk_f01",
        "POST",
        f"/api/v1/filings/{filing['filing_no']}/cancel",
        json={"version": 1, "reason": "不去了"},
    )
    assert r.status_code == 200, r.text
    assert PANEL not in case_page(api, browser, id_number)
    # On a reimbursement the history still shows, cancelled record included.
    page = case_page(
        api, browser, id_number, service_code="inpatient_reimbursement", materials=["id_card"]
    )
    assert PANEL in page and filing["filing_no"] in page


STATES = st.sampled_from([s.value for s in State])
DAYS = st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 12, 31)))


@given(
    st.lists(st.tuples(STATES, DAYS), max_size=5), st.dates(date(2026, 1, 1), date(2027, 12, 31))
)
def test_the_rule(records: list[tuple[str, date | None]], today: date) -> None:
    holds = any(s == "active" and (end is None or end >= today) for s, end in records)
    assert panel.shows_panel("insurance_certificate", records, today) is holds
    assert panel.shows_panel("remote_care_filing", records, today) is True
    # An active filing ending yesterday no longer counts (the daily job may not have run yet).
    assert not panel.in_force("active", today - timedelta(days=1), today)
