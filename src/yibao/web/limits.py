"""Request limits: body size (ASGI middleware) and a small per-key rate limiter."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# File uploads (photos, scanned evidence) go to paths with this segment and may be larger.
UPLOAD_SEGMENT = "/attachments"
UPLOAD_MAX_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """Refuse bodies larger than ``max_bytes`` with 413, whether declared or streamed.

    File uploads — multipart bodies, or any body to a path containing ``/attachments`` — may be
    up to ``upload_bytes``; each file is then checked by the attachments rules (5 MiB).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int = UPLOAD_MAX_BYTES) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.upload_bytes = max(upload_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        upload = UPLOAD_SEGMENT in scope.get("path", "") or content_type.lower().startswith(
            b"multipart/form-data"
        )
        max_bytes = self.upload_bytes if upload else self.default_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await _send_413(send, max_bytes)
                return
        seen = 0
        responded = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not responded:
                await _send_413(send, max_bytes)


class _TooLarge(Exception):
    pass


async def _send_413(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "https://yibao.example/problems/too_large",
        "title": "Body too large",
        "status": 413,
        "detail": f"the request body exceeds {limit} bytes",
        "errors": [{"field": "body", "message": f"at most {limit} bytes"}],
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class NulGuard:
    """Refuse a NUL character anywhere in a request's text with a 422 naming the field.

    PostgreSQL cannot store NUL in text (SQLite can), so without this guard a stray ``%00``
    would pass validation and fail at the database as a 500 on one backend only. Query strings,
    JSON and form bodies are checked; file uploads (multipart) are left to the slices, whose
    files may hold any bytes. A NUL in the path is a 404: no record has such a name.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").lower():
            await _send_problem(send, 404, "Not found", "no such resource", None)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await _send_nul(send, _form_field(query))
            return
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if kind not in (b"application/json", b"application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away; let it say so
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if kind == b"application/json" and b"\\u0000" in body:
            await _send_nul(send, _json_field(body))
            return
        if kind != b"application/json" and (b"%00" in body or b"\x00" in body):
            await _send_nul(send, _form_field(body))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _form_field(raw: bytes) -> str:
    from urllib.parse import parse_qsl

    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "body"
    return "body"


def _json_field(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return "body"

    def walk(node: Any, path: str) -> str | None:
        if isinstance(node, str):
            return path if "\x00" in node else None
        if isinstance(node, dict):
            for k, v in node.items():
                here = f"{path}.{k}" if path else str(k)
                if "\x00" in str(k):
                    return here.replace("\x00", "")
                found = walk(v, here)
                if found:
                    return found
        if isinstance(node, list):
            for i, v in enumerate(node):
                found = walk(v, f"{path}[{i}]")
                if found:
                    return found
        return None

    return walk(data, "") or "body"


async def _send_nul(send: Send, field: str) -> None:
    await _send_problem(
        send,
        422,
        "Invalid input",
        f"{field}: NUL characters are not allowed",
        [
            {
                "field": field,
                "message": "NUL characters are not allowed",
                "message_zh": "含有无效字符",
            }
        ],
    )


async def _send_problem(
    send: Send, status: int, title: str, detail: str, errors: list[dict[str, str]] | None
) -> None:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors is not None:
        body["type"] = "https://yibao.example/problems/validation"
        body["errors"] = errors
    raw = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
