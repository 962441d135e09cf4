"""Request context middleware: a request id per request and the client's address for audit.

Pure ASGI (no body buffering), so it costs a regex match and a uuid per request. An incoming
``X-Request-ID`` is kept when it looks like an id (a proxy's or a client's correlation id),
otherwise a fresh one is made; the response always carries the id that the audit records of
this request hold.
"""

from __future__ import annotations

import re
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yibao.audit import context, denials
from yibao.web.deps import client_ip

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_from(value: str | None) -> str:
    """The incoming id when it is well-formed, else a new uuid4 hex."""
    if value and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Begins the audit context (request id, client address) for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers") or []:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        ip = client_ip(Request(scope))
        raw_id = request_id.encode("ascii")

        status: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", raw_id))
                message["headers"] = headers
            await send(message)

        token = context.begin(request_id=request_id, ip=ip)
        try:
            await self.app(scope, receive, send_with_id)
            if status and status[0] in denials.DENIED_STATUS:
                await _audit_denial(scope, status[0])
        finally:
            context.end(token)


async def _audit_denial(scope: Scope, status: int) -> None:
    """A 403/404 answered to a signed-in actor: an ``access.denied`` record, after the response.

    By now the request's own transaction has ended (the app returned), so the record's short
    transaction never waits for it; pages that catch NotFound themselves are covered too.
    """
    state = scope.get("state") or {}
    actor = state.get("actor")
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if actor is None or runtime is None:
        return  # anonymous (public pages are rate-limited instead) or no node behind the app
    route = scope.get("route")
    await run_in_threadpool(
        denials.record_denial,
        runtime.db,
        actor=actor,
        status=status,
        method=scope.get("method", ""),
        path=scope.get("path", ""),
        route_path=getattr(route, "path", None),
        path_params=dict(scope.get("path_params") or {}),
        reason=state.get("denial_reason"),
    )
