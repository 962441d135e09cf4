"""Sending a stored file back: the owning slice's route calls this after its access check."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from yibao.attachments.models import Attachment


def file_response(att: Attachment, *, download: bool = False) -> Response:
    """The file's bytes with its type, a safe name, and no sniffing or caching by the browser."""
    disposition = "attachment" if download or att.content_type == "application/pdf" else "inline"
    return Response(
        content=att.data,
        media_type=att.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(att.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'",
        },
    )
