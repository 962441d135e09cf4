"""Rules of 异地就医备案 (filing for treatment in another region). Pure: no database, no HTTP.

DESIGN.md §3: six kinds, three long-term (no end) and three temporary (at least 6 months);
proof may be replaced by a signed commitment (承诺制); a commitment-based filing cannot be
changed or cancelled within 6 months of its start and cannot be held twice at once; an
emergency counts as already filed and is recorded after the fact; a filing may still be made
after admission, up to discharge settlement, starting back at the admission date.

A filing's state moves only through ``TRANSITIONS``. A change or a cancellation is a new
record linked to the old one; the old one moves to ``changed`` / ``cancelled`` and is never
edited otherwise.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TypeVar

from yibao.errors import ActionNotAllowed, FieldError, ValidationFailed
from yibao.text import has_control

TEMPORARY_MONTHS = 6  # a temporary filing lasts at least this long (the default too)
COMMITMENT_LOCK_MONTHS = 6  # a commitment-based filing is locked this long after its start
MAX_TEMPORARY_MONTHS = 24  # longest validity of one temporary filing we accept
MAX_PAST_DAYS = 366  # how far back an admission or an emergency may lie
MAX_AHEAD_DAYS = 183  # how far ahead a filing may start
EXPIRING_DAYS = 30  # "expiring soon" horizon of the registry and the daily job
MAX_DOCUMENTS = 6
MAX_DOCUMENT_CHARS = 40
# Municipalities pool at the level of the whole city (市级统筹): no filing inside them.
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})


E = TypeVar("E", bound=StrEnum)


class Kind(StrEnum):
    """The six kinds of filing."""

    RETIRED_ELSEWHERE = "retired_elsewhere"  # 异地安置退休人员
    LONG_TERM_RESIDENCE = "long_term_residence"  # 异地长期居住人员
    STATIONED_WORK = "stationed_work"  # 常驻异地工作人员
    REFERRAL = "referral"  # 异地转诊就医人员
    EMERGENCY = "emergency"  # 异地急诊抢救人员
    OTHER_TEMPORARY = "other_temporary"  # 其他临时外出就医人员


LONG_TERM: frozenset[Kind] = frozenset(
    {Kind.RETIRED_ELSEWHERE, Kind.LONG_TERM_RESIDENCE, Kind.STATIONED_WORK}
)
TEMPORARY: frozenset[Kind] = frozenset(Kind) - LONG_TERM

KIND_LABELS_ZH: dict[Kind, str] = {
    Kind.RETIRED_ELSEWHERE: "异地安置退休人员",
    Kind.LONG_TERM_RESIDENCE: "异地长期居住人员",
    Kind.STATIONED_WORK: "常驻异地工作人员",
    Kind.REFERRAL: "异地转诊就医人员",
    Kind.EMERGENCY: "异地急诊抢救人员",
    Kind.OTHER_TEMPORARY: "其他临时外出就医人员",
}
KIND_LABELS_EN: dict[Kind, str] = {
    Kind.RETIRED_ELSEWHERE: "Retired, living elsewhere",
    Kind.LONG_TERM_RESIDENCE: "Long-term residence elsewhere",
    Kind.STATIONED_WORK: "Stationed at work elsewhere",
    Kind.REFERRAL: "Referral",
    Kind.EMERGENCY: "Emergency",
    Kind.OTHER_TEMPORARY: "Other temporary",
}


class Basis(StrEnum):
    """What the filing rests on."""

    PROOF = "proof"  # documents (residence, work, referral)
    COMMITMENT = "commitment"  # a signed commitment letter (承诺制)


BASIS_LABELS_ZH: dict[Basis, str] = {Basis.PROOF: "证明材料", Basis.COMMITMENT: "个人承诺"}
BASIS_LABELS_EN: dict[Basis, str] = {Basis.PROOF: "Proof", Basis.COMMITMENT: "Commitment"}


class State(StrEnum):
    """States of a filing record."""

    ACTIVE = "active"  # 有效
    CHANGED = "changed"  # 已变更 (a newer record replaced it)
    CANCELLED = "cancelled"  # 已取消
    EXPIRED = "expired"  # 已到期


class Action(StrEnum):
    """What happens to a filing; ``file`` creates one, the others act on an active one."""

    FILE = "file"
    CHANGE = "change"
    CANCEL = "cancel"
    EXPIRE = "expire"


STATE_LABELS_ZH: dict[State, str] = {
    State.ACTIVE: "有效",
    State.CHANGED: "已变更",
    State.CANCELLED: "已取消",
    State.EXPIRED: "已到期",
}
STATE_LABELS_EN: dict[State, str] = {
    State.ACTIVE: "Active",
    State.CHANGED: "Changed",
    State.CANCELLED: "Cancelled",
    State.EXPIRED: "Expired",
}
ACTION_LABELS_ZH: dict[Action, str] = {
    Action.FILE: "备案",
    Action.CHANGE: "变更",
    Action.CANCEL: "取消",
    Action.EXPIRE: "到期",
}
ACTION_LABELS_EN: dict[Action, str] = {
    Action.FILE: "Filed",
    Action.CHANGE: "Change",
    Action.CANCEL: "Cancellation",
    Action.EXPIRE: "Expiry",
}

# The lifecycle of a stored filing: (state, action) → the state it moves to.
TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.ACTIVE, Action.CHANGE): State.CHANGED,
    (State.ACTIVE, Action.CANCEL): State.CANCELLED,
    (State.ACTIVE, Action.EXPIRE): State.EXPIRED,
}
# The state a new record is born in, by the action that made it: a change makes the new,
# active terms; a cancellation leaves a record of itself, born cancelled.
BORN: dict[Action, State] = {
    Action.FILE: State.ACTIVE,
    Action.CHANGE: State.ACTIVE,
    Action.CANCEL: State.CANCELLED,
}
TERMINAL: frozenset[State] = frozenset({State.CHANGED, State.CANCELLED, State.EXPIRED})


def allowed_actions(state: State) -> list[Action]:
    """Actions the table allows from ``state``."""
    return [a for (s, a) in TRANSITIONS if s == state]


# ---------------------------------------------------------------- dates


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the end of a shorter month (8/31 + 6 → 2/28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def minimum_end(start: date) -> date:
    """The earliest last day of a temporary filing: 6 months of validity, the start included."""
    return add_months(start, TEMPORARY_MONTHS) - timedelta(days=1)


def default_end(kind: Kind, start: date) -> date | None:
    """The end date a filing gets when none is given: none for long-term, 6 months otherwise."""
    return None if kind in LONG_TERM else minimum_end(start)


def locked_until(basis: Basis, start: date) -> date | None:
    """The first day a filing may be changed or cancelled; None when it never was locked."""
    if basis is not Basis.COMMITMENT:
        return None
    return add_months(start, COMMITMENT_LOCK_MONTHS)


def in_force(state: State, end: date | None, today: date) -> bool:
    """Whether a record holds today: active and not past its end (the daily job may lag)."""
    return state is State.ACTIVE and (end is None or end >= today)


def is_due_to_expire(state: State, end: date | None, today: date) -> bool:
    """Whether the daily job should mark this record expired today."""
    return state is State.ACTIVE and end is not None and end < today


def expires_soon(state: State, end: date | None, today: date, days: int = EXPIRING_DAYS) -> bool:
    """Whether an active record's last day falls within the next ``days`` days (today too)."""
    return state is State.ACTIVE and end is not None and today <= end <= today + timedelta(days)


