"""HTML pages of one's own account: who I am, and setting up, renewing or turning off the
second factor (the sign-in steps themselves are in ``second_factor_views``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yibao.accounts import policy, signin, totp
from yibao.accounts.models import User
from yibao.accounts.rules import Actor, Role
from yibao.accounts.second_factor_views import codes_page, confirm, enrol_page, wait_message
from yibao.audit import service as audit
from yibao.db import UnitOfWork
from yibao.errors import NotAuthenticated, RateLimited
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import CsrfDep, PageActor, render

router = APIRouter(include_in_schema=False)


@router.get("/account/totp")
def enrol_from_account(request: Request, runtime: RuntimeDep, actor: PageActor) -> Response:
    """Set up an authenticator app for one's own account."""
    with runtime.db.uow() as uow:
        user = uow.session.get(User, actor.id)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if totp.confirmed(uow.session, user.id) is not None:
            return RedirectResponse("/account", status_code=303)
        info = request.state.session
        return enrol_page(request, runtime, uow, user, action="/account/totp", csrf=info.csrf_token)


@router.post("/account/totp")
def enrol_from_account_submit(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Confirm the app with its first code and show the recovery codes once."""
    with runtime.db.uow() as uow:
        user = uow.session.get(User, info.actor.id)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if totp.confirmed(uow.session, user.id) is not None:
            return RedirectResponse("/account", status_code=303)
        codes = confirm(uow, runtime, user, code, signin.Client(ip=info.actor.ip))
        if codes is None:
            return enrol_page(
                request,
                runtime,
                uow,
                user,
                action="/account/totp",
                csrf=info.csrf_token,
                error=_("That code does not match. Type the code the app shows now."),
                status_code=422,
            )
        uow.commit()
    return codes_page(request, codes, next_path="/account")


def _with_code(
    runtime: Runtime, uow: UnitOfWork, user: User, code: str, client: signin.Client
) -> str | None:
    """None when the code is right, else the message to show."""
    try:
        signin.check_second_factor(uow, user=user, code=code, now=runtime.now(), client=client)
    except RateLimited as exc:
        return wait_message(exc)
    except NotAuthenticated:
        return _("Wrong or already used code.")
    return None


@router.post("/account/recovery-codes")
def new_recovery_codes(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """New recovery codes (the old ones stop working), after a code from the app."""
    with runtime.db.uow() as uow:
        user = uow.session.get(User, info.actor.id)
        if user is None or totp.confirmed(uow.session, user.id) is None:
            return RedirectResponse("/account", status_code=303)
        problem = _with_code(runtime, uow, user, code, signin.Client(ip=info.actor.ip))
        if problem:
            return account_page(request, runtime, info.actor, error=problem, status_code=422)
        codes = totp.new_recovery_codes(uow.session, user=user)
        audit.record_actor(
            uow.session,
            info.actor,
            action="user.recovery_codes",
            object_type="user",
            object_id=str(user.id),
        )
        uow.commit()
    return codes_page(request, codes, next_path="/account")


@router.post("/account/totp/remove")
def remove_totp(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Turn the second factor off, where the role does not require it."""
    with runtime.db.uow() as uow:
        user = uow.session.get(User, info.actor.id)
        if user is None or totp.confirmed(uow.session, user.id) is None:
            return RedirectResponse("/account", status_code=303)
        if _required(uow, runtime, user):
            return account_page(
                request,
                runtime,
                info.actor,
                error=_("Your role must sign in with a second factor; it cannot be turned off."),
                status_code=403,
            )
        problem = _with_code(runtime, uow, user, code, signin.Client(ip=info.actor.ip))
        if problem:
            return account_page(request, runtime, info.actor, error=problem, status_code=422)
        totp.remove(uow.session, user_id=user.id)
        audit.record_actor(
            uow.session,
            info.actor,
            action="user.totp_remove",
            object_type="user",
            object_id=str(user.id),
        )
        uow.commit()
    return RedirectResponse("/account", status_code=303)


def _required(uow: UnitOfWork, runtime: Runtime, user: User) -> bool:
    roles = policy.mfa_roles(
        uow.session, agency=user.agency, default=runtime.settings.mfa_required_roles
    )
    return Role(user.role) in roles


def account_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """Who I am, and the state of my second factor."""
    with runtime.db.session() as session:
        row = totp.confirmed(session, actor.id)
        left = totp.recovery_codes_left(session, actor.id) if row is not None else 0
        required = Role(actor.role) in policy.mfa_roles(
            session, agency=actor.agency, default=runtime.settings.mfa_required_roles
        )
    confirmed_at = row.confirmed_at if row is not None else None
    since = confirmed_at.astimezone(runtime.tz).strftime("%Y-%m-%d") if confirmed_at else ""
    return render(
        request,
        "account.html",
        {
            "me": actor,
            "totp_on": row is not None,
            "totp_since": since,
            "codes_left": left,
            "totp_required": required,
            "error": error,
        },
        status_code=status_code,
    )
