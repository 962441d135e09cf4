"""The transfer protocol as data: message types, the state table, agreements, deadlines. Pure.

Each node keeps its own record of a transfer; both records are a fold of the same messages.
A node applies a message when it sends it and its counterpart when it receives it, in the
sender's order (``seq``), so duplicated or shuffled deliveries end in the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from yibao.calendar.rules import WorkCalendar
from yibao.errors import ActionNotAllowed, FieldError, ValidationFailed

PROTOCOL_VERSION = 1


class Role(StrEnum):
    """The part a node plays in one transfer."""

    OUT = "out"  # 转出地: where the person was insured
    IN = "in"  # 转入地: where the person is now


class TState(StrEnum):
    """Where a transfer stands (the same names on both nodes)."""

    REQUESTED = "requested"  # person applied at the out-agency; waiting for the letter
    CHECKING = "checking"  # letter sent: the out-agency checks eligibility
    ACCEPTED = "accepted"  # eligible: the out-agency prepares the information table
    INFO_SENT = "info_sent"  # information table sent: the out-agency remits the balance
    REMITTED = "remitted"  # balance remitted: the in-agency records and credits it
    DISCREPANCY = "discrepancy"  # what was remitted differs from the table: stopped
    COMPLETED = "completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class MType(StrEnum):
    """Typed messages between nodes (each versioned by ``PROTOCOL_VERSION``)."""

    REQUEST = "transfer_request"  # out → in: the person applied here; please send a letter
    LETTER = "contact_letter"  # in → out: 联系函
    ELIGIBILITY = "eligibility"  # out → in: accepted, or refused with reasons
    INFO_TABLE = "info_table"  # out → in: 参保人员基本医疗保险信息表
    FUNDS = "funds_remitted"  # out → in: amount and reference
    DISCREPANCY = "discrepancy"  # in → out: remitted differs from the table
    CORRECTION = "correction"  # out → in: corrected table and/or an additional remittance
    COMPLETED = "transfer_completed"  # in → out: periods recorded, balance credited
    REMINDER = "reminder"  # either way: a nudge about the current step
    WITHDRAWAL = "withdrawal"  # either way: the person withdrew


S, M = TState, MType
TERMINAL = frozenset({S.COMPLETED, S.REFUSED, S.WITHDRAWN})

# Who may send each message: the role of the sending node.
SENDER: dict[MType, frozenset[Role]] = {
    M.REQUEST: frozenset({Role.OUT}),
    M.LETTER: frozenset({Role.IN}),
    M.ELIGIBILITY: frozenset({Role.OUT}),
    M.INFO_TABLE: frozenset({Role.OUT}),
    M.FUNDS: frozenset({Role.OUT}),
    M.DISCREPANCY: frozenset({Role.IN}),
    M.CORRECTION: frozenset({Role.OUT}),
    M.COMPLETED: frozenset({Role.IN}),
    M.REMINDER: frozenset({Role.IN, Role.OUT}),
    M.WITHDRAWAL: frozenset({Role.IN, Role.OUT}),
}

# (state, message) → next state. A message from a state not listed changes nothing (it is
# kept in the log): e.g. an info table that crosses a withdrawal on the wire.
TRANSITIONS: dict[tuple[TState | None, MType], TState] = {
    (None, M.REQUEST): S.REQUESTED,
    (None, M.LETTER): S.CHECKING,
    (S.REQUESTED, M.LETTER): S.CHECKING,
    (S.CHECKING, M.ELIGIBILITY): S.ACCEPTED,  # or REFUSED: see next_state
    (S.ACCEPTED, M.INFO_TABLE): S.INFO_SENT,
    (S.INFO_SENT, M.FUNDS): S.REMITTED,  # or DISCREPANCY: see next_state
    (S.REMITTED, M.DISCREPANCY): S.DISCREPANCY,
    (S.DISCREPANCY, M.CORRECTION): S.REMITTED,  # or still DISCREPANCY
    (S.REMITTED, M.COMPLETED): S.COMPLETED,
    **{
        (s, M.WITHDRAWAL): S.WITHDRAWN
        for s in (None, S.REQUESTED, S.CHECKING, S.ACCEPTED, S.INFO_SENT, S.REMITTED, S.DISCREPANCY)
    },
    **{
        (s, M.REMINDER): s
        for s in (S.REQUESTED, S.CHECKING, S.ACCEPTED, S.INFO_SENT, S.REMITTED, S.DISCREPANCY)
    },
}

STATE_LABELS_ZH: dict[TState, str] = {
    S.REQUESTED: "待发联系函",
    S.CHECKING: "转出地审核中",
    S.ACCEPTED: "待发信息表",
    S.INFO_SENT: "待划转资金",
    S.REMITTED: "转入地待接续",
    S.DISCREPANCY: "金额不符，已暂停",
    S.COMPLETED: "已完成",
    S.REFUSED: "不予转移",
    S.WITHDRAWN: "已撤回",
}

# The party that must act next in each state (for the board and the deadlines).
WAITING_ON: dict[TState, Role] = {
    S.REQUESTED: Role.IN,
    S.CHECKING: Role.OUT,
    S.ACCEPTED: Role.OUT,
    S.INFO_SENT: Role.OUT,
    S.REMITTED: Role.IN,
    S.DISCREPANCY: Role.OUT,
}


@dataclass(frozen=True)
class Agreement:
    """Working-day limits for a pair of agencies."""

    name: str
    name_zh: str
    out_days: int
    in_days: int
    total_days: int


@dataclass(frozen=True)
class Agreements:
    """The table of agreements and the pairs that need no transfer."""

    national: Agreement
    bilateral: tuple[tuple[frozenset[str], Agreement], ...]
    no_transfer: frozenset[frozenset[str]]

    def between(self, a: str, b: str) -> Agreement:
        """The agreement that governs a transfer between agencies ``a`` and ``b``."""
        for members, agreement in self.bilateral:
            if a in members and b in members:
                return agreement
        return self.national

    def needs_transfer(self, a: str, b: str) -> bool:
        """Whether a move between ``a`` and ``b`` needs a transfer at all."""
        return a != b and frozenset({a, b}) not in self.no_transfer


def agreements_from(data: Mapping[str, Any]) -> Agreements:
    """Build the table from the shipped YAML structure."""
    national: Agreement | None = None
    bilateral: list[tuple[frozenset[str], Agreement]] = []
    for item in data["agreements"]:
        agreement = Agreement(
            item["name"],
            item.get("name_zh", item["name"]),
            int(item["out_days"]),
            int(item["in_days"]),
            int(item["total_days"]),
        )
        if item["members"] == "*":
            national = agreement
        else:
            bilateral.append((frozenset(str(m) for m in item["members"]), agreement))
    if national is None:
        raise ValueError("agreements need a national default (members: '*')")
    pairs = frozenset(frozenset(str(x) for x in p) for p in data.get("no_transfer_pairs") or [])
    return Agreements(national, tuple(bilateral), pairs)


@dataclass(frozen=True)
class Snapshot:
    """What the rules need of a transfer record."""

    state: TState | None
    role: Role
    balance_fen: int | None = None
    remitted_fen: int = 0


@dataclass(frozen=True)
class Effect:
    """The outcome of one message on one node's record."""

    state: TState | None
    changes: dict[str, Any] = field(default_factory=dict)
    applied: bool = True  # False: kept in the log, no change (e.g. after a withdrawal)


