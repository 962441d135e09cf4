"""Synthetic but lifecycle-consistent past cases for the demo node.

Every case is played through :func:`yibao.cases.lifecycle.decide` step by step, on the dates
the steps happen, with the node's own calendar and units; the stored row is what those steps
produced and the timeline is one event per step. Nothing here is real personal data: ID
numbers, names and phones are drawn from small synthetic lists with a seeded generator.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from yibao.accounts import service as accounts_service
from yibao.accounts.models import User
from yibao.accounts.service import create_user
from yibao.audit import guard
from yibao.calendar.rules import WorkCalendar
from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import OPEN, Action, ActorRef, CaseSnapshot, Command, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.service import RUNNING
from yibao.catalog.service import ServiceInfo
from yibao.config import Settings
from yibao.db import Base, Database
from yibao.people import rules as people
from yibao.runtime import Reference, load_reference
from yibao.sealing import keys as sealing_keys
from yibao.stations.models import Station
from yibao.stations.service import list_stations
from yibao.visits import rules as visit_rules
from yibao.visits.models import Visit, VisitEvent

DEMO_PASSWORD = "yibao-demo-2026"
DEFAULT_SEED = 20261129
WINDOW_DAYS = 120
# Share of open cases shown overdue: a network that is mostly on time, with a visible red tail.
OVERDUE_SHARE = 0.065
TZ = ZoneInfo("Asia/Shanghai")

DEMO_USERS: list[tuple[str, str, str | None]] = [
    ("clerk_bureau", "clerk", "BUREAU"),
    ("clerk_f01", "clerk", "F01"),
    ("clerk_f02", "clerk", "F02"),
    ("clerk_t01", "clerk", "T01"),
    ("clerk_v01", "clerk", "V01"),
    ("clerk_m01", "clerk", "M01"),
    ("clerk_m02", "clerk", "M02"),
    ("master_f01", "station_master", "F01"),
    ("officer", "bureau_officer", "BUREAU"),
    ("supervisor", "supervisor", None),
    ("auditor", "auditor", None),
    ("admin", "admin", None),
]

# Fictional staff names shown in timelines; master_f01 is the F01 master of the station data.
_DISPLAY_NAMES = {
    "clerk_bureau": "王静",
    "clerk_f01": "李婷",
    "clerk_f02": "赵敏",
    "clerk_t01": "孙丽",
    "clerk_v01": "邱小兰",
    "clerk_m01": "吴磊",
    "clerk_m02": "唐雪",
    "master_f01": "陈晓燕",
    "officer": "张伟",
    "supervisor": "刘卫东",
    "auditor": "钱立新",
    "admin": "郑强",
}

# --- volumes ----------------------------------------------------------------------------------

# Relative cases per open day; a mobile station's weight is per visit.
_KIND_WEIGHT = {"bureau": 40.0, "fixed": 20.0, "town": 9.0, "village": 5.0, "mobile": 6.0}
_CODE_WEIGHT = {"F01": 22.0, "F02": 18.0}
_MARKET_DAY_WEIGHT = 9.0  # a Saturday visit falls on a village market day (赶场), so it is busier
_WEEKDAY_FACTOR = (1.25, 1.1, 1.0, 1.0, 0.9, 0.8, 0.8)

_ITEM_WEIGHT = {
    "insurance_certificate": 18.0,
    "policy_consultation": 16.0,
    "resident_enrolment": 14.0,
    "remote_care_filing": 12.0,
    "outpatient_reimbursement_small": 10.0,
    "inpatient_reimbursement": 9.0,
    "insured_details_change": 6.0,
    "outpatient_reimbursement": 6.0,
    "chronic_disease_recognition": 5.0,
    "employee_enrolment": 3.0,
    "medical_assistance": 2.0,
    "relationship_transfer": 1.5,
    "supervision_lead": 2.0,
    "maternity_benefits": 1.2,
    "personal_account_withdrawal": 0.8,
    "complaint": 0.8,
}
_REIMBURSEMENTS = (
    "outpatient_reimbursement_small",
    "outpatient_reimbursement",
    "inpatient_reimbursement",
)
_KIND_FACTOR: dict[str, dict[str, float]] = {
    # Hospital stations file treatment elsewhere on the spot and see inpatients and doctors.
    "fixed": {
        "remote_care_filing": 3.0,
        "inpatient_reimbursement": 1.5,
        "chronic_disease_recognition": 2.0,
        "employee_enrolment": 0.3,
        "relationship_transfer": 0.5,
    },
    "bureau": {
        "employee_enrolment": 2.0,
        "relationship_transfer": 2.5,
        "personal_account_withdrawal": 2.0,
        "maternity_benefits": 1.5,
        "complaint": 1.5,
    },
    "town": {"medical_assistance": 2.5, "employee_enrolment": 1.2},
    "village": {
        "resident_enrolment": 1.5,
        "policy_consultation": 1.3,
        "insurance_certificate": 1.2,
        "employee_enrolment": 0.2,
        "maternity_benefits": 0.3,
        "relationship_transfer": 0.5,
    },
    "mobile": {
        "resident_enrolment": 1.6,
        "policy_consultation": 1.4,
        "insurance_certificate": 1.2,
        "employee_enrolment": 0.2,
        "maternity_benefits": 0.3,
        "relationship_transfer": 0.5,
        "outpatient_reimbursement": 0.7,
        "inpatient_reimbursement": 0.7,
    },
}
# Supervision leads come from the checkpoint inside hospitals, never from the hall.
_ONLY_AT = {"supervision_lead": frozenset({"fixed"})}

# Share of each item taken by phone or online at the bureau hall; the rest at the window.
_BUREAU_REMOTE = {
    "policy_consultation": (0.30, 0.0),
    "complaint": (0.30, 0.05),
    "remote_care_filing": (0.0, 0.35),
    "insurance_certificate": (0.0, 0.15),
    "resident_enrolment": (0.0, 0.10),
}

# --- synthetic people -------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林谢唐邓冯曾彭蒋袁廖雷钟谭田熊邱"
_GIVEN_M = (
    "建国",
    "志强",
    "国华",
    "德明",
    "伟",
    "军",
    "勇",
    "明",
    "杰",
    "海波",
    "小龙",
    "文斌",
    "家俊",
    "宇航",
    "子豪",
    "浩然",
    "光荣",
    "世平",
    "大伟",
    "永福",
)
_GIVEN_F = (
    "秀英",
    "桂芳",
    "淑珍",
    "玉兰",
    "丽",
    "静",
    "敏",
    "燕",
    "红梅",
    "小琴",
    "婷婷",
    "欣怡",
    "雨涵",
    "思琪",
    "佳怡",
    "素华",
    "春兰",
    "晓梅",
    "德芬",
    "金凤",
)
# Neighbouring districts of Chongqing whose people also use Yongchuan's stations.
_NEARBY_REGIONS = ("500116", "500151", "500152", "500153", "500120", "500106")
_PHONE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190))

# --- reasons and notes ------------------------------------------------------------------------

_REJECT_REASONS: dict[str, tuple[str, ...]] = {
    "outpatient_reimbursement_small": (
        "所报费用已在定点医药机构联网直接结算，不得重复报销",
        "票据为非正式医疗收费票据，不能作为报销凭证",
    ),
    "outpatient_reimbursement": (
        "所报费用已在定点医药机构联网直接结算，不得重复报销",
        "费用发生时间已超过零星报销申报期限",
    ),
    "inpatient_reimbursement": (
        "住院费用属于工伤保险支付范围，应由工伤保险基金支付",
        "费用发生时间已超过零星报销申报期限",
    ),
    "chronic_disease_recognition": (
        "病历资料不符合门诊慢特病认定标准",
        "所申请病种不在本统筹区门诊慢特病病种目录内",
    ),
    "maternity_benefits": ("生育时职工医保连续缴费未满规定期限，暂不享受生育保险待遇",),
    "personal_account_withdrawal": ("申请人不符合个人账户一次性支取条件",),
    "medical_assistance": ("申请人不属于医疗救助对象范围", "同一费用已享受医疗救助，不得重复申请"),
    "relationship_transfer": (
        "转出地参保信息与身份信息不一致，需先在转出地更正",
        "申请人在转出地仍为参保缴费状态，暂不能办理转移",
    ),
    "resident_enrolment": ("申请人本年度已在其他统筹区参加基本医疗保险，不能重复参保",),
    "employee_enrolment": ("用人单位尚未办理医保单位参保登记",),
    "complaint": ("投诉事项属卫生健康部门职责，已告知申请人向其反映",),
    "supervision_lead": ("线索内容不具体，无法核查", "经核查与已办结线索重复"),
}
_REJECT_DEFAULT = ("申请事项不属于本机构受理范围", "申请人身份信息与公安人口信息不一致")
_REJECT_UNSUPPLIED = "申请人逾期未补正材料，依规不予受理"
_WITHDRAW_REASONS = (
    "申请人主动申请撤回",
    "申请人已通过其他渠道办理完毕",
    "申请人已回参保地办理，家属代为申请撤回",
    "申请人表示暂不办理",
)
_WITHDRAW_UNSUPPLIED = "申请人告知无法提供所需材料，申请撤回"
_WITHDRAW_COMPLAINT = "投诉人表示问题已协调解决，撤回投诉"
_NOTES: dict[str, tuple[str, ...]] = {
    "policy_consultation": (
        "咨询2027年度城乡居民医保缴费标准及缴费期",
        "咨询异地就医直接结算办理流程",
        "咨询职工医保门诊共济保障政策",
        "咨询门诊慢特病病种及认定条件",
        "咨询个人账户家庭共济使用范围",
        "咨询新生儿参保登记办理方式",
    ),
    "complaint": (
        "反映零星报销进度较慢",
        "反映定点药店医保卡结算时加收费用",
        "对住院费用报销比例有异议",
        "反映医院窗口未一次性告知所需材料",
    ),
    "supervision_lead": (
        "患者反映住院期间被要求到院外药店自费购药",
        "病房巡查发现疑似挂床住院",
        "患者反映费用清单中有未实施的检查项目",
        "疑似分解住院，同一患者短期内多次出入院",
    ),
}


# --- mobile itineraries -----------------------------------------------------------------------


def _schedule(code: str, seed: int) -> tuple[tuple[int, ...], int | None]:
    """A mobile station's weekdays (Mon=0) and, for some, the week phase of its Saturday visits."""
    r = random.Random(f"{seed}:{code}")
    weekdays = tuple(sorted(r.sample(range(5), r.choice((1, 2)))))
    saturday_phase = r.randrange(4) if r.random() < 0.35 else None
    return weekdays, saturday_phase


