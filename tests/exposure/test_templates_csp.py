"""No template holds what the Content-Security-Policy refuses: an inline <script>, an on*=
handler, a style="" attribute or a <style> element (their content lives under /static)."""

from __future__ import annotations

import re
from pathlib import Path

import yibao.web

TEMPLATES = Path(yibao.web.__file__).parent / "templates"
STATIC = Path(yibao.web.__file__).parent / "static"
# Jinja's own syntax is not HTML: `_("…", on_time=…)` inside {{ }} is not a handler.
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
RULES = {
    "inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "on* handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S),
    "<style> element": re.compile(r"<style[\s>]", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def offences() -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = JINJA.sub(" ", path.read_text(encoding="utf-8"))
        for what, pattern in RULES.items():
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    return found


def test_no_template_needs_unsafe_inline() -> None:
    assert offences() == []


def test_the_rules_catch_what_they_should() -> None:
    samples = {
        "<script>alert(1)</script>": "inline <script>",
        '<button onclick="x()">': "on* handler",
        '<p class="a" style="color:red">': "style attribute",
        "<style>p{}</style>": "<style> element",
    }
    for html, what in samples.items():
        assert RULES[what].search(html), html
    assert not RULES["inline <script>"].search('<script src="/static/js/app.js" defer></script>')
    assert not RULES["on* handler"].search(JINJA.sub(" ", '<p>{{ _("x", on_time=1) }}</p>'))


def test_every_static_file_a_template_names_exists() -> None:
    named = set()
    for path in TEMPLATES.rglob("*.html"):
        named |= set(re.findall(r"static_url\('([^']+)'\)", path.read_text(encoding="utf-8")))
    missing = sorted(n for n in named if not (STATIC / n).is_file())
    assert missing == []
