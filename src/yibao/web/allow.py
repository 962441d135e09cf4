"""A 405 names every method the path answers, not just those of the first route that matched.

Starlette tries the routes in order and answers 405 with the ``Allow`` of the first one whose
path matches; ``GET /api/v1/cases`` and ``POST /api/v1/cases`` are two routes, so an ``OPTIONS``
learnt only one of them (RFC 9110 §15.5.6 asks for the full list).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AllowHeader:
    """Rewrite ``Allow`` on a 405 from all the routes whose path matches the request's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope)
                if methods:
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                    ]
                    headers.append((b"allow", ", ".join(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, rewrite)


def allowed_methods(scope: Scope) -> list[str]:
    """The methods of the routes whose path matches; a literal path beats a template.

    ``/api/v1/filings/lookup`` (POST) also matches ``/api/v1/filings/{filing_no}`` (GET), but
    the literal route is the resource that was asked for.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    literal: set[str] = set()
    templated: set[str] = set()
    for route in _routes(scope.get("app")):
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if regex is None or not methods or not regex.match(path):
            continue
        if getattr(route, "param_convertors", None):
            templated |= set(methods)
        else:
            literal |= set(methods)
    return sorted(literal or templated)


def _routes(app: Any) -> list[Any]:
    """The app's routes, those of included routers too (FastAPI ≥ 0.16x includes them lazily)."""
    routes = list(getattr(app, "routes", []))
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: included routes are copied in
        return routes
    return list(iter_route_contexts(routes))