def next_state(snap: Snapshot, mtype: MType, body: Mapping[str, Any]) -> Effect:
    """Apply one message (validated) to a record; never raises for an out-of-turn message."""
    target = TRANSITIONS.get((snap.state, mtype))
    if target is None:
        return Effect(snap.state, applied=False)
    changes: dict[str, Any] = {}
    if mtype == M.ELIGIBILITY:
        if not body["accepted"]:
            target = S.REFUSED
            changes["refusal_reasons"] = list(body.get("reasons") or [])
    elif mtype == M.INFO_TABLE:
        changes.update(periods=list(body["periods"]), balance_fen=int(body["balance_fen"]))
    elif mtype == M.FUNDS:
        remitted = snap.remitted_fen + int(body["amount_fen"])
        changes.update(remitted_fen=remitted, remit_reference=str(body["reference"]))
        if snap.balance_fen is not None and remitted != snap.balance_fen:
            target = S.DISCREPANCY
            changes["discrepancy"] = {"expected_fen": snap.balance_fen, "remitted_fen": remitted}
    elif mtype == M.DISCREPANCY:
        changes["discrepancy"] = {
            "expected_fen": int(body["expected_fen"]),
            "remitted_fen": int(body["remitted_fen"]),
        }
    elif mtype == M.CORRECTION:
        balance = int(body.get("balance_fen", snap.balance_fen or 0))
        remitted = snap.remitted_fen + int(body.get("additional_fen", 0))
        changes.update(balance_fen=balance, remitted_fen=remitted)
        if "periods" in body:
            changes["periods"] = list(body["periods"])
        if remitted != balance:
            target = S.DISCREPANCY
            changes["discrepancy"] = {"expected_fen": balance, "remitted_fen": remitted}
        else:
            changes["discrepancy"] = None
    elif mtype == M.COMPLETED:
        changes.update(
            credited_fen=int(body["credited_fen"]), periods_recorded=int(body["periods_recorded"])
        )
    elif mtype == M.WITHDRAWAL:
        changes["withdraw_reason"] = str(body.get("reason") or "")
    return Effect(target, changes)


