"""HTML pages of the system administrator: users, stations and official calendars.

Only the ``admin`` role opens them; they show configuration and never case data (三员分立).
Every change is a POST carrying the session's CSRF token and answers with a redirect back to
the list, whose ``done`` query parameter names the flash message to show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from yibao.accounts import admin
from yibao.accounts.models import User
from yibao.accounts.rules import STATION_ROLES, Actor, Role
from yibao.calendar.schedule_file import parse_schedule
from yibao.calendar.status import missing_schedule_year
from yibao.db import UnitOfWork
from yibao.errors import FieldError, Forbidden, NotFound, ValidationFailed
from yibao.stations import admin as station_admin
from yibao.stations.models import Station
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    ROLE_LABELS,
    CsrfDep,
    PageActor,
    error_message,
    field_errors,
    render,
    require_roles,
)

router = APIRouter(prefix="/admin", include_in_schema=False)

MAX_SCHEDULE_BYTES = 64 * 1024
EXAMPLE_SCHEDULE = "cn-2026.yaml"

KIND_LABELS: dict[str, str] = {
    "bureau": "Bureau hall",
    "fixed": "Fixed station",
    "town": "Town/street station",
    "village": "Village/community station",
    "mobile": "Mobile station",
}

# Flash messages after a redirect; a code not listed here shows nothing, so the query string
# cannot put arbitrary text on the page.
DONE: dict[str, str] = {
    "created": "User %(who)s was created.",
    "deactivated": "User %(who)s was deactivated and signed out.",
    "reactivated": "User %(who)s was reactivated.",
    "password": "The password of %(who)s was reset; they were signed out.",
    "unlocked": "User %(who)s was unlocked.",
    "totp_reset": "The second factor of %(who)s was reset; they enrol again at the next sign-in.",
    "saved": "Station %(who)s was saved.",
    "imported": "The schedule of %(who)s was imported.",
}


def _admin(actor: Actor) -> Actor:
    require_roles(actor, Role.ADMIN)
    return actor


def _flash(done: str | None, who: str | None) -> str | None:
    if done not in DONE:
        return None
    return _(DONE[done]) % {"who": who or ""}


def _back(path: str, done: str, who: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': done, 'who': who})}", status_code=303)


def _local(runtime: RuntimeDep, moment: datetime | None) -> str:
    return moment.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _not_found(request: Request) -> Response:
    return render(request, "error.html", {"message": _("Not found")}, status_code=404)


# ---------------------------------------------------------------- users


def _user_row(
    runtime: RuntimeDep,
    actor: Actor,
    u: User,
    names: dict[str, str],
    state: admin.SignInState,
) -> dict[str, Any]:
    until = state.waiting.get(u.username.lower())
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "station": u.station_code or "",
        "station_name": names.get(u.station_code or "", ""),
        "active": u.active,
        "locked": until is not None,
        "locked_until": _local(runtime, until),
        "totp": u.id in state.enrolled,
        "created": _local(runtime, u.created_at),
        "is_me": u.id == actor.id,
    }


def _user_rows(runtime: RuntimeDep, actor: Actor) -> tuple[list[dict[str, Any]], list[Station]]:
    with runtime.db.session() as session:
        users = admin.list_users(session, actor=actor)
        stations = station_admin.list_all(session, actor=actor)
        state = admin.sign_in_state(session, actor=actor, now=runtime.now())
    names = {s.code: s.name for s in stations}
    rows = [_user_row(runtime, actor, u, names, state) for u in users]
    return rows, [s for s in stations if s.active]


def _users_page(
    request: Request,
    runtime: RuntimeDep,
    actor: Actor,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    rows, stations = _user_rows(runtime, actor)
    return render(
        request,
        "admin/users.html",
        {
            "users": rows,
            "stations": stations,
            "roles": [r.value for r in Role],
            "station_roles": sorted(r.value for r in STATION_ROLES),
            "form": form or {"role": Role.CLERK.value},
            "errors": errors or {},
            "error": error,
            "flash": flash,
            "role_labels": ROLE_LABELS,
        },
        status_code=status_code,
    )


@router.get("/users")
def users(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    done: str | None = None,
    who: str | None = None,
) -> Response:
    """Every staff account, and the form that creates one."""
    _admin(actor)
    return _users_page(request, runtime, actor, flash=_flash(done, who))


@router.post("/users")
def create_user(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    station: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """Create an account from the form; the errors are shown next to their fields."""
    actor = _admin(info.actor)
    try:
        with runtime.db.uow() as uow:
            user = admin.create(
                uow,
                actor=actor,
                username=username,
                display_name=display_name,
                role=role,
                station=station,
                password=password,
                password_confirm=password_confirm,
            )
    except ValidationFailed as exc:
        form = {
            "username": username,
            "display_name": display_name,
            "role": role,
            "station": station,
        }
        return _users_page(
            request,
            runtime,
            actor,
            form=form,
            errors=field_errors(exc),
            error=error_message(exc),
            status_code=422,
        )
    return _back("/admin/users", "created", user.username)


def _user_page(
    request: Request,
    runtime: RuntimeDep,
    actor: Actor,
    user_id: int,
    *,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        with runtime.db.session() as session:
            user = admin.get_user(session, actor=actor, user_id=user_id)
            names = {s.code: s.name for s in station_admin.list_all(session, actor=actor)}
            state = admin.sign_in_state(session, actor=actor, now=runtime.now())
    except NotFound:
        return _not_found(request)
    row = _user_row(runtime, actor, user, names, state)
    return render(
        request,
        "admin/user.html",
        {"user": row, "errors": errors or {}, "error": error, "role_labels": ROLE_LABELS},
        status_code=status_code,
    )


@router.get("/users/{user_id}")
def user_detail(request: Request, runtime: RuntimeDep, actor: PageActor, user_id: int) -> Response:
    """One account: reset its password, unlock, deactivate or reactivate it."""
    return _user_page(request, runtime, _admin(actor), user_id)


def _user_action(
    request: Request,
    runtime: RuntimeDep,
    actor: Actor,
    user_id: int,
    done: str,
    act: Callable[[UnitOfWork], User],
) -> Response:
    try:
        with runtime.db.uow() as uow:
            # Read the name before the unit of work ends: a no-op (deactivating an inactive
            # account) ends in a rollback, which expires the row.
            username = act(uow).username
    except NotFound:
        return _not_found(request)
    except ValidationFailed as exc:
        return _user_page(
            request,
            runtime,
            actor,
            user_id,
            errors=field_errors(exc),
            error=error_message(exc),
            status_code=422,
        )
    except Forbidden as exc:
        message = (
            _("You cannot deactivate your own account.")
            if exc.data.get("reason") == "self_deactivation"
            else error_message(exc)
        )
        return _user_page(request, runtime, actor, user_id, error=message, status_code=403)
    return _back("/admin/users", done, username)


@router.post("/users/{user_id}/deactivate")
def deactivate_user(request: Request, runtime: RuntimeDep, info: CsrfDep, user_id: int) -> Response:
    """Deactivate an account: its sessions end and its tokens stop working."""
    actor = _admin(info.actor)
    return _user_action(
        request,
        runtime,
        actor,
        user_id,
        "deactivated",
        lambda uow: admin.set_active(uow, actor=actor, user_id=user_id, active=False),
    )


@router.post("/users/{user_id}/reactivate")
def reactivate_user(request: Request, runtime: RuntimeDep, info: CsrfDep, user_id: int) -> Response:
    """Let a deactivated account sign in again."""
    actor = _admin(info.actor)
    return _user_action(
        request,
        runtime,
        actor,
        user_id,
        "reactivated",
        lambda uow: admin.set_active(uow, actor=actor, user_id=user_id, active=True),
    )


@router.post("/users/{user_id}/unlock")
def unlock_user(request: Request, runtime: RuntimeDep, info: CsrfDep, user_id: int) -> Response:
    """End the waits that wrong sign-ins put on the account."""
    actor = _admin(info.actor)
    return _user_action(
        request,
        runtime,
        actor,
        user_id,
        "unlocked",
        lambda uow: admin.unlock(uow, actor=actor, user_id=user_id),
    )


@router.post("/users/{user_id}/totp-reset")
def reset_totp(request: Request, runtime: RuntimeDep, info: CsrfDep, user_id: int) -> Response:
    """Forget the user's authenticator (a lost phone); audited, and they are signed out."""
    actor = _admin(info.actor)
    return _user_action(
        request,
        runtime,
        actor,
        user_id,
        "totp_reset",
        lambda uow: admin.reset_second_factor(uow, actor=actor, user_id=user_id, now=runtime.now()),
    )


