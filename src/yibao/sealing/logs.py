"""No full ID number in any log line: a log-record factory that masks them at the source.

Installed once per process by the app (and ``yibao serve``). It rewrites every record made by
any logger (ours, uvicorn's, SQLAlchemy's): the message with its arguments, and the text of an
attached exception and stack, so a traceback whose message quotes an ID number is masked too.
A number is masked when it is a valid 18-character citizen ID number (check character and
birth date), wherever it stands in the text.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from yibao.people.rules import InvalidInput, parse_id_number

_CANDIDATE = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
_lock = threading.Lock()
_installed = False


def _valid(text: str) -> bool:
    # The intake's own rules (province, birth date, check character): python-stdnum's region
    # table lacks districts made since it was written, such as Yongchuan's 500118.
    try:
        parse_id_number(text)
    except InvalidInput:
        return False
    return True


def redact(text: str) -> str:
    """``text`` with every valid ID number shown as first 6 + ******** + last 4."""
    if len(text) < 18:
        return text
    spans: list[tuple[int, int]] = []
    for m in _CANDIDATE.finditer(text):
        start = m.start(1)
        if spans and start < spans[-1][1]:
            continue
        if _valid(m.group(1)):
            spans.append((start, start + 18))
    if not spans:
        return text
    out, pos = [], 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(text[start : start + 6] + "********" + text[end - 4 : end])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ID numbers in ``record``: its message (formatted now), exception and stack."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler's own error path
        return record
    clean = redact(message)
    if clean != message:
        args = record.args
        if isinstance(args, tuple) and args:
            # Keep the arguments' shape (uvicorn's access formatter reads them one by one).
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            try:
                still = record.getMessage() != clean
            except Exception:
                still = True
            if still:
                record.msg, record.args = clean, None
        else:
            record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Mask ID numbers in every log record this process makes from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
