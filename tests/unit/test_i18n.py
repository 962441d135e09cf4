"""Every string the UI marks for translation has its Chinese (zh-CN is the default language)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file

import yibao
from yibao.web.i18n import load_catalog

SRC = Path(yibao.__file__).parent


def _msgids() -> set[str]:
    ids: set[str] = set()
    files = [*SRC.rglob("*.html"), *(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)]
    for path in files:
        method = "jinja2" if path.suffix == ".html" else "python"
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, msg, _comments, _ctx in extract_from_file(method, str(path), options=options):
            ids.add(msg if isinstance(msg, str) else msg[0])
    return ids


def _dynamic() -> set[str]:
    # Labels translated through a variable: _(label) — their msgids are the dict values.
    from yibao.cases.views import CHANNEL_LABELS, KIND_LABELS
    from yibao.web.pages import NAV, ROLE_LABELS

    return {
        *CHANNEL_LABELS.values(),
        *KIND_LABELS.values(),
        *ROLE_LABELS.values(),
        *(label for _href, label, _roles in NAV),
    }


def test_every_marked_string_has_chinese() -> None:
    catalog = load_catalog("zh_CN")
    assert catalog is not None
    missing = sorted(
        m for m in _msgids() | _dynamic() if not catalog.get(m) or not catalog[m].string
    )
    assert missing == [], f"add these to src/yibao/web/i18n/zh_CN/*.po: {missing}"


def test_placeholders_survive_translation() -> None:
    catalog = load_catalog("zh_CN")
    assert catalog is not None
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        for ph in ("%(n)d", "%(no)s", "%(minutes)d"):
            if ph in message.id:
                assert ph in str(message.string), message.id
