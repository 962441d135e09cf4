"""Refused access as audit records: a 403, or the 404 of a record, for a signed-in actor.

An out-of-scope record answers the same 404 as an unknown one (nobody learns that it exists),
so both are recorded. Anonymous requests (the citizen's public pages) are never recorded here:
they are rate-limited instead, and a record per guess would let anyone fill the audit trail.

The record is written in its own short transaction, after the request's own one has ended
(it was rolled back, or never wrote): the request context middleware calls :func:`record_denial`
once the response is sent, so it also covers pages that catch ``NotFound``/``Forbidden``
themselves and answer 403/404. A failure here is logged (without personal data) and swallowed:
a flood of 404s must never turn into 500s.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from yibao.audit import context
from yibao.audit import service as audit

log = logging.getLogger("yibao.audit")

DENIED_STATUS = frozenset({403, 404})
ACTION = "access.denied"
# Path segments that name no object (``/api/v1/cases/X`` is about ``cases``).
_PREFIXES = frozenset({"api", "v1", "admin", "public"})

def object_of(route_path: str | None, path: str, path_params: dict[str, Any]) -> tuple[str, str]:
    """(object_type, object_id) of a request: the route's first noun and its path parameters."""
    template = route_path or path
    nouns = [
        s
        for s in template.strip("/").split("/")
        if s and not s.startswith("{") and s not in _PREFIXES
    ]
    object_type = (nouns[0] if nouns else "path")[:20]
    object_id = "/".join(str(v) for v in path_params.values()) if path_params else path
    return object_type, object_id[:64]


def record_denial(
    db: Any,
    *,
    actor: Any,
    status: int,
    method: str,
    path: str,
    route_path: str | None,
    path_params: dict[str, Any],
    reason: str | None = None,
) -> bool:
    """Write one ``access.denied`` record (result "denied") in its own transaction.

    ``db`` is the node's :class:`yibao.db.Database`, ``actor`` the signed-in
    :class:`yibao.accounts.rules.Actor`. Returns whether the record was written.
    """
    ctx = context.current()
    object_type, object_id = object_of(route_path, path, path_params)
    detail: dict[str, Any] = {"status": status, "method": method, "route": route_path or path}
    if reason:
        detail["reason"] = reason
    try:
        with db.uow() as uow:
            audit.record(
                uow.session,
                agency=actor.agency,
                actor_id=actor.id,
                actor_name=actor.username,
                action=ACTION,
                object_type=object_type,
                object_id=object_id,
                ip=ctx.ip,
                detail=detail,
                result="denied",
                role=actor.role.value,
                unit=actor.unit,
                request_id=ctx.request_id,
            )
            uow.commit()
    except SQLAlchemyError as exc:
        # No statement parameters and no path: they may hold case numbers or ID tails.
        log.warning("refused access not audited: %s", type(exc).__name__)
        return False
    except Exception as exc:  # a denial must never become a 500
        log.error("refused access not audited: %s", type(exc).__name__)
        return False
    return True