def _ordinary_saturday(d: date, calendar: WorkCalendar) -> bool:
    # A Saturday inside a holiday run (国庆, 春节) is framed by days off; skip those.
    return (
        d.weekday() == 5
        and not calendar.is_working_day(d)
        and calendar.is_working_day(d - timedelta(days=1))
        and calendar.is_working_day(d + timedelta(days=2))
    )


def visit_days(
    code: str, first: date, last: date, calendar: WorkCalendar, *, seed: int = DEFAULT_SEED
) -> list[date]:
    """The days in [first, last] on which mobile station ``code`` visits its villages."""
    weekdays, saturday_phase = _schedule(code, seed)
    out: list[date] = []
    d = first
    while d <= last:
        wd = d.weekday()
        if (wd in weekdays and calendar.is_working_day(d)) or (
            saturday_phase is not None
            and d.isocalendar().week % 4 == saturday_phase
            and _ordinary_saturday(d, calendar)
        ):
            out.append(d)
        d += timedelta(days=1)
    return out


def _demo_visits(
    session: Session, gen: _Generator, users: dict[str, User], *, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[str, date], list[Any]]]:
    """The visits the demo's mobile cases fall on: on each visit day of a station, its next
    villages in turn, two a day (morning and afternoon); past ones done, later ones planned.

    Days that already have visits (a second run) keep them. Returns the new visit rows, their
    log rows, and every visit of each (station, day) as (id, start, end, village).
    """
    agency = gen.agency
    r = random.Random(f"{seed}:visits")
    by_day: dict[tuple[str, date], list[Any]] = {}
    for v in session.scalars(
        select(Visit).where(
            Visit.agency == agency,
            Visit.visit_date >= gen.first,
            Visit.state != visit_rules.VisitState.CANCELLED.value,
        )
    ):
        by_day.setdefault((v.station_code, v.visit_date), []).append(
            (v.id, v.start_time, v.end_time, v.village)
        )
    supervisor = users.get("supervisor")
    planner_name = (supervisor.display_name or supervisor.username) if supervisor else "demo"
    planner_id = supervisor.id if supervisor else None
    visit_rows: list[dict[str, Any]] = []
    log_rows: list[dict[str, Any]] = []
    for s in gen.stations:
        if s.kind != "mobile" or not s.villages or not s.town_code:
            continue
        team = sorted(
            u.username
            for u in users.values()
            if u.station_code == s.code and u.role in ("clerk", "station_master")
        )
        staff = gen.staff[s.code][0][0]
        villages = list(s.villages)
        per_day = min(2, len(villages))
        for i, day in enumerate(gen.visits[s.code]):
            if (s.code, day) in by_day:
                continue
            planned_at = datetime.combine(
                min(day - timedelta(days=21), gen.today), time(16, 0), TZ
            ).astimezone(UTC)
            for k in range(per_day):
                village = villages[(i * per_day + k) % len(villages)]
                start, end = visit_rules.TWO_WINDOWS[k]
                visit_id = uuid.UUID(int=r.getrandbits(128), version=4)
                done = day < gen.today
                done_at = datetime.combine(day, time(16, 45), TZ).astimezone(UTC)
                visit_rows.append(
                    {
                        "id": visit_id,
                        "agency": agency,
                        "station_code": s.code,
                        "town_code": s.town_code,
                        "town_release": s.town_release,
                        "village": village,
                        "visit_date": day,
                        "start_time": start,
                        "end_time": end,
                        "team": team,
                        "state": "done" if done else "planned",
                        "reason": None,
                        "note": None,
                        "created_by": planner_id,
                        "created_at": planned_at,
                        "updated_at": done_at if done else planned_at,
                        "version": 2 if done else 1,
                    }
                )
                log_rows.append(
                    {
                        "agency": agency,
                        "visit_id": visit_id,
                        "seq": 1,
                        "at": planned_at,
                        "actor_id": planner_id,
                        "actor_name": planner_name,
                        "action": "plan",
                        "reason": None,
                        "detail": {"village": village, "date": day.isoformat()},
                    }
                )
                if done:
                    log_rows.append(
                        {
                            "agency": agency,
                            "visit_id": visit_id,
                            "seq": 2,
                            "at": done_at,
                            "actor_id": staff.user_id,
                            "actor_name": staff.name,
                            "action": "done",
                            "reason": None,
                            "detail": {},
                        }
                    )
                by_day.setdefault((s.code, day), []).append((visit_id, start, end, village))
    return visit_rows, log_rows, by_day


