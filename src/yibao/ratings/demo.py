"""Demo data of ratings: about 60% of the demo's completed cases rated (mostly 5 and 4, some 3,
about 3% bad), the bad ones with rectification tasks in every state, follow-ups included."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.accounts.rules import Role
from yibao.audit import guard
from yibao.calendar.service import load_calendar
from yibao.cases.models import Case, CaseEvent
from yibao.ratings import rules
from yibao.ratings.models import FollowUp, Rating, RectificationTask, TaskEvent
from yibao.ratings.rules import TaskState

TZ = ZoneInfo("Asia/Shanghai")
SHARE_RATED = 0.6
LEVEL_WEIGHTS = ((5, 62), (4, 26), (3, 9), (2, 2), (1, 1))
RECTIFY_DAYS = 5

COMMENTS: dict[int, list[str]] = {
    5: [
        "工作人员很耐心，一次就办好了",
        "在家门口就能办，太方便了",
        "讲解清楚，态度热情",
        "不用跑城里了，给服务站点赞",
        "老年人办事有人帮忙填表，很贴心",
    ],
    4: ["办得挺快", "整体满意，就是排队稍久", "服务不错", "材料一次说清楚了"],
    3: ["等候时间有点长", "流程还可以再简化", "窗口人手不够"],
    2: ["等了一个多小时才轮到", "第一次没告诉我要带什么材料，跑了两趟", "窗口工作人员解释不清楚"],
    1: ["态度很差，问几句就不耐烦", "说好当天办结，结果拖了好几天", "电话一直打不通"],
}
FOLLOW_UP_OUTCOMES = [
    "已电话联系群众说明情况并致歉，群众表示理解",
    "上门回访，当面解释办理流程，群众表示满意",
    "已短信告知整改措施，群众回复认可",
    "群众到站补办业务时当面回访，问题已解决",
]
RECTIFICATIONS = [
    "高峰时段增开窗口，安排导办员引导分流",
    "组织窗口人员开展文明服务培训，纳入月度考核",
    "完善一次性告知清单，张贴在窗口醒目位置",
    "落实首问负责制，由站长督促整改到位",
]
APPEALS = ["评价对象有误，该群众实际在其他窗口办理", "经调取监控，窗口服务规范，差评与事实不符"]


def _at(day: date, rng: random.Random) -> datetime:
    moment = datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60)), TZ)
    return moment.astimezone(UTC)


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo records inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: ratings")
    done = session.execute(
        select(Case, CaseEvent.actor_id, CaseEvent.actor_name)
        .join(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.action == "complete"))
        .where(Case.agency == agency, Case.state == "completed", Case.closed_date.is_not(None))
        # A second demo run over the same database rates only the cases it added.
        .where(~select(Rating.id).where(Rating.case_id == Case.id).exists())
        .order_by(Case.closed_date, Case.case_no)
    ).all()
    masters = {
        u.station_code: u
        for u in session.scalars(
            select(User).where(User.agency == agency, User.role == Role.STATION_MASTER.value)
        )
    }
    calendar = load_calendar(session)
    levels, weights = zip(*LEVEL_WEIGHTS, strict=True)
    made = 0
    bad: list[tuple[Rating, Case]] = []
    for case, handler_id, handler_name in done:
        if rng.random() >= SHARE_RATED:
            continue
        assert case.closed_date is not None
        overall = rng.choices(levels, weights)[0]
        rated_date = min(today, case.closed_date + timedelta(days=rng.choice((0, 0, 0, 1, 2))))
        near = max(1, min(5, overall + rng.choice((0, 0, 0, 1, -1))))
        rating = Rating(
            id=uuid.uuid4(),
            agency=agency,
            case_id=case.id,
            case_no=case.case_no,
            service_code=case.service_code,
            station_code=case.unit,
            handler_id=handler_id,
            handler_name=handler_name,
            closed_date=case.closed_date,
            channel="pad" if rated_date == case.closed_date and rng.random() < 0.6 else "phone",
            overall=overall,
            efficiency=near,
            service_level=max(1, min(5, overall + rng.choice((0, 0, 1, -1)))),
            attitude=overall,
            comment=rng.choice(COMMENTS[overall]) if rng.random() < 0.3 or overall <= 2 else None,
            rated_at=_at(rated_date, rng),
            rated_date=rated_date,
            recorded_by=handler_id if rng.random() < 0.5 else None,
        )
        session.add(rating)
        made += 1
        if rules.is_bad(overall):
            bad.append((rating, case))
    session.flush()  # parents first: the tables have no ORM relationships to order inserts
    children: list[Any] = []
    for i, (rating, case) in enumerate(bad):
        children += _task(session, rating, case, masters, calendar, today, rng, i, len(bad))
    session.flush()
    session.add_all(children)
    return made


def _task(
    session: Session,
    rating: Rating,
    case: Case,
    masters: dict[str | None, User],
    calendar: Any,
    today: date,
    rng: random.Random,
    index: int,
    count: int,
) -> list[Any]:
    """Add the task of a bad rating; returns its follow-ups and log entries (added later)."""
    owner_id, owner_name = rating.handler_id, rating.handler_name
    if owner_id is None and case.unit in masters:
        owner_id = masters[case.unit].id
        owner_name = masters[case.unit].display_name or masters[case.unit].username
    opened = rating.rated_date
    due = rules.rectify_due(calendar, opened, RECTIFY_DAYS)
    task = RectificationTask(
        id=uuid.uuid4(),
        agency=rating.agency,
        rating_id=rating.id,
        case_id=case.id,
        case_no=case.case_no,
        station_code=case.unit,
        owner_id=owner_id,
        owner_name=owner_name,
        state=TaskState.OPEN.value,
        opened_date=opened,
        due_date=due.date,
        due_estimated=due.estimated,
        follow_ups=0,
        created_at=rating.rated_at,
        updated_at=rating.rated_at,
    )
    session.add(task)
    children: list[Any] = []
    log: list[tuple[str, str | None, str, str | None, date]] = [
        ("open", None, "open", f"overall {rating.overall}", opened)
    ]
    recent = index >= count - max(4, count // 3)  # the newest third is still being worked on
    plan = _plan(index, count, recent, rng)
    state = TaskState.OPEN
    day = opened
    who = owner_name or "站长"

    def step(action: str, to: TaskState, note: str | None, days: int) -> None:
        nonlocal state, day
        day = min(today, day + timedelta(days=days))
        log.append((action, state.value, to.value, note, day))
        state = to

    if "follow_up" in plan:
        outcome = rng.choice(FOLLOW_UP_OUTCOMES)
        method = rng.choice(("phone", "phone", "visit", "sms", "in_person"))
        step(
            "follow_up",
            state,
            f"{rules.FOLLOW_UP_LABELS[rules.FollowUpMethod(method)][0]}：{outcome}",
            1,
        )
        children.append(
            FollowUp(
                agency=rating.agency,
                task_id=task.id,
                followed_at=_at(day, rng),
                method=method,
                outcome=outcome,
                recorded_by=owner_id,
                recorded_name=who,
                created_at=_at(day, rng),
            )
        )
        task.follow_ups, task.followed_up_date = 1, day
    if "appeal" in plan:
        task.appeal_reason = rng.choice(APPEALS)
        step("appeal", TaskState.APPEALED, task.appeal_reason, 1)
        if "uphold" in plan:
            task.decision, task.decision_note = "uphold", "经核实，申诉成立，差评不计入考核"
            step("uphold", TaskState.CLOSED, task.decision_note, 2)
            task.outcome, task.closed_date = "unfounded", day
    if "rectify" in plan:
        task.rectification = rng.choice(RECTIFICATIONS)
        step("rectify", TaskState.RECTIFIED, task.rectification, 6 if "late" in plan else 2)
        task.rectified_date = day
        if "close" in plan:
            step("close", TaskState.CLOSED, None, 1)
            task.outcome, task.closed_date = "rectified", day
    task.state = state.value
    task.updated_at = _at(day, rng)
    for seq, (action, src, dst, note, when) in enumerate(log, 1):
        children.append(
            TaskEvent(
                agency=rating.agency,
                task_id=task.id,
                seq=seq,
                at=_at(when, rng) if action != "open" else rating.rated_at,
                actor_id=None if action == "open" else owner_id,
                actor_name="系统"
                if action == "open"
                else ("监督员" if action == "uphold" else who),
                action=action,
                from_state=src,
                to_state=dst,
                note=note,
            )
        )
    return children


def _plan(index: int, count: int, recent: bool, rng: random.Random) -> set[str]:
    """What happened to the task: a mix so that every state shows up in the demo."""
    if not recent:
        if index % 7 == 3:
            return {"follow_up", "appeal", "uphold"}  # closed as unfounded
        if index % 9 == 5:
            return {"follow_up"}  # long overdue, still open
        late = {"late"} if rng.random() < 0.2 else set()
        return {"follow_up", "rectify", "close", *late}
    slot = (count - 1 - index) % 4
    return [set(), {"follow_up", "appeal"}, {"follow_up", "rectify"}, {"follow_up"}][slot]
