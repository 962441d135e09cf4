"""Demo data of disputes: about 30 fictional hospital–insurer–patient disputes at the stations,
with mediation sessions (each party's statement apart from the mediator's notes) and outcomes.
Names and phone numbers are invented."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.audit import guard
from yibao.cases.models import Case
from yibao.disputes import rules
from yibao.disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeRepresentative,
    MediationSession,
    PartyStatement,
)
from yibao.runtime import load_reference
from yibao.stations.models import Agency

TZ = ZoneInfo("Asia/Shanghai")
HOSPITALS = {
    "F01": "重庆医科大学附属永川医院",
    "F02": "永川区人民医院",
    "other": ["永川区中医院", "来苏镇卫生院", "五间镇卫生院", "永川区妇幼保健院"],
}
STAFF = {
    "F01": "clerk_f01",
    "F02": "clerk_f02",
    "T01": "clerk_t01",
    "V01": "clerk_v01",
    "M01": "clerk_m01",
}
SUBJECTS = [
    (
        "住院费用中自费药品未事先告知",
        "患者称用药前未签署自费知情同意书。",
        "医院称已口头告知并在费用清单中列明。",
        "患者称从未被告知，要求退还自费部分。",
    ),
    (
        "异地就医备案后报销比例争议",
        "患者已办理转诊备案，出院结算仍按未备案比例报销。",
        "医院称备案信息未同步到结算系统。",
        "患者要求按备案比例重新结算。",
    ),
    (
        "门诊慢特病待遇未及时享受",
        "患者慢特病认定后一个月内门诊仍按普通门诊结算。",
        "医院称待遇信息次月才生效。",
        "患者称认定通知写明当日生效。",
    ),
    (
        "出院结算金额与预估差距大",
        "入院时告知自付约三千元，出院自付七千余元。",
        "医院称病情变化增加了手术耗材。",
        "患者称耗材变更未征求家属意见。",
    ),
    (
        "医保卡被他人冒用产生费用",
        "患者发现医保账户有本人未发生的门诊费用。",
        "医院称就诊时已核验身份。",
        "患者称当日在外地务工，可提供考勤证明。",
    ),
    (
        "住院床位费收费标准争议",
        "患者住普通病房却按单间收取床位费。",
        "医院称因床位紧张临时调整，系统未更正。",
        "患者要求按实际病房退还差价。",
    ),
    (
        "生育津贴计算基数争议",
        "产妇认为生育医疗费用报销与单位缴费基数不符。",
        "医院称按医保结算规则执行。",
        "患者称单位已补缴，应重新计算。",
    ),
    (
        "零星报销材料被退回三次",
        "患者多次补交材料仍未受理报销。",
        "医院称病历复印件缺少盖章。",
        "患者称每次被告知缺少的材料不同。",
    ),
]
MEDIATOR_NOTES = [
    "双方分歧在于告知方式，建议调取护理记录后再议。",
    "已请医院医保办核对结算明细，下次调解前反馈。",
    "向双方解释了现行报销政策，患者表示理解但要求书面答复。",
    "医院同意先行垫付差额，待医保重新结算后冲抵。",
]
TERMS = [
    "医院退还自费药品费用1860元，患者撤回投诉。",
    "医保经办机构按备案比例重新结算，差额7日内支付到患者账户。",
    "医院书面致歉，并减免床位费差价420元。",
    "医院补办知情同意手续，医保按规定补报销2310元。",
]
ESCALATED = ["区卫生健康委医政科", "区医疗保障局基金监管科", "区信访办", "区人民调解委员会"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林谢唐邓冯曾彭蒋袁廖"
GIVEN = ["桂兰", "德明", "秀英", "建华", "小军", "玉梅", "志强", "海燕", "国华", "丽"]
TITLES = {
    "hospital": ["医保办主任", "医务科科长", "护士长", "财务科副科长"],
    "insurer": ["局经办", "基金监管科科员"],
    "patient": ["患者本人", "患者之子", "患者之女", "患者配偶"],
}
CLOSING = {"agreed": "agree", "escalated": "escalate", "withdrawn": "withdraw"}
SHAPE = [("open", 6), ("mediating", 8), ("agreed", 9), ("escalated", 3), ("withdrawn", 4)]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randint(0, 9)}{rng.randrange(10**8):08d}"


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(
        day, time(rng.randint(9, 16), rng.randint(0, 59)), tzinfo=TZ
    ).astimezone(UTC)


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo disputes inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: disputes")
    names = [*STAFF.values(), "officer"]
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.agency == agency, User.username.in_(names))
        )
    }
    ref = load_reference(session, agency)
    agency_row = session.get(Agency, agency)
    insurer = agency_row.name_zh if agency_row else agency
    complaints = list(
        session.scalars(
            select(Case)
            .where(Case.agency == agency, Case.service_code == rules.SERVICE_CODE)
            .order_by(Case.received_at)
            .limit(12)
        )
    )
    item = ref.services.get(rules.SERVICE_CODE)
    default_limit = item.time_limit_days if item else rules.DEFAULT_LIMIT_DAYS
    plan = [state for state, n in SHAPE for _ in range(n)]
    rng.shuffle(plan)
    made = 0
    for i, final in enumerate(plan):
        case = complaints.pop() if complaints and rng.random() < 0.4 else None
        station = (
            case.intake_station
            if case
            else rng.choice(["F01", "F01", "F02", "F02", "T01", "V01", "M01", "BUREAU"])
        )
        opener = users.get(STAFF.get(station, "officer")) or users.get("officer")
        if opener is None or station not in ref.units:
            continue
        subject, description, said_h, said_p = SUBJECTS[i % len(SUBJECTS)]
        hospital = (
            HOSPITALS.get(station) if station in ("F01", "F02") else rng.choice(HOSPITALS["other"])
        )
        patient = case.applicant_name if case else _name(rng)
        back = (
            rng.randint(25, 90)
            if final in ("agreed", "escalated", "withdrawn")
            else rng.randint(0, 25)
        )
        opened_day = ref.calendar.next_working_day(today - timedelta(days=back))
        if opened_day > today:
            opened_day = ref.calendar.add_working_days(today, -1).date
        opened_at = _moment(opened_day, rng)
        limit = default_limit if rng.random() < 0.8 else rng.choice([5, 10, 20])
        due = rules.due_date(ref.calendar, opened_day, limit)
        dispute = Dispute(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            agency=agency,
            station_code=station,
            subject=subject,
            description=description,
            hospital_name=str(hospital),
            insurer_name=insurer,
            patient_name=patient,
            case_id=case.id if case else None,
            case_no=case.case_no if case else None,
            state=final,
            limit_days=limit,
            opened_at=opened_at,
            opened_date=opened_day,
            due_date=due.date,
            due_estimated=due.estimated,
            opened_by=opener.id,
            opened_by_name=opener.display_name or opener.username,
            updated_at=opened_at,
        )
        session.add(dispute)
        session.flush()
        reps = [
            (
                "hospital",
                _name(rng),
                rng.choice(TITLES["hospital"]),
                f"023-4{rng.randrange(10**6, 10**7)}",
            ),
            (
                "insurer",
                (users.get("officer") or opener).display_name or "张伟",
                rng.choice(TITLES["insurer"]),
                _phone(rng),
            ),
            ("patient", patient, "患者本人", _phone(rng)),
        ]
        if rng.random() < 0.4:
            reps.append(("patient", _name(rng), rng.choice(TITLES["patient"][1:]), _phone(rng)))
        for seq, (party, name, title, phone) in enumerate(reps, start=1):
            session.add(
                DisputeRepresentative(
                    agency=agency,
                    dispute_id=dispute.id,
                    seq=seq,
                    party=party,
                    name=name,
                    title=title,
                    phone=phone,
                )
            )
        events: list[dict[str, Any]] = [
            {"action": "open", "from": None, "to": "open", "at": opened_at}
        ]
        sessions = {
            "open": 0,
            "mediating": rng.randint(1, 2),
            "agreed": rng.randint(1, 3),
            "escalated": rng.randint(2, 3),
        }.get(final, rng.randint(0, 1))
        at, state, day = opened_at, "open", opened_day
        for n in range(1, sessions + 1):
            day = min(today, ref.calendar.add_working_days(day, rng.randint(1, 4)).date)
            at = max(at + timedelta(minutes=30), _moment(day, rng))
            if state == "open":
                events.append({"action": "mediate", "from": "open", "to": "mediating", "at": at})
                state = "mediating"
            present = (
                ["hospital", "insurer", "patient"]
                if rng.random() < 0.7
                else ["hospital", "patient"]
            )
            row = MediationSession(
                agency=agency,
                dispute_id=dispute.id,
                seq=n,
                session_date=day,
                mediator=opener.display_name or opener.username,
                parties_present=present,
                mediator_notes=rng.choice(MEDIATOR_NOTES),
                recorded_by=opener.id,
                recorded_at=at,
            )
            session.add(row)
            session.flush()
            session.add(
                PartyStatement(agency=agency, session_id=row.id, party="hospital", text=said_h)
            )
            session.add(
                PartyStatement(agency=agency, session_id=row.id, party="patient", text=said_p)
            )
            if "insurer" in present and rng.random() < 0.6:
                session.add(
                    PartyStatement(
                        agency=agency,
                        session_id=row.id,
                        party="insurer",
                        text="医保方说明了相关报销政策和结算规则。",
                    )
                )
            events.append(
                {
                    "action": "session",
                    "from": state,
                    "to": state,
                    "at": at + timedelta(minutes=1),
                    "detail": {"seq": n, "date": day.isoformat(), "present": present},
                }
            )
        if final != state:
            close_day = min(today, ref.calendar.add_working_days(day, rng.randint(0, 3)).date)
            at = max(at + timedelta(minutes=40), _moment(close_day, rng))
            detail: dict[str, Any] = {}
            if final == "agreed":
                dispute.terms = detail["terms"] = rng.choice(TERMS)
            elif final == "escalated":
                dispute.escalated_to = detail["escalated_to"] = rng.choice(ESCALATED)
            elif final == "withdrawn":
                dispute.withdrawn_by = detail["withdrawn_by"] = (
                    "patient" if rng.random() < 0.8 else "hospital"
                )
            dispute.closed_date = at.astimezone(TZ).date()
            events.append(
                {"action": CLOSING[final], "from": state, "to": final, "at": at, "detail": detail}
            )
        dispute.updated_at = at
        for seq, e in enumerate(events, start=1):
            session.add(
                DisputeEvent(
                    agency=agency,
                    dispute_id=dispute.id,
                    seq=seq,
                    at=e["at"],
                    actor_id=opener.id,
                    actor_name=opener.display_name or opener.username,
                    actor_role=opener.role,
                    action=e["action"],
                    from_state=e["from"],
                    to_state=e["to"],
                    detail=e.get("detail") or {},
                )
            )
        made += 1
    return made