def _link_visit(row: dict[str, Any], by_day: dict[tuple[str, date], list[Any]]) -> None:
    """Link a mobile case to the visit it was taken on, and name that village in its note."""
    row["visit_id"] = None
    visits = by_day.get((row["intake_station"], row["intake_date"]))
    if not visits:
        return
    moment = row["received_at"].astimezone(TZ).time()
    key = visit_rules.attribute(moment, [visit_rules.Window(v[0], v[1], v[2]) for v in visits])
    chosen = next(v for v in visits if v[0] == key)
    row["visit_id"] = chosen[0]
    note = row.get("note") or ""
    head, sep, rest = note.partition("；")
    if head.startswith("流动服务点："):
        row["note"] = f"流动服务点：{chosen[3]}{sep}{rest}"


# --- staff ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Staff:
    """Someone who acts on cases at one unit; ``user_id`` is None for a station without a login."""

    name: str
    role: str
    unit: str
    user_id: int | None

    @property
    def ref(self) -> ActorRef:
        return ActorRef(role=self.role, unit=self.unit)


class _Stop(Exception):
    """The story ends here: closed early, or the next step would fall on today or later."""


class _Run:
    """One case played through the lifecycle; its columns are only what ``decide`` returned."""

    def __init__(
        self,
        gen: _Generator,
        *,
        station: str,
        service: ServiceInfo,
        channel: str,
        due: date,
        due_estimated: bool,
        received: list[str],
        started: datetime,
        intake_staff: _Staff,
    ) -> None:
        self.gen = gen
        self.service = service
        self.channel = channel
        self.intake_station = station
        self.intake_staff = intake_staff
        self.received_at = started
        self.cols: dict[str, Any] = {
            "state": State.RECEIVED,
            "unit": station,
            "due_date": due,
            "due_estimated": due_estimated,
            "remaining_days": None,
            "materials_received": list(received),
            "materials_missing": [],
            "closed_date": None,
        }
        self.events: list[dict[str, Any]] = []
        self.at = started  # local time of the last step
        self.day = started.date()

    @property
    def state(self) -> State:
        return State(self.cols["state"])

    @property
    def unit(self) -> str:
        return str(self.cols["unit"])

    @property
    def overdue(self) -> bool:
        """Overdue today, as ``overdue_clause`` counts it (a paused case by its frozen days)."""
        if self.state is State.MATERIALS_PENDING:
            return int(self.cols["remaining_days"]) < 0
        return self.state.value in RUNNING and self.cols["due_date"] < self.gen.today

    @property
    def outstanding(self) -> list[str]:
        return [m for m in self.service.materials if m not in self.cols["materials_received"]]

    def snapshot(self) -> CaseSnapshot:
        return CaseSnapshot(
            state=self.state,
            unit=self.unit,
            intake_station=self.intake_station,
            due_date=self.cols["due_date"],
            remaining_days=self.cols["remaining_days"],
            materials=self.service.materials,
            received=tuple(self.cols["materials_received"]),
            complete_kinds=self.service.complete_kinds,
        )

    def step(
        self,
        action: Action,
        day: date,
        staff: _Staff,
        *,
        reason: str | None = None,
        missing: Sequence[str] = (),
        to_unit: str | None = None,
    ) -> None:
        if day >= self.gen.today:
            raise _Stop
        decision = lifecycle.decide(
            self.snapshot(),
            Command(
                action=action, reason=reason, missing_materials=tuple(missing), to_unit=to_unit
            ),
            staff.ref,
            today=day,
            calendar=self.gen.calendar,
            unit_kinds=self.gen.ref.units,
        )
        self.at = self.gen.moment(day, self.unit, after=self.at)
        self.day = day
        self.cols.update(decision.changes)
        self.cols["state"] = decision.to_state
        self.events.append(
            self.gen.event_row(
                staff,
                self.at,
                action.value,
                decision.from_state.value,
                decision.to_state.value,
                decision.reason,
                decision.detail,
            )
        )


