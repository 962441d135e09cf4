"""Keep the citizen's lookup credential (the ID tail) out of uvicorn's access log.

The JSON lookup is ``GET /public/cases/{case_no}?id_tail=NNNN`` (DESIGN.md §7); uvicorn logs
every request line, so without this filter each lookup would write the tail to the log. On
``/public`` paths every query value is logged as ``****``; elsewhere ``id_tail`` is.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

MASK = "****"
PUBLIC_PREFIX = "/public"
_TAIL = re.compile(r"(id(?:_|%5f)tail=)[^&\s\"]*", re.IGNORECASE)
# A public path with a query inside an already formatted line: `"GET /public/x?a=1 HTTP/1.1"`.
_PUBLIC_IN_LINE = re.compile(r"(/public[^\s?\"]*)\?([^\s\"]*)")


def redact_path(path: str) -> str:
    """The path as the log may show it: public query values and ID tails masked."""
    if "?" not in path:
        return path
    base, _, query = path.partition("?")
    if base == PUBLIC_PREFIX or base.startswith(PUBLIC_PREFIX + "/"):
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            return f"{base}?{MASK}"
        return base + "?" + "&".join(f"{_key(k)}={MASK}" for k, _ in pairs)
    return _TAIL.sub(lambda m: m.group(1) + MASK, path)


def _key(name: str) -> str:
    # Only plain parameter names are echoed; anything else is masked too.
    return name if re.fullmatch(r"[A-Za-z0-9_]{1,40}", name) else MASK


def redact_line(text: str) -> str:
    """An already formatted log line with public query strings and ID tails masked."""
    text = _PUBLIC_IN_LINE.sub(lambda m: redact_path(f"{m.group(1)}?{m.group(2)}"), text)
    return _TAIL.sub(lambda m: m.group(1) + MASK, text)


class RedactPublicQuery(logging.Filter):
    """A filter for ``uvicorn.access``: rewrites the request line's path before it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str):
            record.msg = redact_line(record.msg)
        return True


def install() -> None:
    """Add the filter to this process's ``uvicorn.access`` logger (and its handlers)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactPublicQuery) for f in logger.filters):
        logger.addFilter(RedactPublicQuery())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on the access log.

    Passed to ``uvicorn.run(log_config=...)`` so that worker processes (``--workers N``), which
    configure their logging afresh from it, redact too.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_public_query"] = {
        "()": "yibao.web.access_log.RedactPublicQuery"
    }
    config["handlers"]["access"].setdefault("filters", []).append("redact_public_query")
    return config
