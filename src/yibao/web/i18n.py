"""Translations (Babel): zh-CN by default, English on request; catalogues are .po files.

The .po files are compiled in memory at start-up, so no generated .mo file is committed.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
CATALOGUE_DIR = Path(__file__).parent / "i18n"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def load_catalog(locale: str) -> Catalog | None:
    """Every ``i18n/<locale>/*.po`` merged into one catalogue (one file per area of the UI)."""
    files = sorted((CATALOGUE_DIR / locale).glob("*.po"))
    if not files:
        return None
    merged = Catalog(locale=locale)
    for path in files:
        with path.open("rb") as f:
            for message in read_po(f, locale=locale):
                if message.id and message.string:
                    merged[message.id] = message
    return merged


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English msgids, so ``en`` needs none)."""
    catalog = load_catalog(locale)
    if catalog is None:
        return NullTranslations()
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def gettext(message: str) -> str:
    """Translate ``message`` into the current request's language."""
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Plural-aware translation into the current request's language."""
    return translations(current_locale.get()).ngettext(singular, plural, n)


def pick_locale(cookie: str | None, accept_language: str | None) -> str:
    """The language for a request: the user's switch (cookie) wins, then zh-CN."""
    if cookie in LOCALES:
        return cookie
    return DEFAULT_LOCALE
