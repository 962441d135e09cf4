"""Jinja2 templates of the package, with Babel translations installed (newstyle gettext)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from yibao.web import i18n

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(["html", "xml"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def _static_version() -> str:
    # Cache-busting by the newest mtime of the static folder, read once at start-up.
    newest = max((p.stat().st_mtime for p in STATIC_DIR.rglob("*") if p.is_file()), default=0)
    return str(int(newest))


_VERSION = _static_version()


def static_url(path: str) -> str:
    """URL of a static file, with a version that changes when the files change."""
    return f"/static/{path}?v={_VERSION}"


_LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def localtime(value: str | datetime) -> str:
    """An ISO timestamp as agency-local time, to the minute."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(_LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _locale() -> str:
    return i18n.current_locale.get()


env.globals.update(static_url=static_url, current_locale=_locale)
env.filters["localtime"] = localtime

templates = Jinja2Templates(env=env)


def register_filter(name: str, fn: Any) -> None:
    """Add a template filter (used by page modules)."""
    env.filters[name] = fn
