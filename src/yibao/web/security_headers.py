"""Security headers on every response, and ``Secure`` on every cookie behind TLS.

The Content-Security-Policy allows no inline script, handler or style: every script and
stylesheet of the pages is a file under ``/static`` (tests/exposure checks the templates).
Whether the node is reached over TLS is said by ``YIBAO_PUBLIC_URL`` (https://…), not by the
proxy's headers, which the node may not trust: behind a TLS proxy the cookies are ``Secure``
even when the proxy talks plain HTTP to us.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HTML_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
)
DEFAULT_REFERRER = b"same-origin"


def secure_cookie(value: bytes) -> bytes:
    """A Set-Cookie value with the ``Secure`` attribute (unchanged when it has it)."""
    attributes = [part.strip().lower() for part in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


class SecurityHeaders:
    """Adds CSP, nosniff, a referrer policy and frame denial; marks cookies Secure on https."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, with_headers)

    def _headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        names = {name.lower() for name, _ in headers}
        content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
        out = [
            (n, secure_cookie(v)) if self.https and n.lower() == b"set-cookie" else (n, v)
            for n, v in headers
        ]
        if b"x-content-type-options" not in names:
            out.append((b"x-content-type-options", b"nosniff"))
        if b"referrer-policy" not in names:
            # The citizen's page asks for no-referrer itself; everything else: same-origin.
            out.append((b"referrer-policy", DEFAULT_REFERRER))
        if content_type.lower().startswith(b"text/html"):
            out.extend(h for h in HTML_HEADERS if h[0] not in names)
        return out
