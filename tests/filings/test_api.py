"""The filing registry through its JSON API and service, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
from sqlalchemy import select

from tests.api.helpers import make_id
from tests.conftest import FIXED_NOW, Node
from tests.filings.conftest import Api, file, filing_body
from yibao.audit.models import AuditRecord
from yibao.cases.models import CaseEvent
from yibao.filings import service
from yibao.filings.models import Filing

TODAY = date(2026, 9, 29)


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return {e["field"] for e in r.json().get("errors", [])}


def audits(node: Node, action: str) -> list[AuditRecord]:
    with node.runtime.db.session() as s:
        return list(
            s.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
            )
        )


def test_clerk_files_on_the_spot_and_the_case_completes(api: Api, clean: Node) -> None:
    f = file(api)
    assert f["state"] == "active" and f["action"] == "file"
    assert f["start_date"] == TODAY.isoformat()
    assert f["end_date"] == "2027-03-28"  # 6 months, the start day included
    assert f["destination"]["city_name"] == "成都市"
    assert "*" in f["person"]["id_number"] and len(f["person"]["id_number"]) == 18
    case = api("clerk_f01", "GET", f"/api/v1/cases/{f['case_no']}").json()
    assert case["state"] == "completed"
    assert case["service_code"] == "remote_care_filing"
    assert case["station_code"] == "F01"
    assert case["closed_date"] == TODAY.isoformat()
    assert "remote_care_proof" in case["materials_received"]
    events = api("clerk_f01", "GET", f"/api/v1/cases/{f['case_no']}/events").json()
    assert [e["action"] for e in events] == ["intake", "complete"]
    assert {e["actor"]["role"] for e in events} == {"clerk"}
    for action in ("filing.create", "case.intake", "case.complete"):
        (record,) = audits(clean, action)
        assert record.actor_name == "clerk_f01" and record.actor_id is not None


def test_long_term_has_no_end_and_cannot_take_one(api: Api, clean: Node) -> None:
    f = file(api, kind="retired_elsewhere", province="460000", city="460200", basis="commitment")
    assert f["end_date"] is None and f["long_term"] is True
    assert f["locked_until"] == "2027-03-29"
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/filings",
        json=filing_body(kind="stationed_work", end_date="2027-12-31"),
    )
    assert r.status_code == 422 and fields(r) == {"end_date"}


def test_every_bad_field_is_named_at_once(api: Api, clean: Node) -> None:
    body = filing_body(
        person={"id_number": "500118195304120000", "name": "1", "phone": "12"},
        province="440000",
        city="510100",  # 成都 is not in 广东
        basis="proof",
        documents=[],
        start_date=(TODAY - timedelta(days=3)).isoformat(),  # past, no admission date
    )
    r = api("clerk_f01", "POST", "/api/v1/filings", json=body)
    assert r.status_code == 422
    assert fields(r) == {
        "person.id_number",
        "person.name",
        "person.phone",
        "city",
        "documents",
        "start_date",
    }
    zh = {e["field"]: e.get("message_zh", "") for e in r.json()["errors"]}
    assert "不属于所选省份" in zh["city"]


def test_rules_refused_with_the_field(api: Api, clean: Node) -> None:
    cases = [
        ({"city": "500100", "province": "500000"}, "city"),  # home pooling region
        ({"end_date": "2027-03-01"}, "end_date"),  # under 6 months
        ({"settled": True, "admission_date": "2026-09-20"}, "settled"),
        ({"admission_date": "2026-10-20"}, "admission_date"),
        ({"kind": "emergency", "start_date": "2026-10-02"}, "start_date"),
        ({"kind": "nope"}, "kind"),
        ({"basis": "promise"}, "basis"),
        ({"province": "990000"}, "province"),
    ]
    for over, field in cases:
        r = api("clerk_f01", "POST", "/api/v1/filings", json=filing_body(**over))
        assert r.status_code == 422, (over, r.text)
        assert field in fields(r), (over, r.json())


def test_after_admission_and_emergency_after_the_fact(api: Api, clean: Node) -> None:
    admitted = (TODAY - timedelta(days=12)).isoformat()
    f = file(api, admission_date=admitted)
    assert f["start_date"] == admitted and f["admission_date"] == admitted
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/filings",
        json=filing_body(admission_date=admitted, start_date="2026-09-01"),
    )
    assert r.status_code == 422 and fields(r) == {"start_date"}
    # An emergency counts as filed: recorded after the stay, even when already settled.
    e = file(api, kind="emergency", start_date="2026-08-15", settled=True, basis="commitment")
    assert e["start_date"] == "2026-08-15" and e["state"] == "active"


def test_commitment_once_at_a_time_and_locked_six_months(api: Api, clean: Node) -> None:
    person = {"id_number": make_id(), "name": "王德明", "phone": "13800000001"}
    first = file(
        api,
        person=person,
        kind="retired_elsewhere",
        basis="commitment",
        documents=[],
        province="460000",
        city="460200",
    )
    r = api(
        "clerk_f02",
        "POST",
        "/api/v1/filings",
        json=filing_body(person=person, basis="commitment", province="440000", city="440300"),
    )
    assert r.status_code == 422 and fields(r) == {"basis"}
    # With proof a second filing is allowed.
    file(api, "clerk_f02", person=person, province="440000", city="440300")
    no = first["filing_no"]
    change = {
        "version": first["version"],
        "reason": "搬家",
        "kind": "referral",
        "basis": "commitment",
        "province": "460000",
        "city": "460200",
    }
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/change", json=change)
    assert r.status_code == 422 and fields(r) == {"basis"}
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/cancel", json={"version": 1, "reason": "x"})
    assert r.status_code == 422 and "6个月" in r.json()["errors"][0]["message_zh"]
    # Six months on, the change goes through: a new record, the old one kept as 已变更.
    clean.clock.now = FIXED_NOW + timedelta(days=183)
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/change", json=change)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["action"] == "change" and new["state"] == "active"
    old = api("clerk_f01", "GET", f"/api/v1/filings/{no}").json()
    assert old["state"] == "changed"
    assert [c["filing_no"] for c in old["chain"]] == [no, new["filing_no"]]
    # The changed one cannot be changed again (only an active one).
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/change", json={**change, "version": 2})
    assert r.status_code == 422 and r.json()["allowed"] == []


def test_cancel_is_a_new_record_and_stale_versions_conflict(api: Api, clean: Node) -> None:
    f = file(api)
    no = f["filing_no"]
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/cancel", json={"version": 1, "reason": " "})
    assert r.status_code == 422 and fields(r) == {"reason"}
    r = api("clerk_f01", "POST", f"/api/v1/filings/{no}/cancel", json={"version": 7, "reason": "x"})
    assert r.status_code == 409
    r = api(
        "clerk_f01", "POST", f"/api/v1/filings/{no}/cancel", json={"version": 1, "reason": "不去了"}
    )
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["action"] == "cancel" and record["state"] == "cancelled"
    assert record["reason"] == "不去了"
    old = api("officer", "GET", f"/api/v1/filings/{no}").json()
    assert old["state"] == "cancelled" and old["ended_date"] == TODAY.isoformat()
    assert len(audits(clean, "filing.cancel")) == 1


def test_who_may_file_and_read(api: Api, clean: Node) -> None:
    f = file(api)
    no = f["filing_no"]
    assert file(api, "clerk_m01")["station_code"] == "M01"  # mobile stations may too
    assert api("officer", "POST", "/api/v1/filings", json=filing_body()).status_code == 403
    for user in ("auditor", "admin"):
        assert api(user, "GET", "/api/v1/filings").status_code == 403
        assert api(user, "GET", f"/api/v1/filings/{no}").status_code == 403
    # Another station neither lists nor opens it ...
    assert api("clerk_f02", "GET", f"/api/v1/filings/{no}").status_code == 404
    listed = api("clerk_f02", "GET", "/api/v1/filings").json()["items"]
    assert no not in {i["filing_no"] for i in listed}
    # ... but finds it with the person's full ID number, and that read is audited.
    with clean.runtime.db.session() as s:
        full = s.scalar(select(Filing.person_id_number).where(Filing.filing_no == no))
    r = api("clerk_f02", "POST", "/api/v1/filings/lookup", json={"id_number": full})
    assert [i["filing_no"] for i in r.json()["items"]] == [no]
    assert len(audits(clean, "filing.lookup")) == 1
    bad = api("clerk_f02", "POST", "/api/v1/filings/lookup", json={"id_number": "123"})
    assert bad.status_code == 422 and fields(bad) == {"id_number"}
    # The agency sees everything.
    assert {
        i["filing_no"] for i in api("supervisor", "GET", "/api/v1/filings").json()["items"]
    } >= {no}


def test_list_is_paged_and_filtered(api: Api, clean: Node) -> None:
    made = [file(api)["filing_no"] for _ in range(3)]
    made.append(file(api, kind="retired_elsewhere", province="460000", city="460200")["filing_no"])
    page = api("officer", "GET", "/api/v1/filings?limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api("officer", "GET", f"/api/v1/filings?limit=2&cursor={page['next_cursor']}").json()
    seen = [i["filing_no"] for i in page["items"] + rest["items"]]
    assert sorted(seen) == sorted(made) and rest["next_cursor"] is None
    hainan = api("officer", "GET", "/api/v1/filings?province=460000").json()["items"]
    assert [i["kind"] for i in hainan] == ["retired_elsewhere"]
    for q, field in (
        ("state=open", "state"),
        ("kind=x", "kind"),
        ("province=12", "province"),
        ("station=ZZZ", "station"),
        ("cursor=abc", "cursor"),
        ("station=%00", "station"),
        ("kind=%00", "kind"),
    ):
        r = api("officer", "GET", f"/api/v1/filings?{q}")
        assert r.status_code == 422 and fields(r) == {field}, q
    assert api("officer", "GET", "/api/v1/filings?limit=0").status_code == 422


def test_daily_job_expires_and_lists_expiring(api: Api, clean: Node) -> None:
    short = file(api)  # ends 2027-03-28
    longer = file(api, end_date="2027-04-20")
    file(api, kind="long_term_residence", province="440000", city="440300")
    clean.clock.now = datetime(2027, 3, 30, 2, 0, tzinfo=UTC)
    with clean.runtime.db.uow() as uow:
        report = service.expire(uow, runtime=clean.runtime)
    assert [f.filing_no for f in report.expired] == [short["filing_no"]]
    assert [f.filing_no for f in report.expiring] == [longer["filing_no"]]
    assert api("officer", "GET", f"/api/v1/filings/{short['filing_no']}").json()["state"] == (
        "expired"
    )
    soon = api("officer", "GET", "/api/v1/filings?expiring=true").json()["items"]
    assert [i["filing_no"] for i in soon] == [longer["filing_no"]]
    assert len(audits(clean, "filing.expire")) == 1
    with clean.runtime.db.uow() as uow:  # run again: nothing more to do
        assert service.expire(uow, runtime=clean.runtime).expired == []


def test_export_for_the_settlement_system(api: Api, clean: Node) -> None:
    f = file(api, documents=["=HYPERLINK(1)"])
    ended = file(api)
    api(
        "clerk_f01",
        "POST",
        f"/api/v1/filings/{ended['filing_no']}/cancel",
        json={"version": 1, "reason": "取消"},
    )
    assert api("clerk_f01", "GET", "/api/v1/filings/export").status_code == 403
    r = api("officer", "GET", "/api/v1/filings/export?format=csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["备案编号", "身份证号码", "姓名"]
    assert [row[0] for row in rows[1:]] == [f["filing_no"]]  # only the active registry
    assert len(rows[1][1]) == 18 and "*" not in rows[1][1]  # the full number
    assert rows[1][13].startswith("'=")  # never a formula
    x = api("supervisor", "GET", "/api/v1/filings/export?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    assert sheet["A2"].value == f["filing_no"] and sheet["B2"].value == rows[1][1]
    assert api("officer", "GET", "/api/v1/filings/export?format=pdf").status_code == 422
    assert [a.detail["format"] for a in audits(clean, "filing.export")] == ["csv", "xlsx"]


def test_a_repeated_submit_files_once(api: Api, clean: Node) -> None:
    body = filing_body()
    headers = {"Idempotency-Key": "form-1"}
    a = api("clerk_f01", "POST", "/api/v1/filings", json=body, headers=headers)
    b = api("clerk_f01", "POST", "/api/v1/filings", json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["filing_no"] == b.json()["filing_no"]
    with clean.runtime.db.session() as s:
        assert len(list(s.scalars(select(Filing)))) == 1
        assert len(list(s.scalars(select(CaseEvent)))) == 2


def test_odd_input_never_breaks_the_api(api: Api, clean: Node) -> None:
    bodies = [
        {},
        {"person": "x"},
        filing_body(kind=None),
        filing_body(documents="a"),
        filing_body(start_date="2026-02-30"),
        filing_body(city="5" * 500),
        filing_body(documents=["x" * 41]),
        filing_body(documents=[str(i) for i in range(7)]),
        filing_body(extra=1),
        filing_body(end_date="9999-12-31"),
        filing_body(start_date="0001-01-01"),
        filing_body(documents=["a\x00b"]),
        filing_body(note="x\x00"),
        filing_body(person={"id_number": make_id(), "name": "张\x00三", "phone": "13800138000"}),
    ]
    for body in bodies:
        r = api("clerk_f01", "POST", "/api/v1/filings", json=body)
        assert r.status_code == 422, (body, r.text)
    assert api("clerk_f01", "POST", "/api/v1/filings", content=b"{").status_code in (400, 422)
    for url in ("/api/v1/filings/nope", "/api/v1/filings/%00", "/api/v1/filings/" + "9" * 300):
        assert api("officer", "GET", url).status_code == 404
    r = api("clerk_f01", "POST", "/api/v1/filings/nope/cancel", json={"version": 1, "reason": "x"})
    assert r.status_code == 404
    no = file(api)["filing_no"]
    r = api(
        "clerk_f01", "POST", f"/api/v1/filings/{no}/cancel", json={"version": 1, "reason": "\x00"}
    )
    assert r.status_code == 422 and fields(r) == {"reason"}
    r = api("officer", "GET", "/api/v1/filings/destinations").json()
    assert len(r["provinces"]) == 31
