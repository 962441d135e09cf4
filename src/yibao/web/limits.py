"""Request limits: body size (ASGI middleware) and a small per-key rate limiter."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# File uploads (photos, scanned evidence) go to paths with this segment and may be larger.
UPLOAD_SEGMENT = "/attachments"
UPLOAD_MAX_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """Refuse bodies larger than ``max_bytes`` with 413, whether declared or streamed.

    Paths containing ``/attachments`` take uploads up to ``upload_bytes``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int = UPLOAD_MAX_BYTES) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.upload_bytes = max(upload_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = UPLOAD_SEGMENT in scope.get("path", "")
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


class RateLimiter:
    """At most ``limit`` hits per key in a sliding ``window`` of seconds (per process)."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count one hit; returns the seconds to wait when over the limit, else None."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > self.max_keys:
                self._hits.clear()  # crude, but bounded memory beats a perfect count
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1.0, self.window - (now - q[0]))
            q.append(now)
            return None