def home_prefix(agency: str) -> str:
    """Division-code prefix of the agency's own pooling region, where no filing is needed."""
    return agency[:2] if agency[:2] in MUNICIPALITIES else agency[:4]


# ---------------------------------------------------------------- a new record


@dataclass(frozen=True)
class Request:
    """Terms asked for, as typed (strings already trimmed; dates parsed)."""

    kind: str
    basis: str
    province: str
    city: str
    documents: tuple[str, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    admission_date: date | None = None  # the person is in hospital already
    settled: bool = False  # the stay was already settled at discharge


@dataclass(frozen=True)
class Held:
    """Another record of the same person, as far as the rules need it."""

    filing_no: str
    basis: Basis
    state: State
    start_date: date
    end_date: date | None


@dataclass(frozen=True)
class Terms:
    """Checked terms of a record."""

    kind: Kind
    basis: Basis
    province: str
    city: str
    documents: tuple[str, ...]
    start_date: date
    end_date: date | None
    admission_date: date | None
    after_the_fact: bool  # an emergency or a stay already begun: recorded after the start


def check_terms(
    request: Request,
    *,
    today: date,
    divisions: Mapping[str, Collection[str]],
    home: str,
    held: Sequence[Held] = (),
    replacing: str | None = None,
) -> Terms:
    """Check new terms (a filing, or the new record of a change); every error at once.

    ``divisions`` maps province codes to their cities' codes; ``home`` is the prefix of the
    agency's pooling region; ``held`` lists the person's other records, and ``replacing`` names
    the one a change replaces (it does not count against the new terms).
    """
    errors: list[FieldError] = []
    kind = _enum(Kind, request.kind, "kind", errors, "unknown kind of filing", "未知的备案类型")
    basis = _enum(Basis, request.basis, "basis", errors, "proof or commitment", "须为证明或承诺")
    _check_destination(request, divisions, home, errors)
    documents = _documents(request.documents, basis, errors)

    admission = request.admission_date
    if admission is not None:
        if admission > today:
            errors.append(
                FieldError("admission_date", "admission is in the future", "入院日期不能晚于今天")
            )
        elif admission < today - timedelta(days=MAX_PAST_DAYS):
            errors.append(
                FieldError(
                    "admission_date", "admission is more than a year ago", "入院日期不能早于一年前"
                )
            )
    emergency = kind is Kind.EMERGENCY
    if request.settled and not emergency:
        errors.append(
            FieldError(
                "settled",
                "the stay is already settled: a filing must be made before discharge settlement",
                "已出院结算，须在出院结算前办理备案（急诊抢救除外）",
            )
        )
    start = request.start_date or admission or today
    if emergency:
        # Treated as already filed: the record follows the emergency, never precedes it.
        if start > today:
            errors.append(
                FieldError(
                    "start_date",
                    "an emergency is recorded after the fact: the start is not in the future",
                    "急诊抢救为事后补录，开始日期不能晚于今天",
                )
            )
        elif start < today - timedelta(days=MAX_PAST_DAYS):
            errors.append(
                FieldError("start_date", "more than a year ago", "开始日期不能早于一年前")
            )
    elif start < today:
        if admission is None:
            errors.append(
                FieldError(
                    "start_date",
                    "a start in the past needs the admission date (back to admission only)",
                    "开始日期早于今天时须填写入院日期（最早追溯至入院日期）",
                )
            )
        elif start < admission:
            errors.append(
                FieldError(
                    "start_date",
                    f"the start may go back to the admission date ({admission}) at most",
                    f"开始日期最早只能追溯至入院日期（{admission}）",
                )
            )
    elif start > today + timedelta(days=MAX_AHEAD_DAYS):
        errors.append(
            FieldError(
                "start_date", "the start is more than 6 months ahead", "开始日期不能晚于6个月后"
            )
        )

    end = request.end_date
    if kind in LONG_TERM:
        if end is not None:
            errors.append(
                FieldError("end_date", "a long-term filing has no end date", "长期备案不设结束日期")
            )
    elif kind is not None:
        if end is None:
            end = minimum_end(start)
        elif end < minimum_end(start):
            errors.append(
                FieldError(
                    "end_date",
                    f"a temporary filing lasts at least 6 months: end on {minimum_end(start)} "
                    "or later",
                    f"临时备案有效期不少于6个月，结束日期不能早于 {minimum_end(start)}",
                )
            )
        elif end > add_months(start, MAX_TEMPORARY_MONTHS):
            errors.append(
                FieldError("end_date", "longer than 24 months", "临时备案有效期不能超过24个月")
            )

    if basis is Basis.COMMITMENT:
        for other in held:
            if other.filing_no == replacing or other.basis is not Basis.COMMITMENT:
                continue
            if in_force(other.state, other.end_date, today):
                errors.append(
                    FieldError(
                        "basis",
                        f"the person already holds a commitment-based filing ({other.filing_no}):"
                        " only one at a time — change that one, or file with proof",
                        f"该参保人已有承诺制备案（{other.filing_no}）有效，不能同时持有两个"
                        "承诺制备案：请变更原备案或提供证明材料",
                    )
                )
                break
    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and basis is not None
    return Terms(
        kind=kind,
        basis=basis,
        province=request.province,
        city=request.city,
        documents=documents,
        start_date=start,
        end_date=end,
        admission_date=admission,
        after_the_fact=start < today,
    )


def _enum(
    cls: type[E], raw: str, field: str, errors: list[FieldError], en: str, zh: str
) -> E | None:
    try:
        return cls(raw)
    except ValueError:
        errors.append(FieldError(field, f"{en}; one of {', '.join(e.value for e in cls)}", zh))
        return None


def _check_destination(
    request: Request,
    divisions: Mapping[str, Collection[str]],
    home: str,
    errors: list[FieldError],
) -> None:
    cities = divisions.get(request.province)
    if cities is None:
        errors.append(FieldError("province", "unknown province code", "未知的省级行政区划代码"))
        return
    if request.city not in cities:
        errors.append(
            FieldError(
                "city",
                "not a prefecture-level city of this province",
                "该城市不属于所选省份",
            )
        )
        return
    if request.city.startswith(home):
        errors.append(
            FieldError(
                "city",
                "inside the home pooling region: no filing is needed",
                "属于本统筹区，无需办理异地就医备案",
            )
        )


def _documents(
    raw: Sequence[str], basis: Basis | None, errors: list[FieldError]
) -> tuple[str, ...]:
    if any(has_control(d) for d in raw):
        errors.append(
            FieldError("documents", "control characters are not allowed", "不能包含控制字符")
        )
        return ()
    docs: list[str] = []
    for text in raw:
        name = " ".join(str(text).split())
        if name and name not in docs:
            docs.append(name)
    if len(docs) > MAX_DOCUMENTS:
        errors.append(
            FieldError("documents", f"at most {MAX_DOCUMENTS} documents", "证明材料最多6项")
        )
    elif any(len(d) > MAX_DOCUMENT_CHARS for d in docs):
        errors.append(
            FieldError("documents", "a document name is too long", "材料名称过长（最多40字）")
        )
    if basis is Basis.PROOF and not docs:
        errors.append(
            FieldError(
                "documents",
                "name the documents proving the filing (or choose the commitment)",
                "请填写证明材料名称（或选择个人承诺）",
            )
        )
    return tuple(docs)


# ---------------------------------------------------------------- acting on a stored record


@dataclass(frozen=True)
class Snapshot:
    """A stored record as the lifecycle sees it."""

    filing_no: str
    state: State
    basis: Basis
    start_date: date
    end_date: date | None


def decide(record: Snapshot, action: Action, *, today: date) -> State:
    """The state ``record`` moves to under ``action``, or why it cannot."""
    target = TRANSITIONS.get((record.state, action))
    if target is None:
        raise ActionNotAllowed(
            f"a {record.state.value} filing cannot be {action.value}d: only an active one",
            allowed=[a.value for a in allowed_actions(record.state)],
            state=record.state.value,
        )
    if action is Action.EXPIRE:
        if not is_due_to_expire(record.state, record.end_date, today):
            raise ActionNotAllowed(
                "the filing has not reached its end",
                allowed=[a.value for a in allowed_actions(record.state) if a is not action],
                state=record.state.value,
            )
        return target
    if is_due_to_expire(record.state, record.end_date, today):
        raise ValidationFailed.single(
            "filing",
            f"the filing ended on {record.end_date}: file a new one",
            f"该备案已于 {record.end_date} 到期，请重新备案",
        )
    lock = locked_until(record.basis, record.start_date)
    if lock is not None and today < lock:
        raise ValidationFailed.single(
            "basis",
            f"a commitment-based filing cannot be {action.value}d within 6 months of its start:"
            f" not before {lock}",
            f"承诺制备案自开始之日起6个月内不得变更或取消（{lock} 起方可办理）",
        )
    return target
