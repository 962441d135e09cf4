"""Use cases of the system administrator (系统管理员): staff accounts and official calendars.

The admin manages configuration and never reads case data (等保三员分立), so nothing here
touches cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yibao.accounts import backoff, passwords, totp
from yibao.accounts.models import User, UserTotp, WebSession
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.accounts.service import create_user, hash_password
from yibao.audit import service as audit
from yibao.audit.models import AuditRecord
from yibao.calendar.imports import ImportOutcome, import_schedule
from yibao.calendar.models import CalendarDay, CalendarYear
from yibao.calendar.rules import YearSchedule
from yibao.db import UnitOfWork, utcnow
from yibao.errors import FieldError, Forbidden, NotFound, ValidationFailed
from yibao.runtime import Runtime

MAX_DISPLAY_NAME = 64
# argon2 hashes any length, but an unbounded password is an easy way to burn CPU.
MAX_PASSWORD = 256


def require_admin(actor: Actor) -> None:
    """Refuse anyone but the system administrator."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only the system administrator may do this")


def list_users(session: Session, *, actor: Actor) -> list[User]:
    """Every account of the actor's agency, by username."""
    require_admin(actor)
    return list(
        session.scalars(select(User).where(User.agency == actor.agency).order_by(User.username))
    )


def get_user(session: Session, *, actor: Actor, user_id: int) -> User:
    """One account of the actor's agency, or NotFound."""
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None or user.agency != actor.agency:
        raise NotFound(f"no user {user_id}")
    return user


