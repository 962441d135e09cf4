"""Demo data of filings: realistic records over the demo's past cases.

Completed ``remote_care_filing`` cases of the demo get their filings. The registry kept before
yibao (older than the demo's 120-day window) is imported without cases, so the registry shows
expired filings and ones ending within 30 days; and some people came back to change or cancel
an imported filing: those changes and cancellations hang on their own completed 备案 cases of
the demo, as the service makes them. No case is added (the demo's cases stay exactly what its
generator made). People are fictional, with synthetic but valid ID numbers.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from yibao.accounts.models import User
from yibao.audit import guard
from yibao.cases.models import Case
from yibao.filings import divisions, rules
from yibao.filings.models import Filing
from yibao.filings.rules import Action, Basis, Kind, State
from yibao.filings.service import SERVICE_CODE, person_key

TZ = ZoneInfo("Asia/Shanghai")
TARGET = 100  # filings over the demo's own cases; ~65 older records join them
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林谢唐邓冯曾彭蒋袁廖雷钟谭田熊邱"
_GIVEN = ("秀英", "桂兰", "玉珍", "德明", "建国", "志强", "国华", "淑芬", "春梅", "永福", "洪")

# Where people go, by kind: (province, city, weight).
_PLACES: dict[Kind, list[tuple[str, str, int]]] = {
    Kind.RETIRED_ELSEWHERE: [
        ("460000", "460200", 6),  # 海南三亚
        ("460000", "460100", 3),  # 海南海口
        ("460000", "469000", 2),  # 琼海、万宁 (省直辖)
        ("450000", "450500", 2),  # 广西北海
        ("530000", "530100", 2),  # 云南昆明
        ("510000", "510400", 1),  # 四川攀枝花
    ],
    Kind.LONG_TERM_RESIDENCE: [
        ("440000", "440300", 3),  # 广东深圳
        ("440000", "440100", 2),  # 广东广州
        ("510000", "510100", 3),  # 四川成都
        ("310000", "310100", 1),  # 上海
        ("520000", "520100", 1),  # 贵州贵阳
    ],
    Kind.STATIONED_WORK: [
        ("440000", "440300", 4),  # 广东深圳
        ("330000", "330100", 2),  # 浙江杭州
        ("320000", "320500", 2),  # 江苏苏州
        ("110000", "110100", 1),  # 北京
        ("440000", "441900", 1),  # 广东东莞
    ],
    Kind.REFERRAL: [
        ("510000", "510100", 6),  # 四川成都 (华西)
        ("110000", "110100", 1),  # 北京
        ("310000", "310100", 1),  # 上海
        ("420000", "420100", 1),  # 湖北武汉
    ],
    Kind.EMERGENCY: [
        ("510000", "510500", 2),  # 四川泸州
        ("520000", "520300", 1),  # 贵州遵义
        ("440000", "440300", 1),  # 广东深圳
        ("460000", "460200", 1),  # 海南三亚
    ],
    Kind.OTHER_TEMPORARY: [
        ("510000", "510100", 2),
        ("440000", "440100", 1),
        ("530000", "532800", 1),  # 云南西双版纳
        ("610000", "610100", 1),  # 陕西西安
    ],
}
_KIND_WEIGHTS = {
    Kind.RETIRED_ELSEWHERE: 30,
    Kind.LONG_TERM_RESIDENCE: 18,
    Kind.STATIONED_WORK: 15,
    Kind.REFERRAL: 22,
    Kind.EMERGENCY: 5,
    Kind.OTHER_TEMPORARY: 10,
}
_PROOF: dict[Kind, tuple[str, ...]] = {
    Kind.RETIRED_ELSEWHERE: ("异地居住证明", "户口簿", "房产证"),
    Kind.LONG_TERM_RESIDENCE: ("居住证", "异地居住证明"),
    Kind.STATIONED_WORK: ("单位派出证明", "劳动合同"),
    Kind.REFERRAL: ("转诊转院审批表",),
    Kind.EMERGENCY: ("急诊诊断证明",),
    Kind.OTHER_TEMPORARY: ("个人说明",),
}


class _Seeder:
    def __init__(self, session: Session, agency: str, today: date, rng: random.Random) -> None:
        self.session = session
        self.agency = agency
        self.today = today
        self.rng = rng
        self.table = divisions.load()
        self.used: set[str] = set()
        self.staff: dict[str, list[User]] = {}
        for user in session.scalars(
            select(User).where(User.agency == agency, User.role.in_(("clerk", "station_master")))
        ):
            if user.station_code:
                self.staff.setdefault(user.station_code, []).append(user)
        self.rows: list[Filing] = []

    # ---- the pieces of a record

    def kind(self) -> Kind:
        kinds = list(_KIND_WEIGHTS)
        return self.rng.choices(kinds, [_KIND_WEIGHTS[k] for k in kinds])[0]

    def place(self, kind: Kind) -> tuple[str, str]:
        places = _PLACES[kind]
        p, c, _w = self.rng.choices(places, [w for *_x, w in places])[0]
        return p, c

    def clerk(self, station: str) -> User | None:
        users = self.staff.get(station) or []
        return self.rng.choice(users) if users else None

    def number(self, day: date) -> str:
        while True:
            no = f"BA{day:%Y%m%d}{self.rng.randrange(10**6):06d}"
            if no not in self.used:
                self.used.add(no)
                return no

    def moment(self, day: date) -> datetime:
        minutes = self.rng.randrange(9 * 60, 16 * 60 + 30)
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=TZ)
        return local.astimezone(UTC)

    def person(self) -> tuple[str, str, str]:
        r = self.rng
        year = r.randint(1945, 1964) if r.random() < 0.6 else r.randint(1966, 1998)
        body = (
            f"500118{year:04d}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randrange(1000):03d}"
        )
        id_number = body + str(ric.calc_check_digit(body + "0"))
        name = r.choice(_SURNAMES) + r.choice(_GIVEN)
        phone = f"1{r.choice((37, 38, 39, 58, 59, 88))}{r.randrange(10**8):08d}"
        return id_number, name, phone

    def filing(
        self,
        *,
        case: Case | None,
        kind: Kind,
        basis: Basis,
        place: tuple[str, str],
        start: date,
        end: date | None,
        action: Action = Action.FILE,
        previous: Filing | None = None,
        reason: str | None = None,
        admission: date | None = None,
        clerk: User | None = None,
        person: tuple[str, str, str] | None = None,
        station: str = "",
        at: datetime | None = None,
    ) -> Filing:
        if case is not None:
            person = (case.applicant_id_number, case.applicant_name, case.applicant_phone)
            station, at = case.intake_station, case.received_at
        assert person is not None and at is not None
        day = at.astimezone(TZ).date()
        f = Filing(
            id=uuid.uuid4(),
            agency=self.agency,
            filing_no=self.number(day),
            action=action.value,
            previous_id=previous.id if previous else None,
            person_id_number=person[0],
            person_id_tail=person[0][-4:],
            person_key=person_key(self.agency, person[0]),
            person_name=person[1],
            person_phone=person[2],
            kind=kind.value,
            basis=basis.value,
            documents=list(self.documents(kind)) if basis is Basis.PROOF else [],
            province_code=place[0],
            province_name=self.table.province_name(place[0]),
            city_code=place[1],
            city_name=self.table.city_name(place[1]),
            division_release=self.table.release,
            start_date=start,
            end_date=end,
            admission_date=admission,
            state=rules.BORN[action].value,
            reason=reason,
            case_id=case.id if case else None,
            case_no=case.case_no if case else None,
            station_code=station,
            created_by=clerk.id if clerk else None,
            created_by_name=(clerk.display_name or clerk.username) if clerk else "历史数据导入",
            created_at=at,
            updated_at=at,
            ended_date=day if action is Action.CANCEL else None,
            version=1,
        )
        self.session.add(f)
        self.rows.append(f)
        return f

    def documents(self, kind: Kind) -> tuple[str, ...]:
        docs = _PROOF[kind]
        return tuple(docs[: self.rng.randint(1, len(docs))])

    def end_for(self, kind: Kind, start: date) -> date | None:
        if kind in rules.LONG_TERM:
            return None
        months = self.rng.choices((6, 12), (4, 1))[0]
        return rules.add_months(start, months) - timedelta(days=1)

    def start_for(self, kind: Kind, day: date) -> tuple[date, date | None]:
        """(start, admission): emergencies and stays already begun start before the filing."""
        if kind is Kind.EMERGENCY:
            back = day - timedelta(days=self.rng.randint(1, 20))
            return back, back
        if kind is Kind.REFERRAL and self.rng.random() < 0.3:
            admitted = day - timedelta(days=self.rng.randint(1, 6))
            return admitted, admitted
        return day, None


def seed_demo(session: Session, *, agency: str, today: date, rng: random.Random) -> int:
    """Add demo records inside the demo's transaction; returns how many were made."""
    guard.bulk(session, "demo data: filings")
    s = _Seeder(session, agency, today, rng)
    past = list(
        session.scalars(
            select(Case)
            .where(
                Case.agency == agency,
                Case.service_code == SERVICE_CODE,
                Case.state == "completed",
                Case.id.not_in(
                    select(Filing.case_id).where(
                        Filing.agency == agency, Filing.case_id.is_not(None)
                    )
                ),
            )
            .order_by(Case.received_at, Case.case_no)
        )
    )
    # A second demo run over the same database only files its new cases.
    again = session.scalar(select(Filing.id).where(Filing.agency == agency).limit(1)) is not None
    shuffled = list(past)
    rng.shuffle(shuffled)
    returning = [] if again else shuffled[:14]  # came back to change or cancel an older filing
    fresh = sorted(
        shuffled[len(returning) : len(returning) + TARGET],
        key=lambda c: (c.received_at, c.case_no),
    )
    commitments: set[str] = set()
    # 1. A filing for the demo's completed 备案 cases (the last 120 days).
    for case in fresh:
        kind = s.kind()
        basis = (
            Basis.COMMITMENT
            if "commitment_letter" in (case.materials_received or [])
            and case.applicant_id_number not in commitments
            else Basis.PROOF
        )
        if basis is Basis.COMMITMENT:
            commitments.add(case.applicant_id_number)
        start, admission = s.start_for(kind, case.intake_date)
        s.filing(
            case=case,
            kind=kind,
            basis=basis,
            place=s.place(kind),
            start=start,
            end=s.end_for(kind, start),
            admission=admission,
            clerk=s.clerk(case.intake_station),
        )
    # 2. The registry kept before yibao, imported without cases (5 to 13 months old): some
    #    have ended (the daily job marked them expired), some end within 30 days.
    stations = [st for st in ("F01", "F01", "F02", "F02", "BUREAU", "T01") if st in s.staff]
    for i in range(0 if again else 50):
        ending = i % 3 == 0  # a temporary filing of 6 months nearing its end
        kind = rng.choice(sorted(rules.TEMPORARY - {Kind.EMERGENCY})) if ending else s.kind()
        day = today - timedelta(days=rng.randint(153, 178) if ending else rng.randint(150, 400))
        start, admission = s.start_for(kind, day)
        end = rules.minimum_end(start) if ending else s.end_for(kind, start)
        f = s.filing(
            case=None,
            kind=kind,
            basis=Basis.COMMITMENT if rng.random() < 0.35 else Basis.PROOF,
            place=s.place(kind),
            start=start,
            end=end,
            admission=admission,
            person=s.person(),
            station=rng.choice(stations) if stations else "BUREAU",
            at=s.moment(day),
        )
        if end is not None and end < today:
            f.state = State.EXPIRED.value
            f.ended_date = end + timedelta(days=1)
            f.updated_at = s.moment(end + timedelta(days=1))
    # 3. Changes and cancellations: an imported filing of the person, replaced by a new record
    #    made through the person's completed 备案 case of the demo.
    for n, case in enumerate(returning):
        action = Action.CHANGE if n % 3 else Action.CANCEL
        kind = rng.choice(sorted(rules.LONG_TERM))
        then = case.intake_date - timedelta(days=rng.randint(200, 330))
        person = (case.applicant_id_number, case.applicant_name, case.applicant_phone)
        basis = (
            Basis.COMMITMENT
            if "commitment_letter" in (case.materials_received or [])
            else Basis.PROOF
        )
        old = s.filing(
            case=None,
            kind=kind,
            basis=basis,
            place=s.place(kind),
            start=then,
            end=None,
            person=person,
            station=case.intake_station,
            at=s.moment(then),
        )
        clerk = s.clerk(case.intake_station)
        if action is Action.CHANGE:
            s.filing(
                case=case,
                kind=kind,
                basis=basis,
                place=s.place(kind),
                start=case.intake_date,
                end=None,
                action=action,
                previous=old,
                reason=rng.choice(("居住地变更", "随子女迁居", "工作调动")),
                clerk=clerk,
            )
            old.state = State.CHANGED.value
        else:
            s.filing(
                case=case,
                kind=kind,
                basis=basis,
                place=(old.province_code, old.city_code),
                start=old.start_date,
                end=None,
                action=action,
                previous=old,
                reason=rng.choice(("已返回永川居住", "不再异地就医", "参保关系转出")),
                clerk=clerk,
            )
            old.state = State.CANCELLED.value
        old.ended_date = case.intake_date
        old.updated_at = case.received_at
    session.flush()
    return len(s.rows)
