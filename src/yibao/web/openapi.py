"""The OpenAPI document declares the problem+json answers each operation can give.

FastAPI documents only the success answer and its own ``HTTPValidationError`` (plain JSON with
``detail``), which is not what a client receives: every error of this app is one
``application/problem+json`` shape (``web/problems.py``). The statuses follow from how an
operation is built, so they are added in one place rather than on every route:

- a bearer token is required → 401 (none, expired, revoked) and 403 (role or scope);
- a parameter or a body → 404 (it names a case, station, ... that is not there or not in the
  caller's scope: the same answer for both) and 422 naming the field; a body → 400 (not JSON,
  or a broken multipart) and 413 (past the size limit);
- a POST → 409 (a stale version, a repeated idempotency key with another body, a state taken);
- no token (the public pages and the sign-in) → 429 (per-address limits).

A route may declare more itself (``responses=problem_responses(...)``); those are kept. Where a
route's 200 is also an HTML page (the citizen's pages), its problems are pages for a browser
too, so ``text/html`` is declared beside problem+json.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_MEDIA = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` lists the fields of a validation error.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "message_zh": {"type": "string"},
                },
            },
        },
    },
}

DESCRIPTIONS = {
    400: "Malformed request body",
    401: "No valid credentials (token, password or signature)",
    403: "Not allowed for this role or unit",
    404: "Not found (or not in the caller's scope, or not on this node)",
    409: "Conflict: a stale version or a state already taken",
    413: "Request body too large",
    422: "Invalid input; `errors` names the fields",
    429: "Too many requests; see Retry-After",
}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One documented problem+json answer."""
    return {
        "description": description or DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer more problems than its shape says."""
    return {status: problem_response(status) for status in statuses}


def html_page(description: str = "The page (a browser), or JSON") -> dict[int | str, Any]:
    """``responses=`` for a route whose 200 is an HTML page for browsers."""
    return {
        200: {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
    }


def problem_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation can answer, from how it is built."""
    statuses: set[int] = set()
    params = operation.get("parameters", [])
    body = operation.get("requestBody")
    if operation.get("security"):
        statuses |= {401, 403}
    else:
        statuses.add(429)
    if params or body:
        statuses |= {404, 422}
    if body:
        statuses |= {400, 413}
    if method == "post":
        statuses.add(409)
    return statuses


def declare_problems(document: dict[str, Any]) -> None:
    """Add the problem answers to every operation of ``document`` (in place)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(problem_statuses(method, operation)):
                current = responses.get(str(status))
                # FastAPI's default 422 (HTTPValidationError, plain JSON) is not what we send.
                if current is None or _is_fastapi_validation(current):
                    responses[str(status)] = problem_response(status)
            if "text/html" in responses.get("200", {}).get("content", {}):
                for status, response in responses.items():
                    if status.startswith("4") and PROBLEM_MEDIA in response.get("content", {}):
                        response["content"] = {
                            **response["content"],
                            "text/html": {"schema": {"type": "string"}},
                        }
    # Nothing refers to FastAPI's validation shapes any more.
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(document, name):
            schemas.pop(name, None)


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _referenced(document: dict[str, Any], name: str) -> bool:
    ref = f"#/components/schemas/{name}"

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("$ref") == ref or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(document.get("paths", {})) or walk(
        {k: v for k, v in document["components"]["schemas"].items() if k != name}
    )


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the problem answers declared."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = base()
            declare_problems(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
