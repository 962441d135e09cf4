"""Demo data of inspections: two or three inspections per station over the last year.

Fixed, town and village stations and a few mobile ones are inspected by the bureau; scores
improve from one inspection to the next, mobile teams fail more often on premises and the
backup link. Failed items become tasks walked through the real lifecycle (``rules.decide``):
older ones verified (a few sent back once, some late), the latest ones open, reported or
overdue, so every state shows on the pages.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.accounts.models import User
from yibao.audit import guard
from yibao.calendar.rules import WorkCalendar
from yibao.calendar.service import load_calendar
from yibao.inspections import rules
from yibao.inspections.models import (
    Inspection,
    InspectionResult,
    InspectionTask,
    InspectionTaskEvent,
)
from yibao.inspections.rules import Checked, Item, TaskAction, TaskState
from yibao.inspections.service import checklist
from yibao.stations.models import Station

TZ = ZoneInfo("Asia/Shanghai")
MOBILE_SAMPLE = ("M01", "M05", "M08", "M16")
INSPECTORS = ("王建华", "李娟", "张伟", "刘芳", "周明华")
# Chance that an item fails, by area, for a station at its first inspection; later ones halve it.
FAIL_RATE = {"premises": 0.10, "equipment": 0.10, "network": 0.08, "staff": 0.08}
MOBILE_EXTRA = {"premises_seats": 0.35, "premises_access": 0.4, "network_backup": 0.45}
# What the inspector wrote for a failed item, and what the station master did about it.
PROBLEMS: dict[str, tuple[str, str]] = {
    "premises_fixed": ("服务点临时设在走廊，无固定场所", "已协调一楼独立办公室作为固定服务点"),
    "premises_signage": ("门牌缺失，服务事项未公示", "已制作统一门牌并张贴服务事项清单"),
    "premises_window": ("未设置独立医保窗口", "已调整窗口，设置医保专窗"),
    "premises_seats": ("等候区座椅不足", "已增配等候座椅 6 把"),
    "premises_access": ("入口台阶无坡道", "已加装无障碍坡道和扶手"),
    "equipment_computer": ("办公电脑故障频繁", "已更换新电脑并安装业务系统"),
    "equipment_id_reader": ("身份证读卡器无法识别", "已更换读卡器"),
    "equipment_printer": ("打印机缺墨，无法打印回执", "已更换墨盒并备足耗材"),
    "equipment_camera": ("高拍仪损坏", "已更换高拍仪"),
    "equipment_rating_pad": ("评价器未接入好差评系统", "已完成评价器联网调试"),
    "network_private": ("医保专网时常中断", "已报修并完成专网线路整改"),
    "network_backup": ("无备用网络链路", "已开通 4G 备用链路"),
    "network_security": ("终端未安装杀毒软件", "已安装杀毒软件并关闭外联端口"),
    "staff_master": ("站长信息未公示", "已在服务台公示站长姓名和电话"),
    "staff_trained": ("一名经办员未取得上岗证", "该经办员已参加培训并取得上岗证"),
    "staff_hours": ("未按公示时间开放", "已调整排班，按公示时间开放"),
    "staff_records": ("服务台账记录不全", "已补全台账并落实每日登记"),
}


@dataclass(frozen=True)
class _Who:
    id: int | None
    name: str
    role: str
    unit: str | None


def _working_day_before(calendar: WorkCalendar, day: date) -> date:
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def _at(day: date, rng: random.Random) -> datetime:
    moment = datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60)), TZ)
    return moment.astimezone(UTC)


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo records inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: inspections")
    cl = checklist()
    calendar = load_calendar(session)
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(
                User.agency == agency, User.username.in_(["officer", "supervisor", "master_f01"])
            )
        )
    }
    bureau = [
        _Who(u.id, u.display_name or u.username, u.role, u.station_code)
        for name in ("officer", "supervisor")
        if (u := users.get(name)) is not None
    ] or [_Who(None, "区医保局", "bureau_officer", None)]
    stations = [
        s
        for s in session.scalars(
            select(Station).where(Station.agency == agency, Station.active).order_by(Station.id)
        )
        if s.kind in ("fixed", "town", "village") or s.code in MOBILE_SAMPLE
    ]
    made = 0
    for station in stations:
        count = 3 if station.kind in ("fixed", "town") else 2 + rng.randrange(2)
        # The latest inspection: F01 a week ago (its open items run), others 30–75 days ago.
        latest_ago = 7 if station.code == "F01" else rng.randrange(30, 75)
        gaps = sorted((rng.randrange(90, 150) for _ in range(count - 1)), reverse=True)
        ago = [latest_ago + sum(gaps[i:]) for i in range(count - 1)] + [latest_ago]
        for n, days_ago in enumerate(ago):
            day = _working_day_before(calendar, today - timedelta(days=min(days_ago, 360)))
            master = None
            if station.code == "F01" and "master_f01" in users:
                u = users["master_f01"]
                master = _Who(u.id, u.display_name or u.username, u.role, u.station_code)
            made += _inspection(
                session,
                agency=agency,
                station=station,
                day=day,
                today=today,
                items=cl.items,
                version=cl.version,
                deadline_days=cl.deadline_days,
                strictness=0.5**n,
                latest=n == len(ago) - 1,
                calendar=calendar,
                inspector=rng.choice(bureau),
                master=master
                or _Who(None, station.master or "站长", "station_master", station.code),
                rng=rng,
            )
    return made


def _inspection(
    session: Session,
    *,
    agency: str,
    station: Station,
    day: date,
    today: date,
    items: tuple[Item, ...],
    version: str,
    deadline_days: int,
    strictness: float,
    latest: bool,
    calendar: WorkCalendar,
    inspector: _Who,
    master: _Who,
    rng: random.Random,
) -> int:
    mobile = station.kind == "mobile"
    failed: set[str] = set()
    for item in items:
        rate = FAIL_RATE[item.area.value] + (MOBILE_EXTRA.get(item.code, 0.0) if mobile else 0.0)
        if rng.random() < rate * strictness:
            failed.add(item.code)
    while latest and len(failed) < 2:  # every station has something to show on its latest page
        failed.add(rng.choice([i.code for i in items if i.weight == 1]))
    scored = rules.score(Checked(i.area.value, i.weight, i.code not in failed) for i in items)
    created = _at(day, rng)
    inspection = Inspection(
        id=uuid.uuid4(),
        agency=agency,
        station_code=station.code,
        inspection_date=day,
        inspectors=[inspector.name, rng.choice([n for n in INSPECTORS if n != inspector.name])],
        checklist_version=version,
        score=scored.total,
        area_scores=scored.areas,
        passed=scored.passed,
        failed=scored.failed,
        deadline_days=deadline_days,
        note="整体情况良好，请按期完成整改。" if failed else "四到位情况良好。",
        created_by=inspector.id,
        created_by_name=inspector.name,
        created_at=created,
    )
    session.add(inspection)
    results = []
    for seq, item in enumerate(items, start=1):
        results.append(
            InspectionResult(
                agency=agency,
                inspection_id=inspection.id,
                seq=seq,
                item_code=item.code,
                area=item.area.value,
                item_name_zh=item.name_zh,
                item_name_en=item.name_en,
                weight=item.weight,
                passed=item.code not in failed,
                note=PROBLEMS[item.code][0] if item.code in failed else None,
            )
        )
    session.add_all(results)
    session.flush()
    due, estimated = rules.deadline(calendar, day, deadline_days)
    # The latest inspection's tasks take turns: open, reported, open, verified (open ones of an
    # inspection 30+ days ago are overdue by now).
    turns = ("open", "reported", "open", "verified")
    offset = rng.randrange(len(turns))
    for k, result in enumerate(r for r in results if not r.passed):
        plan = turns[(offset + k) % len(turns)] if latest else None
        task = InspectionTask(
            id=uuid.uuid4(),
            agency=agency,
            inspection_id=inspection.id,
            result_id=result.id,
            station_code=station.code,
            owner_name=station.master,
            item_code=result.item_code,
            area=result.area,
            item_name_zh=result.item_name_zh,
            item_name_en=result.item_name_en,
            problem=result.note or "",
            state=TaskState.OPEN.value,
            deadline_date=due,
            deadline_estimated=estimated,
            created_at=created,
            updated_at=created,
        )
        session.add(task)
        events = [
            InspectionTaskEvent(
                agency=agency,
                task_id=task.id,
                seq=1,
                at=created,
                actor_id=inspector.id,
                actor_name=inspector.name,
                action="create",
                from_state=None,
                to_state=TaskState.OPEN.value,
            )
        ]
        _walk(
            task,
            events,
            plan=plan,
            day=day,
            due=due,
            today=today,
            calendar=calendar,
            inspector=inspector,
            master=master,
            rng=rng,
        )
        session.add_all(events)
    return 1


def _walk(
    task: InspectionTask,
    events: list[InspectionTaskEvent],
    *,
    plan: str | None,
    day: date,
    due: date,
    today: date,
    calendar: WorkCalendar,
    inspector: _Who,
    master: _Who,
    rng: random.Random,
) -> None:
    """Take the task through the lifecycle, as people would have, up to today."""
    fix_note = next((v[1] for k, v in PROBLEMS.items() if k == task.item_code), "已整改")
    if plan is None:  # an older inspection: verified, now and then after a send-back
        plan = "verified" if rng.random() < 0.85 else "sent_back"
    if plan == "open":
        return
    # The station master reports within the deadline mostly, sometimes a few days late.
    late = rng.random() < 0.2
    report_day = calendar.add_working_days(day, rng.randrange(2, 9)).date
    if late:
        report_day = calendar.add_working_days(due, rng.randrange(1, 5)).date
    report_day = min(report_day, today)
    steps: list[tuple[TaskAction, _Who, date, str | None]] = [
        (TaskAction.REPORT_FIXED, master, report_day, fix_note)
    ]
    if plan == "sent_back":
        back_day = min(calendar.add_working_days(report_day, 2).date, today)
        again = min(calendar.add_working_days(back_day, 3).date, today)
        steps += [
            (TaskAction.SEND_BACK, inspector, back_day, "现场复查仍未整改到位，请继续整改"),
            (TaskAction.REPORT_FIXED, master, again, fix_note + "（已复改）"),
        ]
        report_day = again
    if plan in ("verified", "sent_back"):
        verify_day = min(calendar.add_working_days(report_day, rng.randrange(1, 6)).date, today)
        steps.append((TaskAction.VERIFY, inspector, verify_day, "现场复查，整改到位"))
    state = TaskState.OPEN
    for action, who, when, note in steps:
        decision = rules.decide(
            state,
            action,
            role=who.role,
            unit=who.unit,
            station=task.station_code,
            note=note,
            today=when,
            reported_date=task.reported_date,
        )
        at = max(_at(when, rng), events[-1].at + timedelta(minutes=5))
        events.append(
            InspectionTaskEvent(
                agency=task.agency,
                task_id=task.id,
                seq=len(events) + 1,
                at=at,
                actor_id=who.id,
                actor_name=who.name,
                action=action.value,
                from_state=state.value,
                to_state=decision.state.value,
                note=decision.note,
            )
        )
        state = decision.state
        task.state = state.value
        task.reported_date = decision.reported_date
        task.closed_date = decision.closed_date
        task.last_note = decision.note
        task.updated_at = at