@router.post("/users/{user_id}/password")
def reset_password(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    user_id: int,
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """Set a new password chosen by the admin."""
    actor = _admin(info.actor)
    return _user_action(
        request,
        runtime,
        actor,
        user_id,
        "password",
        lambda uow: admin.reset_password(
            uow,
            actor=actor,
            user_id=user_id,
            password=password,
            password_confirm=password_confirm,
            now=runtime.now(),
        ),
    )


# ---------------------------------------------------------------- stations


@router.get("/stations")
def stations(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    done: str | None = None,
    who: str | None = None,
) -> Response:
    """Every station of the agency, inactive ones included."""
    _admin(actor)
    with runtime.db.session() as session:
        rows = station_admin.list_all(session, actor=actor)
        towns = station_admin.town_names(session, agency=actor.agency)
    return render(
        request,
        "admin/stations.html",
        {
            "stations": rows,
            "towns": {
                s.code: towns.get((s.town_code or "", s.town_release or ""), "") for s in rows
            },
            "kind_labels": KIND_LABELS,
            "flash": _flash(done, who),
        },
    )


def _station_page(
    request: Request,
    actor: Actor,
    runtime: RuntimeDep,
    code: str,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        with runtime.db.session() as session:
            station = station_admin.get_station(session, actor=actor, code=code)
    except NotFound:
        return _not_found(request)
    values = form or {
        "name": station.name,
        "master": station.master or "",
        "address": station.address or "",
        "opening_hours": station.opening_hours or "",
        "phone": station.phone or "",
        "active": station.active,
    }
    return render(
        request,
        "admin/station.html",
        {
            "station": station,
            "form": values,
            "errors": errors or {},
            "error": error,
            "kind_labels": KIND_LABELS,
        },
        status_code=status_code,
    )


@router.get("/stations/{code}")
def station_edit(request: Request, runtime: RuntimeDep, actor: PageActor, code: str) -> Response:
    """The form that edits one station."""
    return _station_page(request, _admin(actor), runtime, code)


@router.post("/stations/{code}")
def station_save(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    code: str,
    name: Annotated[str, Form()] = "",
    master: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    opening_hours: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
    active: Annotated[str, Form()] = "",
) -> Response:
    """Save a station; the cached reference data reloads so every page sees the change."""
    actor = _admin(info.actor)
    try:
        with runtime.db.uow() as uow:
            station = station_admin.update(
                uow,
                actor=actor,
                code=code,
                name=name,
                master=master,
                address=address,
                opening_hours=opening_hours,
                phone=phone,
                active=bool(active),
            )
    except NotFound:
        return _not_found(request)
    except ValidationFailed as exc:
        form = {
            "name": name,
            "master": master,
            "address": address,
            "opening_hours": opening_hours or "",
            "phone": phone or "",
            "active": bool(active),
        }
        return _station_page(
            request,
            actor,
            runtime,
            code,
            form=form,
            errors=field_errors(exc),
            error=error_message(exc),
            status_code=422,
        )
    runtime.invalidate()
    return _back("/admin/stations", "saved", station.code)


# ---------------------------------------------------------------- calendar


def _ranges(days: list[date]) -> list[str]:
    out: list[tuple[date, date]] = []
    for d in sorted(days):
        if out and out[-1][1] == d - timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return [str(a) if a == b else f"{a} – {b}" for a, b in out]


def _calendar_page(
    request: Request,
    runtime: RuntimeDep,
    actor: Actor,
    *,
    flash: str | None = None,
    shown_year: int | None = None,
    just_imported: bool = False,
    file_errors: list[FieldError] | None = None,
    error: str | None = None,
    recomputed: int | None = None,
    status_code: int = 200,
) -> Response:
    with runtime.db.session() as session:
        missing = missing_schedule_year(runtime.reference(session).calendar, runtime.today())
        years = admin.calendar_years(session, actor=actor)
        shown = None
        if shown_year is not None and any(y.year == shown_year for y in years):
            off, work = admin.calendar_days(session, actor=actor, year=shown_year)
            shown = {
                "year": shown_year,
                "off": _ranges(off),
                "work": _ranges(work),
                "imported": just_imported,
            }
    return render(
        request,
        "admin/calendar.html",
        {
            "years": [
                {
                    "year": y.year,
                    "source": y.source,
                    "imported_at": _local(runtime, y.imported_at),
                    "days_off": y.days_off,
                    "workdays": y.workdays,
                }
                for y in years
            ],
            "shown": shown,
            "flash": flash,
            "file_errors": file_errors or [],
            "error": error,
            "max_kib": MAX_SCHEDULE_BYTES // 1024,
            "example": EXAMPLE_SCHEDULE,
            "calendar_missing_year": missing,
            "recomputed": recomputed,
        },
        status_code=status_code,
    )


@router.get("/calendar")
def calendar(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    done: str | None = None,
    who: str | None = None,
    year: int | None = None,
    recomputed: int | None = None,
) -> Response:
    """The official years on record and the form that imports a new one."""
    _admin(actor)
    imported = done == "imported" and who is not None and who.isdigit()
    return _calendar_page(
        request,
        runtime,
        actor,
        flash=_flash(done, who),
        shown_year=int(who) if imported and who else year,
        just_imported=imported,
        recomputed=recomputed if imported and recomputed is not None and recomputed >= 0 else None,
    )


@router.get("/calendar/example.yaml")
def calendar_example(actor: PageActor) -> Response:
    """The shipped schedule of 2026, as an example of the import format."""
    _admin(actor)
    text = resources.files("yibao.calendar").joinpath(f"data/{EXAMPLE_SCHEDULE}").read_bytes()
    return Response(
        text,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{EXAMPLE_SCHEDULE}"'},
    )


@router.post("/calendar")
def calendar_import(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import one year's official schedule from an uploaded file."""
    actor = _admin(info.actor)

    def refuse(message: str, errors: list[FieldError] | None = None) -> Response:
        return _calendar_page(
            request, runtime, actor, error=message, file_errors=errors, status_code=422
        )

    if file is None or not file.filename:
        return refuse(_("Choose a schedule file to import."))
    raw = file.file.read(MAX_SCHEDULE_BYTES + 1)
    if not raw:
        return refuse(_("The file is empty."))
    if len(raw) > MAX_SCHEDULE_BYTES:
        return refuse(
            _("The file is larger than %(kib)d KiB; a year's schedule is far smaller.")
            % {"kib": MAX_SCHEDULE_BYTES // 1024}
        )
    try:
        # utf-8-sig: editors on Windows often start a UTF-8 file with a byte-order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return refuse(_("The file is not UTF-8 text. Save it as UTF-8 and try again."))
    try:
        schedule = parse_schedule(text)
    except ValidationFailed as exc:
        return refuse(_("The file was not imported. It has these problems:"), exc.errors)
    with runtime.db.uow() as uow:
        outcome = admin.import_calendar(uow, runtime=runtime, actor=actor, schedule=schedule)
    runtime.invalidate()
    return RedirectResponse(
        f"/admin/calendar?done=imported&who={schedule.year}&recomputed={outcome.recomputed}",
        status_code=303,
    )