def check_send(snap: Snapshot, mtype: MType, body: Mapping[str, Any]) -> None:
    """Refuse a message this node may not send now, or a body that breaks a rule."""
    if snap.role not in SENDER[mtype]:
        raise ActionNotAllowed(
            f"the {snap.role.value}-agency does not send '{mtype.value}'",
            allowed=[m.value for m in allowed_messages(snap)],
        )
    if (snap.state, mtype) not in TRANSITIONS:
        raise ActionNotAllowed(
            f"'{mtype.value}' is not allowed in state '{snap.state}'",
            allowed=[m.value for m in allowed_messages(snap)],
        )
    errors = validate_body(mtype, body)
    if mtype == M.COMPLETED and not errors and int(body["credited_fen"]) != snap.remitted_fen:
        errors.append(
            FieldError(
                "credited_fen",
                f"the balance credited must equal the amount remitted ({snap.remitted_fen} fen)",
                f"入账金额须等于划转金额（{snap.remitted_fen} 分）",
            )
        )
    if errors:
        raise ValidationFailed(errors)


def allowed_messages(snap: Snapshot) -> list[MType]:
    """Messages this node may send now (its buttons)."""
    return [
        m
        for m in MType
        if snap.role in SENDER[m]
        and (snap.state, m) in TRANSITIONS
        and m not in (M.REQUEST, M.LETTER)
    ]


