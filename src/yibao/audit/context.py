"""What an audit record knows of the request it was written in (request id, address, role, unit).

A middleware sets the request id and the client's address when a request starts; the actor's
role and unit are added once the actor is known. ``audit.service.record`` fills what the caller
did not give from here, so the use cases need not pass the request around.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestContext:
    """The request an audit record is written in; empty outside a request (CLI, relay).

    Mutable on purpose: FastAPI runs sync dependencies in worker threads with a *copy* of the
    context, so the actor is written into the shared object rather than into a new context.
    """

    request_id: str | None = None
    ip: str | None = None
    role: str | None = None
    unit: str | None = None


_EMPTY = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("yibao_audit_context", default=None)


def current() -> RequestContext:
    """The context of the running request (an empty one outside requests)."""
    return _current.get() or _EMPTY


def begin(*, request_id: str | None, ip: str | None) -> object:
    """Start a request's context; returns a token for :func:`end`."""
    return _current.set(RequestContext(request_id=request_id, ip=ip))


def end(token: object) -> None:
    """Restore the context that was current before :func:`begin`."""
    _current.reset(token)  # type: ignore[arg-type]


def set_actor(*, role: str | None, unit: str | None) -> None:
    """Record the signed-in actor's role and unit in the running request's context."""
    ctx = _current.get()
    if ctx is not None:
        ctx.role, ctx.unit = role, unit