class _Generator:
    """The node's reference data, staff and itineraries; ``rng`` is the stream now drawn from.

    Each case's story draws from a stream of its own, so that one case can be replayed alone;
    identities (case numbers, applicants) come from the main stream, after every story is set.
    """

    def __init__(
        self,
        *,
        agency: str,
        ref: Reference,
        stations: list[Station],
        staff: dict[str, list[tuple[_Staff, float]]],
        rng: random.Random,
        today: date,
        seed: int,
    ) -> None:
        self.seed = seed
        self.agency = agency
        self.ref = ref
        self.calendar = ref.calendar
        self.stations = stations
        self.staff = staff
        self.rng = rng
        self.today = today
        self.first = today - timedelta(days=WINDOW_DAYS)
        bureau = lifecycle.normalize_unit("bureau", ref.units)
        if bureau is None:
            raise ValueError("the agency has no bureau hall; run `yibao init` first")
        self.bureau = bureau
        # Visits run past today so that "the next visit" of a pending case is always defined.
        self.visits = {
            s.code: visit_days(
                s.code, self.first, today + timedelta(days=60), self.calendar, seed=seed
            )
            for s in stations
            if s.kind == "mobile"
        }
        self.villages = {s.code: list(s.villages or []) for s in stations}
        self._initials: dict[str, str] = {}
        self._items = {kind: self.item_table(kind) for kind in sorted(set(ref.units.values()))}

    # ---- days and times

    def kind(self, unit: str) -> str:
        return self.ref.units[unit]

    def later(self, unit: str, day: date, n: int) -> date:
        """The n-th day after ``day`` on which ``unit`` works (n == 0: ``day`` or the next)."""
        visits = self.visits.get(unit)
        if visits is None:
            return self.calendar.add_working_days(day, n).date
        i = bisect_left(visits, day) if n == 0 else bisect_right(visits, day) + n - 1
        return visits[i] if i < len(visits) else date.max

    def moment(self, day: date, unit: str, *, after: datetime | None) -> datetime:
        """A plausible local time for a step at ``unit`` on ``day``, after the previous one."""
        if after is not None and after.date() == day:
            nxt = after + timedelta(
                minutes=self.rng.randint(2, 35), seconds=self.rng.randint(0, 59)
            )
            # Past closing the clerk finishes in a minute rather than spilling into the evening.
            if nxt.time() > time(17, 50):
                nxt = after + timedelta(seconds=self.rng.randint(20, 90))
            return nxt
        if self.kind(unit) == "mobile":
            start, span = time(9, 0), 390  # 9:00-15:30 in the village
        elif self.rng.random() < 0.62:
            start, span = time(8, 30), 210  # morning rush
        else:
            start, span = time(14, 0), 210
        base = datetime.combine(day, start, TZ)
        return base + timedelta(minutes=self.rng.randrange(span), seconds=self.rng.randrange(60))

    # ---- people

    def pick_staff(self, unit: str) -> _Staff:
        choices = self.staff[unit]
        return self.rng.choices([s for s, _ in choices], [w for _, w in choices])[0]

    def handler(self, unit: str) -> _Staff:
        """Who works a case through at ``unit``: at the hall, mostly the bureau officer."""
        if unit == self.bureau:
            officers = [s for s, _ in self.staff[unit] if s.role == "bureau_officer"]
            if officers and self.rng.random() < 0.75:
                return officers[0]
        return self.pick_staff(unit)

    def applicant(self, service_code: str) -> tuple[people.IdNumber, str, str]:
        r = self.rng
        female = r.random() < 0.5
        if service_code == "maternity_benefits":
            female, year = True, r.randint(1986, 2002)
        elif r.random() < 0.5:
            year = r.randint(1940, 1965)  # retirees use the stations most
        else:
            year = r.randint(1966, 2005)
        region = "500118" if r.random() < 0.8 else r.choice(_NEARBY_REGIONS)
        seq = r.randrange(0, 1000, 2) + (0 if female else 1)  # the 17th digit carries the sex
        body = f"{region}{year:04d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{seq:03d}"
        id_number = people.parse_id_number(
            body + str(ric.calc_check_digit(body + "0")), today=self.today
        )
        name = r.choice(_SURNAMES) + r.choice(_GIVEN_F if female else _GIVEN_M)
        phone = f"{r.choice(_PHONE_PREFIXES)}{r.randrange(10**8):08d}"
        return id_number, name, phone

    def initials(self, name: str) -> str:
        # pypinyin is the slowest part of a case; names repeat, so remember them.
        found = self._initials.get(name)
        if found is None:
            found = self._initials[name] = people.name_initials(name)
        return found

    def event_row(
        self,
        staff: _Staff,
        at: datetime,
        action: str,
        from_state: str | None,
        to_state: str,
        reason: str | None,
        detail: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "at": at.astimezone(UTC),
            "actor_id": staff.user_id,
            "actor_name": staff.name,
            "actor_role": staff.role,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "detail": detail,
        }

    # ---- volumes

    def slots(self) -> tuple[list[tuple[date, str]], list[float]]:
        """Every (day, station) on which the station takes cases, with its expected share."""
        slots: list[tuple[date, str]] = []
        weights: list[float] = []
        d = self.first
        while d < self.today:
            working = self.calendar.is_working_day(d)
            # The first day after a long holiday brings the queue that built up meanwhile.
            after_break = working and not any(
                self.calendar.is_working_day(d - timedelta(days=k)) for k in (1, 2, 3)
            )
            factor = _WEEKDAY_FACTOR[d.weekday()] * (1.5 if after_break else 1.0)
            for s in self.stations:
                if s.kind == "mobile":
                    if d not in self.visits[s.code]:
                        continue
                    w = _MARKET_DAY_WEIGHT if not working else _KIND_WEIGHT["mobile"]
                elif working:
                    w = _CODE_WEIGHT.get(s.code, _KIND_WEIGHT.get(s.kind, 5.0)) * factor
                else:
                    continue
                slots.append((d, s.code))
                weights.append(w)
            d += timedelta(days=1)
        return slots, weights

    def item_table(self, kind: str) -> tuple[list[ServiceInfo], list[float]]:
        items: list[ServiceInfo] = []
        weights: list[float] = []
        for code, svc in self.ref.services.items():
            if kind not in svc.accept_kinds:
                continue
            only = _ONLY_AT.get(code)
            if only is not None and kind not in only:
                continue
            items.append(svc)
            weights.append(_ITEM_WEIGHT.get(code, 0.5) * _KIND_FACTOR.get(kind, {}).get(code, 1.0))
        return items, weights

    def channel(self, kind: str, service_code: str) -> str:
        if kind == "mobile":
            return "mobile"
        if kind == "bureau":
            phone, online = _BUREAU_REMOTE.get(service_code, (0.0, 0.0))
            r = self.rng.random()
            if r < phone:
                return "phone"
            if r < phone + online:
                return "online"
        return "window"

    # ---- one case

    def materials_at_intake(self, svc: ServiceInfo) -> tuple[list[str], bool]:
        """What the applicant brought, and whether something needed is missing."""
        r = self.rng
        mats = list(svc.materials)
        if not mats:
            return [], False
        if svc.code == "remote_care_filing":
            # Proof of living elsewhere or the signed commitment: either one will do.
            if r.random() < 0.08:
                return ["id_card"], True
            return [
                "id_card",
                "remote_care_proof" if r.random() < 0.55 else "commitment_letter",
            ], False
        # The extra paper is needed only for some changes (name, ID) or for an heir.
        optional_extra = svc.code in ("insured_details_change", "personal_account_withdrawal")
        if optional_extra and r.random() < 0.55:
            return ["id_card"], False
        others = [m for m in mats if m != "id_card"]
        p_missing = 0.18 if svc.code in _REIMBURSEMENTS else 0.10
        if not others or r.random() >= p_missing:
            return mats, False
        drop = set(r.sample(others, r.randint(1, min(2, len(others)))))
        return [m for m in mats if m not in drop], True

    def story(self, index: int, day: date, station: str, *, late: bool | None = None) -> _Run:
        """Case ``index``: its item and timeline, replayable alone from its own stream."""
        self.rng = r = random.Random(f"{self.seed}:case:{index}")
        kind = self.kind(station)
        items, weights = self._items[kind]
        svc = r.choices(items, weights)[0]
        channel = self.channel(kind, svc.code)
        received, short = self.materials_at_intake(svc)
        limit = rules.time_limit(svc.time_limit_days, svc.channel_limits, channel)
        due = rules.due_at_intake(self.calendar, day, limit)
        intake_staff = self.pick_staff(station)
        at = self.moment(day, station, after=None)
        run = _Run(
            self,
            station=station,
            service=svc,
            channel=channel,
            due=due.date,
            due_estimated=due.estimated,
            received=received,
            started=at,
            intake_staff=intake_staff,
        )
        run.events.append(
            self.event_row(
                intake_staff,
                at,
                "intake",
                None,
                State.RECEIVED.value,
                None,
                {
                    "station": station,
                    "channel": channel,
                    "due_date": due.date.isoformat(),
                    "captured_at": at.astimezone(UTC).isoformat(),
                },
            )
        )
        with contextlib.suppress(_Stop):
            self.play(run, limit=limit, short=short, late=late)
        return run

    def row(
        self, run: _Run, rng: random.Random, used: set[str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The stored case and its events, with a synthetic applicant drawn from ``rng``."""
        self.rng = r = rng
        svc, station, at = run.service, run.intake_station, run.received_at
        day = at.date()
        case_id = uuid.UUID(int=r.getrandbits(128), version=4)
        while True:
            case_no = f"{day:%Y%m%d}{r.randrange(10**7):07d}"
            if case_no not in used:
                used.add(case_no)
                break
        applicant, name, phone = self.applicant(svc.code)
        notes: list[str] = []
        if self.kind(station) == "mobile" and self.villages.get(station):
            notes.append(f"流动服务点：{r.choice(self.villages[station])}")
        if svc.code in _NOTES:
            notes.append(r.choice(_NOTES[svc.code]))
        events = [dict(ev, case_id=case_id, seq=seq) for seq, ev in enumerate(run.events, 1)]
        cols = run.cols
        row = {
            "id": case_id,
            "agency": self.agency,
            "case_no": case_no,
            "service_code": svc.code,
            "intake_station": station,
            "unit": cols["unit"],
            "channel": run.channel,
            "state": State(cols["state"]).value,
            "applicant_id_number": applicant.value,
            "applicant_id_tail": applicant.tail,
            "applicant_id_key": applicant.value,  # digested on bind (yibao.sealing)
            "applicant_name": name,
            "applicant_initials": self.initials(name),
            "applicant_phone": phone,
            "materials_received": list(cols["materials_received"]),
            "materials_missing": list(cols["materials_missing"]),
            "note": "；".join(notes) or None,
            "received_at": at.astimezone(UTC),
            "intake_date": day,
            "due_date": cols["due_date"],
            "due_estimated": bool(cols["due_estimated"]),
            "remaining_days": cols["remaining_days"],
            "closed_date": cols["closed_date"],
            "created_by": run.intake_staff.user_id,
            "created_at": at.astimezone(UTC),
            "updated_at": events[-1]["at"],
            "version": len(events),
        }
        return row, events

    def play(self, run: _Run, *, limit: int, short: bool, late: bool | None) -> None:
        """The case's story after intake; raises ``_Stop`` where today cuts it off."""
        r = self.rng
        intake_staff = run.intake_staff
        svc = run.service
        station = run.intake_station
        day0 = run.day
        instant = limit == 0
        must_forward = self.kind(station) not in svc.complete_kinds
        # A consultation is answered on the spot; there is nothing to refuse or take back.
        fate = r.random() if svc.code != "policy_consultation" else 1.0
        withdraw = fate < 0.02
        reject = 0.02 <= fate < 0.04

        # Not eligible at all: the window says so at once.
        if reject and r.random() < 0.3:
            run.step(Action.REJECT, day0, intake_staff, reason=self.reject_reason(svc))
            return

        # 一次性告知 at the window, unless the papers go on to the hall and it asks there.
        if short and (not must_forward or r.random() < 0.7):
            self.materials(run, intake_staff)

        if must_forward:
            if run.state is State.RECEIVED and r.random() < 0.3:
                run.step(Action.START, run.day, intake_staff)
            # Papers of a non-urgent item often go to the hall in the next day's batch; a mobile
            # team forwards from the laptop on the visit itself.
            batch = 0 if instant or self.kind(station) == "mobile" or r.random() < 0.7 else 1
            forward_day = self.later(station, run.day, batch)
            run.step(Action.FORWARD, forward_day, self.pick_staff(station), to_unit="bureau")
            forwarded_on = run.day
            if self.kind(station) == "mobile" and not instant:
                # The team's paper files reach the hall when it drives back, not at once.
                wait = r.choices((1, 2, 3, 4, 5), (2, 3, 3, 2, 1))[0]
            elif instant and r.random() < 0.85:
                wait = 0
            else:
                wait = r.choices((0, 1, 2, 3), (3, 4, 2, 1))[0]
            take_day = self.later(self.bureau, forwarded_on, wait)
            if withdraw and r.random() < 0.3:
                # The station where the person applied withdraws it on their behalf.
                run.step(
                    Action.WITHDRAW,
                    take_day,
                    self.pick_staff(station),
                    reason=r.choice(_WITHDRAW_REASONS),
                )
                return
            run.step(Action.TAKE, take_day, self.handler(self.bureau))
            if run.outstanding and short:
                self.materials(run, self.handler(self.bureau))
        elif run.state is State.RECEIVED and (not instant or r.random() < 0.12):
            delay = 0 if instant else r.choices((0, 1, 2, 3), (3, 3, 2, 1))[0]
            start_day = self.later(station, run.day, delay)
            run.step(Action.START, start_day, self.handler(station))

        unit = run.unit
        done_day = self.finish_day(run, limit, late)
        staff = self.handler(unit)
        if withdraw:
            reason = _WITHDRAW_COMPLAINT if svc.code == "complaint" else r.choice(_WITHDRAW_REASONS)
            run.step(Action.WITHDRAW, done_day, staff, reason=reason)
        elif reject:
            run.step(Action.REJECT, done_day, staff, reason=self.reject_reason(svc))
        else:
            run.step(Action.COMPLETE, done_day, staff)

    def materials(self, run: _Run, staff: _Staff) -> None:
        """Ask for every outstanding material at once, then wait for the applicant."""
        r = self.rng
        unit = run.unit
        if run.state is State.RECEIVED and r.random() < 0.4:
            run.step(Action.START, run.day, staff)
            if r.random() < 0.5:
                run.step(
                    Action.REQUEST_MATERIALS,
                    self.later(unit, run.day, 1),
                    staff,
                    missing=run.outstanding,
                )
            else:
                run.step(Action.REQUEST_MATERIALS, run.day, staff, missing=run.outstanding)
        else:
            run.step(Action.REQUEST_MATERIALS, run.day, staff, missing=run.outstanding)
        asked = run.day
        if r.random() < 0.12:
            # Never brought: after a month the case is closed one way or the other.
            month = self.calendar.add_working_days(asked, r.randint(20, 30)).date
            give_up = self.later(unit, month, 0)
            if r.random() < 0.5:
                run.step(Action.REJECT, give_up, self.handler(unit), reason=_REJECT_UNSUPPLIED)
            else:
                run.step(Action.WITHDRAW, give_up, self.handler(unit), reason=_WITHDRAW_UNSUPPLIED)
            raise _Stop
        back = self.later(unit, asked, r.choices((1, 2, 3, 5, 8), (3, 4, 3, 2, 1))[0])
        run.step(Action.SUPPLEMENT, back, self.pick_staff(unit))

    def finish_day(self, run: _Run, limit: int, late: bool | None) -> date:
        """When the handling unit finishes: before the due date, a few of them late."""
        r = self.rng
        unit = run.unit
        due: date = run.cols["due_date"]
        runs_late = r.random() < 0.07 if late is None else late
        if late and due < self.today:
            # Chosen to be still open and overdue today: it is finished after today.
            target = self.later(unit, self.today, r.randint(0, 3))
        elif limit == 0:
            target = self.later(unit, run.day, 1) if runs_late else run.day
        elif runs_late:
            target = self.calendar.add_working_days(due, r.randint(1, 5)).date
        else:
            slack = r.randint(0, max(0, round(limit * 0.4)))
            target = self.calendar.add_working_days(due, -slack).date
        return self.later(unit, max(target, run.day), 0)

    def reject_reason(self, svc: ServiceInfo) -> str:
        return self.rng.choice(_REJECT_REASONS.get(svc.code, _REJECT_DEFAULT))


def _default_today(settings: Settings) -> date:
    if settings.today:
        return date.fromisoformat(settings.today)
    return datetime.now(TZ).date()


def _ensure_users(session: Session, agency: str) -> dict[str, User]:
    """Create the demo logins that are missing; return every demo user by name."""
    names = [u for u, _, _ in DEMO_USERS]
    existing = set(
        session.scalars(
            select(User.username).where(User.agency == agency, User.username.in_(names))
        )
    )
    missing = [u for u in DEMO_USERS if u[0] not in existing]
    if not missing:
        return _demo_users(session, agency, names)
    # One argon2 hash costs about half a second here and every demo login shares the published
    # password, so hash it once instead of once per account.
    original = accounts_service.hash_password
    shared = original(DEMO_PASSWORD)

    def hash_once(password: str) -> str:
        return shared if password == DEMO_PASSWORD else original(password)

    with mock.patch.object(accounts_service, "hash_password", hash_once):
        for username, role, station in missing:
            create_user(
                session,
                agency=agency,
                username=username,
                role=role,
                password=DEMO_PASSWORD,
                station=station,
                display_name=_DISPLAY_NAMES.get(username, ""),
                by="demo",
            )
    return _demo_users(session, agency, names)


def _demo_users(session: Session, agency: str, names: list[str]) -> dict[str, User]:
    return {
        u.username: u
        for u in session.scalars(
            select(User).where(User.agency == agency, User.username.in_(names))
        )
    }


def _staff_table(
    stations: list[Station], users: dict[str, User]
) -> dict[str, list[tuple[_Staff, float]]]:
    """Who acts at each unit, with how often; stations without a demo login use their master."""
    table: dict[str, list[tuple[_Staff, float]]] = {}
    for username, role, _ in DEMO_USERS:
        user = users.get(username)
        if user is None or user.station_code is None or role not in lifecycle.ACTING_ROLES:
            continue
        weight = 3.0 if role == "clerk" else 1.0
        staff = _Staff(user.display_name or user.username, user.role, user.station_code, user.id)
        table.setdefault(user.station_code, []).append((staff, weight))
    for s in stations:
        if s.code not in table:
            table[s.code] = [
                (_Staff(s.master or f"{s.code}站长", "station_master", s.code, None), 1.0)
            ]
    return table


def _tune_overdue(
    gen: _Generator,
    runs: list[_Run],
    slots: list[tuple[date, str]],
    picked: list[int],
    rng: random.Random,
) -> None:
    """Bring the overdue share of open cases to about ``OVERDUE_SHARE`` by replaying a few.

    Left to chance, a demo of a few hundred cases has a handful of open ones and the overdue
    count swings between none and a third of them; replaying chosen cases with their lateness
    fixed keeps the dashboards telling the same story at any size.
    """
    open_runs = [i for i, run in enumerate(runs) if run.state in OPEN]
    target = max(1, round(OVERDUE_SHARE * len(open_runs))) if open_runs else 0
    overdue = [i for i in open_runs if runs[i].overdue]
    if len(overdue) > target:
        rng.shuffle(overdue)
        excess = len(overdue) - target
        for i in overdue:
            replay = gen.story(i, *slots[picked[i]], late=False)
            if not replay.overdue:
                runs[i] = replay
                excess -= 1
                if excess == 0:
                    break
    elif len(overdue) < target:
        # Cases done lately, whose due date has passed: one of them might still be on a desk.
        recent = gen.today - timedelta(days=21)
        candidates = [
            i
            for i, run in enumerate(runs)
            if run.state is State.COMPLETED and recent <= run.cols["due_date"] < gen.today
        ]
        rng.shuffle(candidates)
        missing = target - len(overdue)
        for i in candidates:
            replay = gen.story(i, *slots[picked[i]], late=True)
            if replay.overdue:
                runs[i] = replay
                missing -= 1
                if missing == 0:
                    break


STATION_WORK = ("filings", "ratings", "questionnaires", "leads", "disputes", "inspections")


def _seed_station_work(
    session: Session, agency: str, today: date, seed: int, report: dict[str, int] | None
) -> None:
    """备案, ratings, questionnaires, leads, disputes and inspections over the past cases."""
    import importlib

    for i, name in enumerate(STATION_WORK):
        module = importlib.import_module(f"yibao.{name}.demo")
        made = module.seed_demo(
            session, agency=agency, today=today, rng=random.Random(seed + 101 * i)
        )
        session.flush()
        if report is not None:
            report[name] = int(made)


def generate(
    settings: Settings,
    *,
    cases: int = 4000,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    report: dict[str, int] | None = None,
) -> int:
    """Create the demo users and ``cases`` past cases of the last 120 days; returns the count.

    ``report``, when given, receives how many records each station-work slice made.
    """
    today = today or _default_today(settings)
    rng = random.Random(seed)
    db = Database(settings.resolved_database_url())
    sealing_keys.attach(db.engine, sealing_keys.load(settings))
    try:
        with db.uow() as uow:
            session = uow.session
            guard.bulk(session, "demo data: past cases and station work")
            users = _ensure_users(session, settings.agency)
            ref = load_reference(session, settings.agency)
            stations = list_stations(session, agency=settings.agency)
            gen = _Generator(
                agency=settings.agency,
                ref=ref,
                stations=stations,
                staff=_staff_table(stations, users),
                rng=rng,
                today=today,
                seed=seed,
            )
            used = set(session.scalars(select(Case.case_no).where(Case.agency == settings.agency)))
            slots, weights = gen.slots()
            if not slots or cases <= 0:
                uow.commit()
                return 0
            picked = sorted(rng.choices(range(len(slots)), weights, k=cases))
            runs = [gen.story(i, *slots[k]) for i, k in enumerate(picked)]
            _tune_overdue(gen, runs, slots, picked, rng)
            visit_rows, visit_log, by_day = _demo_visits(session, gen, users, seed=seed)
            case_rows: list[dict[str, Any]] = []
            event_rows: list[dict[str, Any]] = []
            for run in runs:
                row, events = gen.row(run, rng, used)
                _link_visit(row, by_day)
                case_rows.append(row)
                event_rows.extend(events)
            case_rows.sort(key=lambda c: (c["received_at"], c["case_no"]))
            tables = Base.metadata.tables
            if visit_rows:
                session.execute(insert(tables[Visit.__tablename__]), visit_rows)
                session.execute(insert(tables[VisitEvent.__tablename__]), visit_log)
            session.execute(insert(tables[Case.__tablename__]), case_rows)
            session.execute(insert(tables[CaseEvent.__tablename__]), event_rows)
            session.flush()
            _seed_station_work(session, settings.agency, today, seed, report)
            uow.commit()
    finally:
        db.dispose()
    return len(case_rows)