def _is_month(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 7 or value[4] != "-":
        return False
    try:
        year, month = int(value[:4]), int(value[5:])
    except ValueError:
        return False
    return 1900 <= year <= 2200 and 1 <= month <= 12


def validate_body(mtype: MType, body: Mapping[str, Any]) -> list[FieldError]:
    """Field errors of a message body (used for what a person enters and what a peer sends)."""
    errors: list[FieldError] = []

    def money(name: str, *, required: bool = True) -> None:
        value = body.get(name)
        if value is None and not required:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(
                FieldError(
                    name, "an amount in fen (integer, not negative)", "金额须为不小于0的整数（分）"
                )
            )

    if mtype == M.ELIGIBILITY:
        if not isinstance(body.get("accepted"), bool):
            errors.append(FieldError("accepted", "true or false", "须为是或否"))
        elif not body["accepted"]:
            reasons = body.get("reasons")
            if (
                not isinstance(reasons, list)
                or not reasons
                or not all(isinstance(r, str) and r.strip() for r in reasons)
            ):
                errors.append(
                    FieldError("reasons", "a refusal needs its reasons", "不予转移须写明理由")
                )
    elif mtype in (M.INFO_TABLE, M.CORRECTION):
        if mtype == M.INFO_TABLE or "periods" in body:
            periods = body.get("periods")
            if not isinstance(periods, list) or not periods:
                errors.append(
                    FieldError(
                        "periods", "at least one contribution period", "至少填写一段缴费期间"
                    )
                )
            else:
                for i, p in enumerate(periods):
                    if (
                        not isinstance(p, dict)
                        or not _is_month(p.get("from"))
                        or not _is_month(p.get("to"))
                        or p["from"] > p["to"]
                    ):
                        errors.append(
                            FieldError(
                                f"periods[{i}]",
                                "from/to as YYYY-MM, from ≤ to",
                                "起止年月格式为 YYYY-MM，且起不晚于止",
                            )
                        )
                    elif p.get("insurance_type") not in ("employee", "resident"):
                        errors.append(
                            FieldError(
                                f"periods[{i}].insurance_type",
                                "employee or resident",
                                "险种须为职工或居民",
                            )
                        )
        money("balance_fen", required=mtype == M.INFO_TABLE)
        if mtype == M.CORRECTION:
            money("additional_fen", required=False)
    elif mtype == M.FUNDS:
        money("amount_fen")
        ref = body.get("reference")
        if not isinstance(ref, str) or not ref.strip() or len(ref) > 64:
            errors.append(
                FieldError(
                    "reference", "the remittance reference (1–64 characters)", "请填写划转凭证号"
                )
            )
    elif mtype == M.COMPLETED:
        money("credited_fen")
        n = body.get("periods_recorded")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            errors.append(FieldError("periods_recorded", "a count of periods", "须为期间数"))
    elif mtype == M.WITHDRAWAL:
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            errors.append(FieldError("reason", "a reason is required", "请填写撤回原因"))
    elif mtype == M.DISCREPANCY:
        money("expected_fen")
        money("remitted_fen")
    elif mtype in (M.LETTER, M.REQUEST):
        person = body.get("person")
        if not isinstance(person, dict) or not person.get("id_number") or not person.get("name"):
            errors.append(
                FieldError("person", "the person's ID number and name", "须有参保人身份证号和姓名")
            )
    return errors


@dataclass(frozen=True)
class Deadlines:
    """Due dates of the steps on this node's calendar."""

    out_due: date | None
    in_due: date | None
    total_due: date
    estimated: bool


def deadlines(
    calendar: WorkCalendar,
    agreement: Agreement,
    *,
    applied: date,
    letter: date | None,
    remitted: date | None,
) -> Deadlines:
    """Step and end-to-end due dates, in working days from when each step began."""
    total = calendar.add_working_days(applied, agreement.total_days)
    out = calendar.add_working_days(letter, agreement.out_days) if letter else None
    inn = calendar.add_working_days(remitted, agreement.in_days) if remitted else None
    # No step may end after the whole: a one-day agreement binds every step to that day.
    out_d = min(out.date, total.date) if out else None
    in_d = min(inn.date, total.date) if inn else None
    estimated = total.estimated or bool(out and out.estimated) or bool(inn and inn.estimated)
    return Deadlines(out_d, in_d, total.date, estimated)


def step_due(state: TState | None, d: Deadlines) -> date | None:
    """The due date of the step the transfer waits on now."""
    if state in (S.CHECKING, S.ACCEPTED, S.INFO_SENT, S.DISCREPANCY):
        return d.out_due or d.total_due
    if state == S.REMITTED:
        return d.in_due or d.total_due
    if state == S.REQUESTED:
        return d.total_due
    return None


def fold(role: Role, messages: Iterable[tuple[MType, Mapping[str, Any]]]) -> Snapshot:
    """The state after a sequence of messages (for tests: order-independence is by seq)."""
    snap = Snapshot(None, role)
    for mtype, body in messages:
        eff = next_state(snap, mtype, body)
        if eff.applied:
            snap = Snapshot(
                eff.state,
                role,
                balance_fen=eff.changes.get("balance_fen", snap.balance_fen),
                remitted_fen=eff.changes.get("remitted_fen", snap.remitted_fen),
            )
    return snap
