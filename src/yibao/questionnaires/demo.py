"""Demo data of questionnaires: the three standard templates (policy evaluation in two
versions) and about 600 responses over the stations, towns and the last 120 days."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.audit import guard
from yibao.cases.models import Case
from yibao.db import Base
from yibao.questionnaires import rules, service
from yibao.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireTemplate,
    QuestionnaireVersion,
)
from yibao.questionnaires.rules import Definition, QType, VersionState
from yibao.stations.models import Station

TZ = ZoneInfo("Asia/Shanghai")
WINDOW_DAYS = 120
V2_DAYS_AGO = 55  # policy evaluation's second version was published this many days ago
COUNTS = {"policy-awareness": 200, "business-procedure": 220, "policy-evaluation": 190}
STATION_WEIGHT = {"bureau": 3.0, "fixed": 3.0, "town": 2.0, "village": 1.6, "mobile": 0.55}

# Scale weights for points 1..5; "far" stations (village, mobile) know the policies less well.
SCALES: dict[str, tuple[int, ...]] = {
    "understanding": (6, 17, 38, 29, 10),
    "understanding_far": (12, 26, 37, 19, 6),
    "attitude": (1, 2, 6, 33, 58),
    "convenience": (1, 3, 9, 37, 50),
    "reimbursement": (4, 10, 30, 39, 17),
    "outpatient": (5, 12, 33, 35, 15),
}
SINGLE: dict[str, dict[str, int]] = {
    "insured_type": {"resident": 66, "employee": 28, "none": 2, "unsure": 4},
    "fee_known": {"yes": 46, "partly": 34, "no": 20},
    "item": {
        "enrolment": 18,
        "certificate": 14,
        "elsewhere": 16,
        "chronic": 12,
        "reimburse": 14,
        "transfer": 6,
        "consult": 16,
        "other": 4,
    },
    "duration": {"lt10": 52, "lt30": 35, "lt60": 10, "gt60": 3},
    "one_trip": {"yes": 86, "second": 11, "more": 3},
    "told_once": {"yes": 38, "no": 4, "na": 58},
    "near_home": {"much": 52, "some": 30, "same": 10, "unused": 8},
    "transfer_known": {"yes": 31, "heard": 36, "no": 33},
}
MULTIPLE: dict[str, dict[str, float]] = {
    "policies_known": {
        "outpatient_pool": 0.42,
        "chronic": 0.48,
        "elsewhere": 0.55,
        "assistance": 0.3,
        "transfer": 0.22,
        "serious": 0.35,
    },
    "channels": {
        "station": 0.55,
        "village": 0.45,
        "wechat": 0.38,
        "hospital": 0.3,
        "family": 0.25,
        "poster": 0.15,
    },
    "improve": {
        "ratio": 0.58,
        "drugs": 0.4,
        "settle": 0.33,
        "online": 0.3,
        "fee": 0.36,
        "publicity": 0.22,
    },
}
TEXTS: dict[str, tuple[float, list[str]]] = {
    "wish": (
        0.28,
        [
            "想了解门诊慢特病怎么申请，需要哪些材料。",
            "子女在外地上学，看病怎么报销？",
            "希望讲讲长期护理保险。",
            "去重庆主城看病要不要备案？",
            "想知道个人账户的钱能不能给家里人用。",
            "大病保险的起付线是多少？",
            "农村老人住院报销比例是多少，希望多宣传。",
            "异地就医备案在手机上怎么办？",
            "医疗救助哪些人可以申请？",
            "在泸州打工，医保怎么转过去？",
        ],
    ),
    "suggestion": (
        0.3,
        [
            "服务很好，工作人员很耐心。",
            "希望中午也能办理业务。",
            "取号后等待时间有点长，建议增加窗口。",
            "材料一次说清楚了，很满意。",
            "老年人不会用手机，希望保留窗口办理。",
            "服务站就在医院里，住院时办备案很方便。",
            "希望流动服务站多来几次我们村。",
            "办事指南可以印大一点的字。",
            "工作人员态度好，讲解清楚，点赞！",
            "希望能在村里直接打印参保凭证。",
            "网上办理的步骤有点复杂，希望有人指导。",
            "停车不太方便。",
        ],
    ),
    "opinion": (
        0.32,
        [
            "希望提高门诊报销比例。",
            "建议把更多常用药纳入医保目录。",
            "缴费标准每年都涨，农村家庭负担有点重。",
            "异地就医直接结算很方便，希望覆盖更多医院。",
            "医保服务站建到家门口，少跑了很多路。",
            "希望慢特病认定能更快一些。",
            "政策变化多，希望村里多开宣讲会。",
            "泸永江转移接续一天办完，非常满意。",
            "希望住院报销能再快一点到账。",
            "建议对高龄老人提供上门服务。",
        ],
    ),
}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _evaluation_v2(defn: Definition) -> dict[str, Any]:
    """Version 2 of policy evaluation: asks about the one-day transfer (泸永江)."""
    data = copy.deepcopy(defn.as_dict())
    data["questions"].insert(
        3,
        {
            "id": "transfer_known",
            "type": "single",
            "text": "您是否知道泸州、永川、江津之间医保关系转移接续可“一日办结”？",
            "required": True,
            "options": [
                {"value": "yes", "label": "知道"},
                {"value": "heard", "label": "听说过，不清楚怎么办"},
                {"value": "no", "label": "不知道"},
            ],
        },
    )
    return data


def _answers(rng: random.Random, defn: Definition, far: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in defn.questions:
        if q.type is QType.SINGLE:
            weights = SINGLE.get(q.id) or {o.value: 1 for o in q.options}
            out[q.id] = _pick(rng, weights)
        elif q.type is QType.MULTIPLE:
            probs = MULTIPLE.get(q.id) or {o.value: 0.3 for o in q.options}
            chosen = [v for v, p in probs.items() if rng.random() < (p * (0.75 if far else 1))]
            if q.max_choices is not None and len(chosen) > q.max_choices:
                chosen = sorted(rng.sample(chosen, q.max_choices), key=list(probs).index)
            if not chosen and q.required:
                chosen = [max(probs, key=lambda v: probs[v])]
            if chosen:
                out[q.id] = chosen
        elif q.type is QType.SCALE:
            key = f"{q.id}_far" if far and f"{q.id}_far" in SCALES else q.id
            weights_ = SCALES.get(key, (5, 10, 30, 35, 20))
            out[q.id] = rng.choices(rules.SCALE, weights_)[0]
        else:
            share, texts = TEXTS.get(q.id, (0.2, ["无"]))
            if rng.random() < share:
                out[q.id] = rng.choice(texts)
    return out


def _moment(rng: random.Random, day: date) -> datetime:
    minutes = rng.randint(9 * 60, 17 * 60 - 1)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), TZ)
    return local.astimezone(UTC)


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo records inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: questionnaires")
    by = session.scalar(select(User.id).where(User.agency == agency, User.username == "supervisor"))
    start = today - timedelta(days=WINDOW_DAYS)
    service.install_standard(session, agency=agency, by=by, at=_moment(rng, start - timedelta(7)))
    templates = {
        t.code: t
        for t in session.scalars(
            select(QuestionnaireTemplate).where(QuestionnaireTemplate.agency == agency)
        )
    }
    if not all(code in templates for code in COUNTS):
        return 0
    versions: dict[str, list[QuestionnaireVersion]] = {}
    for code, t in templates.items():
        versions[code] = service.versions(session, t)[::-1]  # oldest first
    evaluation = templates["policy-evaluation"]
    switch = today - timedelta(days=V2_DAYS_AGO)
    if len(versions["policy-evaluation"]) == 1:
        v1 = versions["policy-evaluation"][0]
        at = _moment(rng, switch)
        v2 = QuestionnaireVersion(
            agency=agency,
            template_id=evaluation.id,
            version=2,
            state=VersionState.PUBLISHED.value,
            title=v1.title,
            definition=rules.parse_definition(_evaluation_v2(service.definition(v1))).as_dict(),
            note="增加泸永江医保关系转移接续知晓情况题目",
            created_by=by,
            created_at=at - timedelta(days=2),
            published_at=at,
        )
        v1.state, v1.retired_at = VersionState.RETIRED.value, at
        evaluation.current_version, evaluation.updated_at = 2, at
        session.add(v2)
        session.flush()
        versions["policy-evaluation"].append(v2)

    stations = list(
        session.scalars(
            select(Station).where(Station.agency == agency, Station.active).order_by(Station.code)
        )
    )
    weights = [STATION_WEIGHT.get(s.kind, 1.0) for s in stations]
    clerks = {
        station: uid
        for uid, station in session.execute(
            select(User.id, User.station_code).where(
                User.agency == agency, User.role == "clerk", User.station_code.is_not(None)
            )
        )
    }
    cases: dict[str, list[tuple[str, datetime]]] = {}
    for number, intake, received in session.execute(
        select(Case.case_no, Case.intake_station, Case.received_at)
        .where(Case.agency == agency, Case.received_at >= _moment(rng, start))
        .limit(4000)
    ):
        cases.setdefault(intake, []).append((number, received))

    responses: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for code, n in COUNTS.items():
        rows = versions[code]
        for _ in range(n):
            day = start + timedelta(days=rng.randrange(WINDOW_DAYS + 1))
            station = rng.choices(stations, weights)[0]
            far = station.kind in ("village", "mobile")
            if station.kind == "mobile":
                channel = "mobile"
            else:
                channel = "qr" if rng.random() < 0.25 else "window"
            answered_at = _moment(rng, day)
            case_no: str | None = None
            own = cases.get(station.code) or []
            if channel == "window" and own and rng.random() < 0.05:
                case_no, received = rng.choice(own)
                answered_at = received + timedelta(minutes=rng.randint(3, 20))
                day = answered_at.astimezone(TZ).date()
            if code == "policy-evaluation":
                version = rows[-1] if day >= switch else rows[0]
            else:
                version = rows[-1]
            defn = service.definition(version)
            values = _answers(rng, defn, far)
            rid = uuid.UUID(int=rng.getrandbits(128), version=4)
            responses.append(
                {
                    "id": rid,
                    "agency": agency,
                    "template_id": templates[code].id,
                    "version_id": version.id,
                    "version": version.version,
                    "channel": channel,
                    "station_code": station.code,
                    "town_code": station.town_code,
                    "town_release": station.town_release,
                    "answers": values,
                    "consent": case_no is not None,
                    "case_no": case_no,
                    "taken_by": clerks.get(station.code) if channel != "qr" else None,
                    "answered_at": answered_at,
                    "answered_date": day,
                    "received_at": answered_at,
                }
            )
            answers += _answer_dicts(agency, rid, version.id, defn, values)
    tables = Base.metadata.tables
    session.execute(insert(tables[QuestionnaireResponse.__tablename__]), responses)
    session.execute(insert(tables[QuestionnaireAnswer.__tablename__]), answers)
    return len(responses)


def _answer_dicts(
    agency: str, rid: uuid.UUID, version_id: int, defn: Definition, values: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for q in defn.questions:
        value = values.get(q.id)
        if value is None:
            continue
        base: dict[str, Any] = {
            "agency": agency,
            "response_id": rid,
            "version_id": version_id,
            "question": q.id,
            "choice": None,
            "scale": None,
            "text": None,
        }
        if q.type is QType.MULTIPLE:
            out += [{**base, "choice": v} for v in value]
        elif q.type is QType.SINGLE:
            out.append({**base, "choice": value})
        elif q.type is QType.SCALE:
            out.append({**base, "scale": value})
        else:
            out.append({**base, "text": value})
    return out
