"""Demo data of leads: about 25 fictional leads raised at the two hospital stations, in every
state, some closed with money recovered. Patients' ID numbers are synthetic."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from yibao.accounts.models import User
from yibao.attachments.models import Attachment
from yibao.audit import guard
from yibao.leads import rules
from yibao.leads.models import Lead, LeadEvent
from yibao.runtime import load_reference

TZ = ZoneInfo("Asia/Shanghai")
AUTHORS = {"F01": ["clerk_f01", "master_f01"], "F02": ["clerk_f02"]}

STORIES: dict[str, list[str]] = {
    "irregular_billing": [
        "检验科对同一血样重复收取生化检验费，患者结算单上出现两次。",
        "骨科病区将自费耗材拆分后按医保目录内耗材收费。",
        "康复科理疗项目收费次数多于治疗记录次数。",
        "住院病人床位费按单间收取，实际住三人间。",
    ],
    "phantom_inpatient": [
        "内科病区3床患者连续三日不在院，仍按住院计费。",
        "夜间巡查发现两名登记住院患者在家，病历有每日查房记录。",
        "同一村多名老人同日入院、同日出院，住院期间无检查记录。",
    ],
    "card_misuse": [
        "患者家属持已故亲属医保卡在门诊开药。",
        "药房发现同一医保卡一日内在三个科室开具相同药品。",
        "门诊使用他人医保卡挂号就诊，身份核验照片不符。",
    ],
    "over_treatment": [
        "普通感冒患者被安排全套影像检查及住院观察。",
        "术后患者无指征延长住院十余日。",
        "门诊慢病患者每月被要求重复做同一项检查。",
    ],
    "other": [
        "科室张贴“医保报销比例可商量”的宣传单。",
        "有人在住院部招揽患者转院并承诺“全额报销”。",
    ],
}
INTERVENTIONS = [
    "暂停该项目医保结算，约谈科室负责人",
    "现场核查病历与床位，调取监控记录",
    "冻结该医保卡结算，通知参保地经办机构",
    "要求医院自查并限期整改",
]
VERIFY_NOTES = ["调取住院病历和费用清单", "与医院医保办联合核查", "电话回访患者本人"]
CLOSE_NOTES = {
    "confirmed": [
        "查实违规，责令退回违规费用",
        "医院已退回违规费用并整改",
        "违规属实，纳入年度考核扣分",
    ],
    "unfounded": [
        "核查记录齐全，线索不属实",
        "患者已办理请假手续，情况属实合规",
        "经核实系收费系统显示错误，已更正",
    ],
}
# Share of leads ending in each state (all states appear).
SHAPE = [
    ("raised", 4),
    ("verifying", 5),
    ("intervening", 4),
    ("confirmed", 7),
    ("unfounded", 5),
]
TINY_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _synthetic_id(rng: random.Random) -> str:
    born = f"{rng.randint(1940, 1995)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = f"500118{born}{rng.randint(0, 999):03d}"
    return body + str(ric.calc_check_digit(body + "0"))


def _moment(day: date, rng: random.Random) -> datetime:
    local = datetime.combine(day, time(rng.randint(8, 16), rng.randint(0, 59)), tzinfo=TZ)
    return local.astimezone(UTC)


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo leads inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: leads")
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(
                User.agency == agency,
                User.username.in_(["supervisor", *AUTHORS["F01"], *AUTHORS["F02"]]),
            )
        )
    }
    supervisor = users.get("supervisor")
    if supervisor is None:
        return 0
    ref = load_reference(session, agency)
    item = ref.services.get(rules.SERVICE_CODE)
    limit = item.time_limit_days if item else rules.DEFAULT_LIMIT_DAYS
    plan = [state for state, n in SHAPE for _ in range(n)]
    rng.shuffle(plan)
    made = 0
    for i, final in enumerate(plan):
        station = "F01" if i % 5 < 3 else "F02"
        author = users.get(rng.choice(AUTHORS[station]))
        if author is None or station not in ref.units:
            continue
        kind = rng.choice(list(STORIES))
        # Closed leads were raised longer ago; open ones recently (a few are overdue).
        back = rng.randint(20, 80) if final in ("confirmed", "unfounded") else rng.randint(1, 18)
        raised_day = ref.calendar.next_working_day(today - timedelta(days=back))
        if raised_day > today:
            raised_day = ref.calendar.add_working_days(today, -1).date
        raised_at = _moment(raised_day, rng)
        due = rules.due_date(ref.calendar, raised_day, limit)
        lead = Lead(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            agency=agency,
            station_code=station,
            hospital=rules.hospital_of(ref.unit_names[station]),
            kind=kind,
            urgency="urgent" if rng.random() < 0.3 else "normal",
            description=rng.choice(STORIES[kind]),
            state="raised",
            raised_by=author.id,
            raised_by_name=author.display_name or author.username,
            raised_at=raised_at,
            raised_date=raised_day,
            due_date=due.date,
            due_estimated=due.estimated,
            updated_at=raised_at,
        )
        if rng.random() < 0.5:
            pid = _synthetic_id(rng)
            lead.patient_id_number, lead.patient_id_tail = pid, pid[-4:]
        events: list[dict[str, Any]] = [
            {"action": "raise", "from": None, "to": "raised", "at": raised_at, "who": author}
        ]
        path = {
            "raised": [],
            "verifying": ["verify"],
            "intervening": ["verify", "intervene"],
            "confirmed": ["verify", "intervene", "confirm"],
            "unfounded": ["verify", "dismiss"]
            if rng.random() < 0.5
            else ["verify", "intervene", "dismiss"],
        }[final]
        at, state = raised_at, rules.LeadState.RAISED
        for step in path:
            day = min(
                today,
                ref.calendar.add_working_days(at.astimezone(TZ).date(), rng.randint(1, 3)).date,
            )
            at = max(at + timedelta(minutes=30), _moment(day, rng))
            action = rules.Action(step)
            if action is rules.Action.CONFIRM:
                yuan = rng.randint(3, 900) * 10 + rng.choice([0, 0, 5])
                amount = f"{yuan}.{rng.choice(['00', '50', '20'])}"
                command = rules.Command(
                    action, note=rng.choice(CLOSE_NOTES["confirmed"]), amount_recovered=amount
                )
            elif action is rules.Action.DISMISS:
                command = rules.Command(action, note=rng.choice(CLOSE_NOTES["unfounded"]))
            elif action is rules.Action.INTERVENE:
                command = rules.Command(
                    action, note="事中干预", actions_taken=rng.choice(INTERVENTIONS)
                )
            else:
                command = rules.Command(action, note=rng.choice(VERIFY_NOTES))
            d = rules.decide(state, command, role="supervisor", today=at.astimezone(TZ).date())
            for column, value in d.changes.items():
                setattr(lead, column, value)
            state = d.to_state
            events.append(
                {
                    "action": step,
                    "from": d.from_state.value,
                    "to": state.value,
                    "at": at,
                    "who": supervisor,
                    "note": d.note,
                    "detail": d.detail,
                }
            )
        lead.state = state.value
        lead.updated_at = at
        session.add(lead)
        session.flush()
        for seq, e in enumerate(events, start=1):
            who = e["who"]
            session.add(
                LeadEvent(
                    agency=agency,
                    lead_id=lead.id,
                    seq=seq,
                    at=e["at"],
                    actor_id=who.id,
                    actor_name=who.display_name or who.username,
                    actor_role=who.role,
                    action=e["action"],
                    from_state=e["from"],
                    to_state=e["to"],
                    note=e.get("note"),
                    detail=e.get("detail") or {},
                )
            )
        if rng.random() < 0.4:
            session.add(
                Attachment(
                    id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    agency=agency,
                    owner_type="lead",
                    owner_id=str(lead.id),
                    filename="现场核查记录.pdf",
                    content_type="application/pdf",
                    size=len(TINY_PDF),
                    sha256=hashlib.sha256(TINY_PDF).hexdigest(),
                    data=TINY_PDF,
                    created_by=author.id,
                    created_at=raised_at + timedelta(minutes=10),
                )
            )
        made += 1
    return made
