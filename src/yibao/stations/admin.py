"""Use cases of the system administrator on the station network: list and edit stations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from yibao.accounts.admin import require_admin
from yibao.accounts.rules import Actor
from yibao.audit import service as audit
from yibao.cases.lifecycle import OPEN
from yibao.db import UnitOfWork
from yibao.errors import FieldError, NotFound, ValidationFailed
from yibao.stations import rules
from yibao.stations.models import Station, Town

# Column limits of the stations table.
MAX_NAME = 100
MAX_MASTER = 50
MAX_ADDRESS = 200

# A bare table clause rather than the Case model: the admin may count a station's open cases
# to refuse a deactivation, but this module never loads a case row (三员分立).
_cases = table(
    "cases",
    column("agency"),
    column("unit"),
    column("state"),
)


def list_all(session: Session, *, actor: Actor) -> list[Station]:
    """Every station of the agency, inactive ones included, in file order."""
    require_admin(actor)
    return list(
        session.scalars(select(Station).where(Station.agency == actor.agency).order_by(Station.id))
    )


def town_names(session: Session, *, agency: str) -> dict[tuple[str, str], str]:
    """(town code, release) → town name, for showing where a station is."""
    return {
        (t.code, t.release): t.name
        for t in session.scalars(select(Town).where(Town.agency == agency))
    }


def get_station(session: Session, *, actor: Actor, code: str) -> Station:
    """One station of the agency, or NotFound."""
    require_admin(actor)
    station = session.scalar(
        select(Station).where(Station.agency == actor.agency, Station.code == code.upper())
    )
    if station is None:
        raise NotFound(f"no station {code}")
    return station


def open_case_count(session: Session, *, agency: str, code: str) -> int:
    """How many open cases sit with the station now (a number, no details).

    A case forwarded elsewhere is not counted: its handling unit carries on without the
    station that took it.
    """
    count = session.scalar(
        select(func.count())
        .select_from(_cases)
        .where(
            _cases.c.agency == agency,
            _cases.c.unit == code,
            _cases.c.state.in_([s.value for s in OPEN]),
        )
    )
    return int(count or 0)


def _text(
    field: str, value: str | None, limit: int, errors: list[FieldError], *, required: bool
) -> str | None:
    text = (value or "").strip()
    if required and not text:
        errors.append(FieldError(field, "is required", "必填"))
    elif len(text) > limit:
        errors.append(FieldError(field, f"at most {limit} characters", f"不能超过 {limit} 个字符"))
    return text or None


def update(
    uow: UnitOfWork,
    *,
    actor: Actor,
    code: str,
    name: str,
    master: str | None,
    address: str | None,
    active: bool,
    opening_hours: str | None = None,
    phone: str | None = None,
) -> Station:
    """Change a station's name, master, address, opening hours, phone or active flag."""
    station = get_station(uow.session, actor=actor, code=code)
    errors: list[FieldError] = []
    new_name = _text("name", name, MAX_NAME, errors, required=True)
    new_master = _text("master", master, MAX_MASTER, errors, required=False)
    new_address = _text("address", address, MAX_ADDRESS, errors, required=False)
    # None (a form or caller that does not know the contact fields) keeps what is stored.
    new_hours = (
        station.opening_hours
        if opening_hours is None
        else _text("opening_hours", opening_hours, rules.MAX_HOURS, errors, required=False)
    )
    new_phone = (
        station.phone
        if phone is None
        else _text("phone", phone, rules.MAX_PHONE, errors, required=False)
    )
    if (
        phone is not None
        and new_phone
        and len(new_phone) <= rules.MAX_PHONE
        and not rules.phone_ok(new_phone)
    ):
        errors.append(
            FieldError(
                "phone",
                "a phone number: digits with optional spaces or hyphens, e.g. 023-49000118",
                "请填写电话号码：数字，可含空格或连字符，例如 023-49000118",
            )
        )
    if station.active and not active:
        if station.kind == "bureau":
            # Forwarded cases go to the bureau hall; without it they would have nowhere to go.
            errors.append(
                FieldError(
                    "active",
                    "the bureau hall cannot be deactivated",
                    "医保局服务大厅不能停用",
                )
            )
        else:
            n = open_case_count(uow.session, agency=actor.agency, code=station.code)
            if n:
                errors.append(
                    FieldError(
                        "active",
                        f"{n} open case(s) still sit with this station; "
                        "finish or forward them first",
                        f"本站还有 {n} 件未办结的办件，请先办结或转办后再停用",
                    )
                )
    if errors:
        raise ValidationFailed(errors)
    changes: dict[str, Any] = {}
    for attr, new in (
        ("name", new_name),
        ("master", new_master),
        ("address", new_address),
        ("opening_hours", new_hours),
        ("phone", new_phone),
        ("active", active),
    ):
        old = getattr(station, attr)
        if old != new:
            changes[attr] = [old, new]
            setattr(station, attr, new)
    if changes:
        audit.record(
            uow.session,
            agency=actor.agency,
            actor_id=actor.id,
            actor_name=actor.username,
            action="station.update",
            object_type="station",
            object_id=station.code,
            ip=actor.ip,
            detail=changes,
        )
        uow.commit()
    return station
