"""The admin's page of sign-in security: which roles must use a second factor, and the waits
that wrong sign-ins put on account names, devices and addresses (with a button to end one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yibao.accounts import admin, backoff, policy
from yibao.accounts.rules import Actor, Role
from yibao.audit import service as audit
from yibao.runtime import Runtime
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import ROLE_LABELS, CsrfDep, PageActor, render, require_roles

router = APIRouter(prefix="/admin", include_in_schema=False)

FLASH = {
    "policy": "The sign-in policy was saved.",
    "lifted": "The wait was ended.",
}


def _page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    *,
    flash: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    now = runtime.now()
    with runtime.db.session() as session:
        required = policy.mfa_roles(
            session, agency=actor.agency, default=runtime.settings.mfa_required_roles
        )
        state = admin.sign_in_state(session, actor=actor, now=now)
        held = backoff.held(session, agency=actor.agency, now=now)
    rows = [
        {
            "key": h.key,
            "kind": h.kind,
            "subject": h.subject,
            "failures": h.failures,
            "last": h.last_failure_at.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M:%S"),
            "until": h.blocked_until.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M:%S")
            if h.blocked_until and h.blocked_until > now
            else "",
        }
        for h in held
    ]
    return render(
        request,
        "admin/sign_in.html",
        {
            "roles": [r.value for r in Role],
            "required": {r.value for r in required},
            "role_labels": ROLE_LABELS,
            "held": rows,
            "enrolled": len(state.enrolled),
            "flash": _(FLASH[flash]) if flash in FLASH else None,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/sign-in")
def sign_in_security(
    request: Request, runtime: RuntimeDep, actor: PageActor, done: str | None = None
) -> Response:
    """The second-factor policy and the current sign-in waits."""
    require_roles(actor, Role.ADMIN)
    return _page(request, runtime, actor, flash=done)


@router.post("/sign-in/policy")
async def save_policy(request: Request, runtime: RuntimeDep, info: CsrfDep) -> Response:
    """Store the roles that must sign in with a second factor (audited)."""
    actor = info.actor
    require_roles(actor, Role.ADMIN)
    form = await request.form()
    chosen = [v for v in form.getlist("mfa_roles") if isinstance(v, str)]
    roles = frozenset(Role(v) for v in chosen if v in {r.value for r in Role})
    if len(roles) != len(set(chosen)):
        return _page(request, runtime, actor, error=_("Unknown role."), status_code=422)
    with runtime.db.uow() as uow:
        before, after = policy.set_mfa_roles(
            uow.session, agency=actor.agency, roles=roles, by=actor.username, now=runtime.now()
        )
        audit.record_actor(
            uow.session,
            actor,
            action="policy.mfa_roles",
            object_type="sign_in_policy",
            object_id=actor.agency,
            detail={
                "before": sorted(r.value for r in before) if before is not None else None,
                "after": sorted(r.value for r in after),
            },
        )
        uow.commit()
    return RedirectResponse("/admin/sign-in?done=policy", status_code=303)


@router.post("/sign-in/lift")
def lift(
    request: Request,
    runtime: RuntimeDep,
    info: CsrfDep,
    key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """End one wait now (audited); a key with nothing to lift just shows the page again."""
    actor = info.actor
    require_roles(actor, Role.ADMIN)
    with runtime.db.uow() as uow:
        admin.lift_key(uow, actor=actor, key=key)
    return RedirectResponse("/admin/sign-in?done=lifted", status_code=303)
