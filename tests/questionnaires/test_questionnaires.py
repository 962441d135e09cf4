"""Questionnaires end to end on both backends: templates and versions, window and phone
responses, results with filters, the Excel export, and roles."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.api.helpers import intake_body
from tests.conftest import FIXED_NOW, Node
from tests.questionnaires.conftest import DEFINITION, answer
from yibao.audit.models import AuditRecord
from yibao.questionnaires.models import QuestionnaireResponse
from yibao.throttle.service import SharedRateLimiter


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _count(node: Node) -> int:
    with node.runtime.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(QuestionnaireResponse)) or 0)


# ---------------------------------------------------------------- templates


def test_standard_templates_load_once_and_roles_see_what_they_may(api, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser("supervisor").get("/questionnaires")
    assert "载入标准问卷" in page.text  # an empty node offers the standard templates
    assert "载入标准问卷" not in browser("officer").get("/questionnaires").text
    r = browser("supervisor").post("/questionnaires/load-standard", follow_redirects=False)
    assert r.status_code == 303
    r = api("supervisor", "POST", "/api/v1/questionnaires/load-standard")
    assert r.status_code == 409
    r = api("clerk_f01", "GET", "/api/v1/questionnaires")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and body["next_offset"] is None
    assert {t["kind"] for t in body["items"]} == {"awareness", "procedure", "evaluation"}
    assert all(t["current_version"] == 1 for t in body["items"])
    r = api("officer", "GET", "/api/v1/questionnaires?limit=2")
    assert r.json()["next_offset"] == 2
    for role in ("auditor", "admin"):
        assert api(role, "GET", "/api/v1/questionnaires").status_code == 403
    page = browser("clerk_f01").get("/questionnaires")
    assert "医保政策知晓度调查" in page.text and "医保政策评价调查" in page.text
    # clerks neither make nor publish templates
    r = api(
        "clerk_f01",
        "POST",
        "/api/v1/questionnaires/policy-awareness/versions",
        json={"definition": DEFINITION},
    )
    assert r.status_code == 403


def test_a_bad_definition_is_refused_naming_the_part(api, browser) -> None:  # type: ignore[no-untyped-def]
    bad = {
        "title": "x",
        "questions": [{"id": "a", "type": "single", "text": "q", "options": ["only"]}],
    }
    r = api(
        "officer",
        "POST",
        "/api/v1/questionnaires",
        json={"code": "Bad Code", "kind": "other", "definition": bad},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"code", "kind", "questions[0].options"}
    editor = browser("officer")
    r = editor.post(
        "/questionnaires/new",
        data={
            "code": "yaml-test",
            "kind": "awareness",
            "definition": "title: x\nquestions: [\n  - id",
        },
    )
    assert r.status_code == 422 and "YAML 格式错误" in r.text
    r = editor.post(
        "/questionnaires/new",
        data={
            "code": "yaml-test",
            "kind": "awareness",
            "definition": "title: 测试\nquestions:\n  - {id: q1, type: scale}\n",
        },
    )
    assert r.status_code == 422 and "questions[0].text" in r.text
    r = editor.post(
        "/questionnaires/new",
        data={
            "code": "yaml-test",
            "kind": "awareness",
            "definition": "title: 测试\nquestions:\n  - {id: q1, type: scale, text: 打分}\n",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/questionnaires/yaml-test")
    assert "草稿" in editor.get("/questionnaires/yaml-test").text


def test_versions_keep_old_answers_readable(api, browser, template: str, clean: Node) -> None:  # type: ignore[no-untyped-def]
    first = answer(api, "clerk_f01")
    assert first.status_code == 201, first.text
    rid = first.json()["id"]
    assert first.json()["answers"][0]["display"] == "快"
    # a published version never changes: editing makes version 2
    v2 = {
        "title": "窗口服务满意度（修订）",
        "questions": [
            {
                "id": "speed",
                "type": "single",
                "text": "等候时间多长？",
                "options": ["10分钟内", "半小时内", "更久"],
            },
            {"id": "score", "type": "scale", "text": "总体满意度"},
        ],
    }
    r = api(
        "supervisor",
        "POST",
        f"/api/v1/questionnaires/{template}/versions",
        json={"definition": v2, "note": "改题"},
    )
    assert r.status_code == 201 and (r.json()["version"], r.json()["state"]) == (2, "draft")
    assert (
        api(
            "supervisor", "POST", f"/api/v1/questionnaires/{template}/versions/1/publish"
        ).status_code
        == 422
    )
    r = api("supervisor", "POST", f"/api/v1/questionnaires/{template}/versions/2/publish")
    assert r.status_code == 200
    got = api("officer", "GET", f"/api/v1/questionnaires/{template}").json()
    assert got["current_version"] == 2
    assert {v["version"]: v["state"] for v in got["versions"]} == {1: "retired", 2: "published"}
    assert {v["version"]: v["responses"] for v in got["versions"]} == {1: 1, 2: 0}
    # answers now go to version 2 ...
    second = answer(api, "clerk_f02", answers={"speed": "3", "score": 2})
    assert second.status_code == 201 and second.json()["version"] == 2
    # ... while version 1's results and its response still show version 1's questions
    r = api("officer", "GET", f"/api/v1/questionnaires/{template}/results?version=1")
    res = r.json()
    assert res["responses"] == 1 and res["title"] == "窗口服务满意度"
    speed = res["questions"][0]
    assert speed["text"] == "办理速度如何？"
    assert [(o["label"], o["count"]) for o in speed["options"]] == [
        ("快", 1),
        ("一般", 0),
        ("慢", 0),
    ]
    assert [q["id"] for q in res["questions"]] == ["speed", "topics", "score", "words"]
    one = api("officer", "GET", f"/api/v1/questionnaires/{template}/responses/{rid}").json()
    assert one["version"] == 1 and one["answers"][0]["text"] == "办理速度如何？"
    assert one["answers"][1]["display"] == "门诊；备案"
    res2 = api("officer", "GET", f"/api/v1/questionnaires/{template}/results").json()
    assert res2["version"] == 2 and res2["responses"] == 1
    assert res2["questions"][0]["options"][2] == {
        "value": "3",
        "label": "更久",
        "count": 1,
        "share": 1.0,
    }
    page = browser("supervisor").get(f"/questionnaires/{template}/results?version=1")
    assert page.status_code == 200
    assert "办理速度如何？" in page.text and "等候时间多长？" not in page.text
    page = browser("supervisor").get(f"/questionnaires/{template}/responses/{rid}")
    assert "办理速度如何？" in page.text and "门诊；备案" in page.text
    with clean.runtime.db.session() as s:
        actions = sorted(
            s.scalars(select(AuditRecord.action).where(AuditRecord.object_type == "questionnaire"))
        )
    assert actions == [
        "questionnaire.create",
        "questionnaire.new_version",
        "questionnaire.publish",
        "questionnaire.publish",
        "questionnaire.response",  # one per answer given (two above)
        "questionnaire.response",
    ]
    # a retired version takes no more answers by default
    assert (
        api(
            "supervisor", "POST", f"/api/v1/questionnaires/{template}/versions/2/retire"
        ).status_code
        == 200
    )
    r = answer(api, "clerk_f01", answers={"speed": "1", "score": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "version"


# ---------------------------------------------------------------- at the window


def test_window_api_names_the_question_and_never_500s(api, template: str, clean: Node) -> None:  # type: ignore[no-untyped-def]
    r = answer(api, "clerk_f01", answers={"topics": ["9"], "score": 7})
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) == {"answers.speed", "answers.topics", "answers.score"}
    assert "第1题" in errors["answers.speed"]["message_zh"]
    for odd in (
        {"answers": []},
        {"answers": {"speed": {"x": 1}, "score": True}},
        {"answers": {"x" * 5000: 1}},
        {"answers": {}, "version": 0},
        {"answers": {}, "version": 99},
        {"answers": {}, "client_id": "not-a-uuid"},
        {"answers": {}, "answered_at": "2026-13-01"},
        {"answers": {"speed": "1", "score": 1}, "station_code": "F02"},
        {"answers": {"speed": "1", "score": 1}, "consent": True},
        {"answers": {"speed": "1", "score": 1}, "case_no": "20260929123"},
    ):
        r = api("clerk_f01", "POST", f"/api/v1/questionnaires/{template}/responses", json=odd)
        assert r.status_code in (404, 422), (odd, r.status_code, r.text)
    assert (
        api(
            "clerk_f01", "POST", "/api/v1/questionnaires/nope/responses", json={"answers": {}}
        ).status_code
        == 404
    )
    assert answer(api, "supervisor").status_code == 403
    assert answer(api, "auditor").status_code == 403
    assert _count(clean) == 0
    # a resend with the same client id is stored once
    body = {
        "answers": {"speed": "2", "score": 4},
        "client_id": "6f1c1f3e-8a52-4c61-9a3b-0e6c1d1b2a11",
    }
    assert (
        api(
            "clerk_f01", "POST", f"/api/v1/questionnaires/{template}/responses", json=body
        ).status_code
        == 201
    )
    assert (
        api(
            "clerk_f01", "POST", f"/api/v1/questionnaires/{template}/responses", json=body
        ).status_code
        == 200
    )
    other = {**body, "answers": {"speed": "3", "score": 4}}
    assert (
        api(
            "clerk_f01", "POST", f"/api/v1/questionnaires/{template}/responses", json=other
        ).status_code
        == 409
    )
    assert _count(clean) == 1


def test_window_page_links_a_case_only_with_consent(
    api, browser, template: str, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    clerk = browser("clerk_f01")
    page = clerk.get(f"/questionnaires/{template}/fill")
    assert page.status_code == 200 and "办理速度如何？" in page.text and "总体满意度" in page.text
    client_id = re.search(r'name="client_id" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = clerk.post(
        f"/questionnaires/{template}/fill",
        data={"version": "1", "q_topics": ["1"], "client_id": client_id},
    )
    assert r.status_code == 422
    assert "第1题「办理速度如何？」为必答题" in r.text and "第3题「总体满意度」为必答题" in r.text
    assert 'value="1" checked' in r.text  # the ticked choice survives the error
    case = api("clerk_f01", "POST", "/api/v1/cases", json=intake_body()).json()
    other = api("clerk_f02", "POST", "/api/v1/cases", json=intake_body(station_code="F02")).json()
    base = {"version": "1", "q_speed": "2", "q_score": "4", "q_words": "等了一会儿"}
    r = clerk.post(f"/questionnaires/{template}/fill", data={**base, "case_no": case["case_no"]})
    assert r.status_code == 422 and "关联办件须经本人同意" in r.text
    r = clerk.post(
        f"/questionnaires/{template}/fill",
        data={**base, "consent": "yes", "case_no": other["case_no"]},
    )
    assert r.status_code == 422 and "未找到该办件" in r.text
    assert _count(clean) == 0
    r = clerk.post(
        f"/questionnaires/{template}/fill",
        data={**base, "consent": "yes", "case_no": case["case_no"], "client_id": client_id},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "答卷已保存" in clerk.get(r.headers["location"]).text
    # the same form sent twice (a double click) is one response
    clerk.post(
        f"/questionnaires/{template}/fill",
        data={**base, "consent": "yes", "case_no": case["case_no"], "client_id": client_id},
    )
    assert _count(clean) == 1
    with clean.runtime.db.session() as s:
        row = s.scalar(select(QuestionnaireResponse))
        assert row is not None
        assert (row.case_no, row.consent, row.channel, row.station_code) == (
            case["case_no"],
            True,
            "window",
            "F01",
        )
        linked = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "questionnaire.response_linked")
        ).all()
        assert [a.detail["case_no"] for a in linked] == [case["case_no"]]
    case_page = clerk.get(f"/cases/{case['case_no']}")
    assert "与本办件关联的问卷" in case_page.text and "窗口服务满意度" in case_page.text
    clerk.post(f"/questionnaires/{template}/fill", data=base, follow_redirects=False)
    with clean.runtime.db.session() as s:
        anonymous = s.scalar(
            select(QuestionnaireResponse).where(QuestionnaireResponse.case_no.is_(None))
        )
        assert (
            anonymous is not None
            and anonymous.consent is False
            and anonymous.answers["words"] == "等了一会儿"
        )


# ---------------------------------------------------------------- on the phone


def _qr_link(browser, template: str, station: str = "F01") -> str:  # type: ignore[no-untyped-def]
    page = browser("supervisor").get(f"/questionnaires/{template}/qr?station={station}")
    assert page.status_code == 200 and "<svg" in page.text
    url = re.search(r"<title>(http[^<]+)</title>", page.text).group(1)  # type: ignore[union-attr]
    return url.replace("&amp;", "&").split("testserver", 1)[1]


def _token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_public_form_from_a_qr_code_stores_once(
    api, browser, client: TestClient, template: str, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    link = _qr_link(browser, template)
    assert "s=F01" in link
    phone = TestClient(client.app)  # no login
    page = phone.get(link)
    assert (
        page.status_code == 200
        and "办理速度如何？" in page.text
        and "永川医院医保服务站" in page.text
    )
    token = _token(page.text)
    r = phone.post(link, data={"token": token, "q_speed": "1"})
    assert r.status_code == 422 and "为必答题" in r.text
    data = {
        "token": token,
        "q_speed": "1",
        "q_topics": ["2", "3"],
        "q_score": "5",
        "q_words": "=1+1 扫码很方便",
    }
    r = phone.post(link, data=data)
    assert r.status_code == 200 and "感谢您的参与" in r.text
    assert phone.post(link, data=data).status_code == 200  # sent twice
    assert _count(clean) == 1
    with clean.runtime.db.session() as s:
        row = s.scalar(select(QuestionnaireResponse))
        assert row is not None
        assert (row.channel, row.station_code, row.taken_by, row.case_no) == (
            "qr",
            "F01",
            None,
            None,
        )
        assert row.answers["topics"] == ["2", "3"]
    # a forged station, a forged or missing token, an unknown questionnaire
    assert phone.get(link.replace("s=F01", "s=F02")).status_code == 404
    assert phone.post(link, data={**data, "token": token[:-3] + "abc"}).status_code == 400
    assert phone.post(link, data={"q_speed": "1"}).status_code == 400
    assert phone.get("/public/questionnaires/nope").status_code == 404
    # linking a case needs its number and the last 4 characters of the ID number
    body = intake_body()
    case = api("clerk_f01", "POST", "/api/v1/cases", json=body).json()
    fresh = _token(phone.get(link).text)
    linked = {
        "token": fresh,
        "q_speed": "2",
        "q_score": "4",
        "consent": "yes",
        "case_no": case["case_no"],
        "id_tail": "0000",
    }
    r = phone.post(link, data=linked)
    assert r.status_code == 422 and "身份证号后四位" in r.text
    r = phone.post(link, data={**linked, "id_tail": body["applicant"]["id_number"][-4:]})
    assert r.status_code == 200
    with clean.runtime.db.session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(QuestionnaireResponse)
                .where(QuestionnaireResponse.case_no == case["case_no"])
            )
            == 1
        )


def test_public_form_is_rate_limited(browser, client: TestClient, template: str) -> None:  # type: ignore[no-untyped-def]
    link = _qr_link(browser, template)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    client.app.state.public_limiter = SharedRateLimiter(  # type: ignore[attr-defined]
        runtime.db, agency=runtime.agency, scope=f"q-{uuid.uuid4().hex}", limit=2
    )
    phone = TestClient(client.app)
    assert phone.get(link).status_code == 200
    assert phone.get(link).status_code == 200
    r = phone.get(link)
    assert r.status_code == 429 and "过于频繁" in r.text


# ---------------------------------------------------------------- results


def test_results_filter_by_station_town_and_period(
    api, browser, template: str, clean: Node
) -> None:  # type: ignore[no-untyped-def]
    clean.clock.now = FIXED_NOW - timedelta(days=40)
    assert answer(api, "clerk_f01", answers={"speed": "3", "score": 1}).status_code == 201
    clean.clock.now = FIXED_NOW
    for user, speed, score in (
        ("clerk_f01", "1", 5),
        ("clerk_f02", "2", 4),
        ("clerk_v01", "1", 3),
        ("clerk_m01", "2", 2),
    ):
        assert (
            answer(
                api, user, answers={"speed": speed, "score": score, "words": f"{user}的意见"}
            ).status_code
            == 201
        )
    url = f"/api/v1/questionnaires/{template}/results"
    every = api("supervisor", "GET", url).json()
    assert every["responses"] == 5
    assert every["by_channel"] == {"window": 4, "mobile": 1}
    score = every["questions"][2]
    assert score["mean"] == 3.0 and [o["count"] for o in score["options"]] == [1, 1, 1, 1, 1]
    f01 = api("supervisor", "GET", url + "?station=F01").json()
    assert f01["responses"] == 2 and f01["questions"][0]["options"][2]["count"] == 1
    recent = api("supervisor", "GET", url + "?station=F01&from=2026-09-01&to=2026-09-30").json()
    assert recent["responses"] == 1 and recent["questions"][2]["mean"] == 5.0
    wujian = api("officer", "GET", url + "?town=500118108").json()  # V01 serves 五间镇
    assert wujian["responses"] == 1 and wujian["questions"][2]["mean"] == 3.0
    qingfeng = api("officer", "GET", url + "?town=500118100").json()  # M01: 青峰镇
    assert qingfeng["responses"] == 1 and qingfeng["by_channel"] == {"mobile": 1}
    # station staff see their own station only
    own = api("clerk_f02", "GET", url).json()
    assert own["responses"] == 1 and own["filters"]["station"] == "F02"
    r = api("clerk_f02", "GET", url + "?station=F01")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "station"
    for bad, field in (
        ("?town=999", "town"),
        ("?station=ZZZ", "station"),
        ("?from=2026-09-30&to=2026-09-01", "to"),
    ):
        r = api("officer", "GET", url + bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, bad
    assert api("officer", "GET", url + "?from=yesterday").status_code == 422
    texts = api("officer", "GET", f"/api/v1/questionnaires/{template}/texts?question=words").json()
    assert texts["total"] == 4 and texts["next_page"] is None
    assert (
        api("officer", "GET", f"/api/v1/questionnaires/{template}/texts?question=speed").status_code
        == 422
    )
    page = browser("supervisor").get(f"/questionnaires/{template}/results?station=F02")
    assert page.status_code == 200
    text = _text(page.text)
    assert "clerk_f02的意见" in text and "clerk_v01的意见" not in text
    assert 'id="chart-score"' in page.text and "echarts" in page.text
    page = browser("supervisor").get(
        f"/questionnaires/{template}/results?from=2026-09-30&to=2026-09-01&town=x"
    )
    assert (
        page.status_code == 422
        and "结束日期早于开始日期" in page.text
        and "未知的镇街" in page.text
    )
    page = browser("clerk_f02").get(f"/questionnaires/{template}/results")
    assert "clerk_f01的意见" not in page.text and "clerk_f02的意见" in page.text
    assert browser("auditor").get(f"/questionnaires/{template}/results").status_code == 403


def test_excel_export_opens_with_the_version_questions(api, browser, template: str) -> None:  # type: ignore[no-untyped-def]
    answer(
        api,
        "clerk_f01",
        answers={"speed": "1", "topics": ["2"], "score": 4, "words": '=HYPERLINK("x")'},
    )
    answer(api, "clerk_f02", answers={"speed": "2", "score": 2})
    r = browser("officer").get(f"/questionnaires/{template}/results.xlsx?station=F01")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["汇总", "答卷", "文字意见"]
    summary = [row for row in wb["汇总"].iter_rows(values_only=True)]
    assert summary[0][0] == "窗口服务满意度（第1版）"
    assert ("答卷数", 1) in [tuple(r[:2]) for r in summary]
    rows = list(wb["答卷"].iter_rows(values_only=True))
    assert rows[0][6:] == tuple(q["text"] for q in DEFINITION["questions"])
    assert len(rows) == 2 and rows[1][6:9] == ("快", "住院", 4)
    words = list(wb["文字意见"].iter_rows(values_only=True))
    assert words[1][1] == '\'=HYPERLINK("x")'  # never a formula
    assert (
        browser("officer").get(f"/questionnaires/{template}/results.xlsx?town=nowhere").status_code
        == 422
    )
    assert browser("officer").get("/questionnaires/nope/results.xlsx").status_code == 404


def test_pages_of_a_template_for_managers_and_clerks(api, browser, template: str) -> None:  # type: ignore[no-untyped-def]
    officer = browser("officer")
    page = officer.get(f"/questionnaires/{template}")
    assert page.status_code == 200 and "第1版" in page.text and "停用" in page.text
    r = officer.post(
        f"/questionnaires/{template}/edit",
        data={"definition": "title: 新版\nquestions:\n  - {id: a, type: text, text: 说说看}\n"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = officer.get(r.headers["location"])
    assert "第2版" in page.text and "说说看" in page.text and "发布" in page.text
    r = officer.post(f"/questionnaires/{template}/versions/2/publish", follow_redirects=False)
    assert r.status_code == 303
    assert "已发布" in officer.get(r.headers["location"]).text
    assert officer.post(f"/questionnaires/{template}/versions/2/publish").status_code == 422
    assert officer.post(f"/questionnaires/{template}/versions/2/explode").status_code == 404
    clerk = browser("clerk_f01")
    assert "说说看" in clerk.get(f"/questionnaires/{template}/fill").text
    assert clerk.get(f"/questionnaires/{template}/edit").status_code == 403
    assert clerk.post(f"/questionnaires/{template}/versions/2/retire").status_code == 403
    assert clerk.get("/questionnaires/nope").status_code == 404
    assert clerk.get(f"/questionnaires/{template}/responses/not-a-uuid").status_code == 404
    assert clerk.get(f"/questionnaires/{template}/qr?station=F02").status_code == 404
    english = clerk.get("/lang/en?next=/questionnaires", follow_redirects=True)
    assert "Questionnaires" in english.text and "Fill in" in english.text


def test_odd_inputs_never_give_a_500(api, browser, client: TestClient, template: str) -> None:  # type: ignore[no-untyped-def]
    long = "x" * 300
    officer = browser("officer")
    for url in (
        f"/questionnaires/{long}",
        f"/questionnaires/{template}?version=999",
        f"/questionnaires/{template}/results?version=abc",
        f"/questionnaires/{template}/results?version=999",
        f"/questionnaires/{template}/results?text_q=words&text_page=99",
        f"/questionnaires/{template}/results.xlsx?from=bad",
        f"/questionnaires/{template}/qr?station={long[:40]}",
        f"/questionnaires/{template}/responses/{'0' * 8}-0000-0000-0000-{'0' * 12}",
        "/questionnaires?page=99",
    ):
        r = officer.get(url)
        assert r.status_code in (200, 404, 422), (url, r.status_code)
    phone = TestClient(client.app)
    for url in (
        f"/public/questionnaires/{long}",
        f"/public/questionnaires/{template}?s=F01&k=",
        f"/public/questionnaires/{template}?s=F01",
        f"/public/questionnaires/{template}?s={long[:16]}&k={long[:40]}",
    ):
        assert phone.get(url).status_code in (200, 404), url
    assert phone.post(f"/public/questionnaires/{template}", data={"token": long}).status_code == 400
    assert phone.post(
        f"/public/questionnaires/{template}",
        content=b"\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ).status_code in (400, 422)
    for method, url, body in (
        ("GET", f"/api/v1/questionnaires/{template}?version=999", None),
        ("GET", f"/api/v1/questionnaires/{long}", None),
        ("GET", f"/api/v1/questionnaires/{template}/results?from=2026-02-30", None),
        ("GET", f"/api/v1/questionnaires/{template}/texts?question={long[:32]}", None),
        ("GET", f"/api/v1/questionnaires/{template}/responses/nope", None),
        ("POST", "/api/v1/questionnaires", {"code": "a", "kind": "awareness", "definition": []}),
        (
            "POST",
            "/api/v1/questionnaires",
            {"code": template, "kind": "awareness", "definition": DEFINITION},
        ),
        (
            "POST",
            f"/api/v1/questionnaires/{template}/versions",
            {"definition": {"title": 1, "questions": "x"}},
        ),
        ("POST", f"/api/v1/questionnaires/{template}/versions/0/publish", None),
        ("POST", f"/api/v1/questionnaires/{template}/versions/999/retire", None),
    ):
        r = api("officer", method, url, json=body)
        assert r.status_code in (404, 409, 422), (url, r.status_code, r.text)