def _password_errors(password: str, confirm: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(password) > MAX_PASSWORD:
        errors.append(
            FieldError(
                "password",
                f"at most {MAX_PASSWORD} characters",
                f"不能超过 {MAX_PASSWORD} 个字符",
            )
        )
    if password != confirm:
        errors.append(
            FieldError("password_confirm", "does not match the password", "两次输入的密码不一致")
        )
    return errors


def _audit(uow: UnitOfWork, actor: Actor, action: str, user: User, **detail: object) -> None:
    audit.record(
        uow.session,
        agency=actor.agency,
        actor_id=actor.id,
        actor_name=actor.username,
        action=action,
        object_type="user",
        object_id=str(user.id),
        ip=actor.ip,
        detail={"username": user.username, **detail},
    )


def create(
    uow: UnitOfWork,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    role: str,
    station: str | None,
    password: str,
    password_confirm: str,
) -> User:
    """Create a staff account; every problem with the form is reported at once."""
    require_admin(actor)
    username, display_name = username.strip(), display_name.strip()
    errors = _password_errors(password, password_confirm)
    if len(display_name) > MAX_DISPLAY_NAME:
        errors.append(
            FieldError(
                "display_name",
                f"at most {MAX_DISPLAY_NAME} characters",
                f"不能超过 {MAX_DISPLAY_NAME} 个字符",
            )
        )
    # The form keeps the station select in the page for every role (it is only hidden), so a
    # stale choice must not turn a supervisor into "a supervisor of F01".
    if role not in {r.value for r in STATION_ROLES}:
        station = None
    try:
        user = create_user(
            uow.session,
            agency=actor.agency,
            username=username,
            role=role,
            password=password,
            station=station or None,
            display_name=display_name,
            by=actor.username,
        )
    except ValidationFailed as exc:
        raise ValidationFailed([*exc.errors, *errors]) from None
    if errors:
        uow.rollback()
        raise ValidationFailed(errors)
    # create_user is shared with the CLI, which has no acting account; the record it added
    # gets the admin's id and address here so the audit trail says who and from where.
    for obj in uow.session.new:
        if isinstance(obj, AuditRecord) and obj.action == "user.create":
            obj.actor_id, obj.ip = actor.id, actor.ip
    uow.commit()
    return user


def set_active(uow: UnitOfWork, *, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (ending every web session) or reactivate an account."""
    user = get_user(uow.session, actor=actor, user_id=user_id)
    if not active and user.id == actor.id:
        raise Forbidden(
            "an administrator cannot deactivate their own account", reason="self_deactivation"
        )
    if user.active != active:
        user.active = active
        if not active:
            # Bearer tokens are refused by actor_from_token once the account is inactive;
            # browser sessions are rows, so they are deleted outright.
            uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        _audit(uow, actor, "user.reactivate" if active else "user.deactivate", user)
        uow.commit()
    return user


def reset_password(
    uow: UnitOfWork,
    *,
    actor: Actor,
    user_id: int,
    password: str,
    password_confirm: str,
    now: datetime | None = None,
) -> User:
    """Set a new password; it also lifts a lockout and signs the user out of every browser."""
    user = get_user(uow.session, actor=actor, user_id=user_id)
    errors = passwords.problems(password, username=user.username)
    errors += _password_errors(password, password_confirm)
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = hash_password(password)
    # The person who forgot the password is usually the one whose tries made them wait.
    backoff.lift_user(uow.session, agency=user.agency, username=user.username)
    # Bearer tokens issued before now stop working too, not only browser sessions.
    user.tokens_valid_after = now or utcnow()
    uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    _audit(uow, actor, "user.password_reset", user)
    uow.commit()
    return user


def unlock(uow: UnitOfWork, *, actor: Actor, user_id: int) -> User:
    """End the waits that wrong sign-ins put on an account (its name and all its devices)."""
    user = get_user(uow.session, actor=actor, user_id=user_id)
    lifted = backoff.lift_user(uow.session, agency=user.agency, username=user.username)
    if not lifted:
        return user  # nothing to lift: no audit record for a no-op
    _audit(uow, actor, "auth.unlock", user, keys=lifted)
    uow.commit()
    return user


def lift_key(uow: UnitOfWork, *, actor: Actor, key: str) -> bool:
    """End the wait on one key of the sign-in back-off (an account name, device or address)."""
    require_admin(actor)
    if not backoff.lift(uow.session, agency=actor.agency, key=key):
        return False
    audit.record_actor(
        uow.session,
        actor,
        action="auth.unlock",
        object_type="sign_in",
        object_id=key[:64],
        detail={"key": key},
    )
    uow.commit()
    return True


def reset_second_factor(
    uow: UnitOfWork, *, actor: Actor, user_id: int, now: datetime | None = None
) -> User:
    """Forget a user's authenticator and recovery codes (a lost phone); they enrol again at
    their next sign-in. Signs them out everywhere; nothing happens when they had none."""
    user = get_user(uow.session, actor=actor, user_id=user_id)
    if not totp.remove(uow.session, user_id=user.id):
        return user
    user.tokens_valid_after = now or utcnow()
    uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    _audit(uow, actor, "user.totp_reset", user)
    uow.commit()
    return user


@dataclass(frozen=True)
class SignInState:
    """What the admin sees of users' sign-in: who has an authenticator, who must wait."""

    enrolled: frozenset[int]  # user ids with a confirmed authenticator
    waiting: dict[str, datetime]  # user name (lower case) → end of the longest wait


def sign_in_state(session: Session, *, actor: Actor, now: datetime) -> SignInState:
    """The authenticators and back-off waits of the agency's accounts."""
    require_admin(actor)
    enrolled = frozenset(
        session.scalars(
            select(UserTotp.user_id).where(
                UserTotp.agency == actor.agency, UserTotp.confirmed_at.is_not(None)
            )
        )
    )
    waiting: dict[str, datetime] = {}
    for h in backoff.held(session, agency=actor.agency, now=now):
        if h.kind != "addr" and h.blocked_until is not None and h.blocked_until > now:
            waiting[h.subject] = max(h.blocked_until, waiting.get(h.subject, h.blocked_until))
    return SignInState(enrolled, waiting)


@dataclass(frozen=True)
class CalendarYearInfo:
    """One official year on record and how many exceptions to the weekday rule it holds."""

    year: int
    source: str
    imported_at: datetime
    days_off: int  # weekdays off; weekend days of a holiday are off anyway and not stored
    workdays: int  # make-up working days on weekends


def calendar_years(session: Session, *, actor: Actor) -> list[CalendarYearInfo]:
    """The official years on record, newest first."""
    require_admin(actor)
    counts: dict[tuple[int, str], int] = {
        (year, kind): n
        for year, kind, n in session.execute(
            select(CalendarDay.year, CalendarDay.kind, func.count()).group_by(
                CalendarDay.year, CalendarDay.kind
            )
        )
    }
    return [
        CalendarYearInfo(
            year=y.year,
            source=y.source,
            imported_at=y.imported_at,
            days_off=counts.get((y.year, "holiday"), 0),
            workdays=counts.get((y.year, "workday"), 0),
        )
        for y in session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc()))
    ]


def calendar_days(session: Session, *, actor: Actor, year: int) -> tuple[list[date], list[date]]:
    """The stored weekdays off and make-up working days of one year, in date order."""
    require_admin(actor)
    rows = session.execute(
        select(CalendarDay.day, CalendarDay.kind)
        .where(CalendarDay.year == year)
        .order_by(CalendarDay.day)
    )
    off: list[date] = []
    work: list[date] = []
    for day, kind in rows:
        (off if kind == "holiday" else work).append(day)
    return off, work


def import_calendar(
    uow: UnitOfWork, *, runtime: Runtime, actor: Actor, schedule: YearSchedule
) -> ImportOutcome:
    """Store a parsed official schedule and recount estimated due dates (one commit)."""
    require_admin(actor)
    return import_schedule(
        uow,
        runtime=runtime,
        schedule=schedule,
        actor_id=actor.id,
        actor_name=actor.username,
        actor_role=actor.role.value,
        agency=actor.agency,
        ip=actor.ip,
    )
