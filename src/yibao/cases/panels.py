"""Sections that other concepts add to the case page (the person's filings, the rating).

The case package does not know them: a slice registers a panel function when its views module
is imported, and the case page renders whatever the registered panels return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.cases.models import Case
from yibao.runtime import Runtime

# (session, runtime, actor, case) -> (template name, context) or None when nothing to show.
Panel = Callable[[Session, Runtime, Actor, Case], tuple[str, dict[str, Any]] | None]

PANELS: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add a panel to every case page (use as a decorator; registering twice is harmless)."""
    if panel not in PANELS:
        PANELS.append(panel)
    return panel


def render_panels(
    session: Session, runtime: Runtime, actor: Actor, case: Case
) -> list[tuple[str, dict[str, Any]]]:
    """The panels that have something to show for this case, in registration order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for panel in PANELS:
        shown = panel(session, runtime, actor, case)
        if shown is not None:
            out.append(shown)
    return out


@dataclass(frozen=True)
class Notice:
    """A line on the clerk's queue about work waiting elsewhere (e.g. ratings to rectify)."""

    text: str
    href: str
    urgent: bool = False  # something is overdue


# (session, runtime, actor) -> the notices for this person now (empty when nothing waits).
NoticeSource = Callable[[Session, Runtime, Actor], list[Notice]]

NOTICES: list[NoticeSource] = []


def register_notice(source: NoticeSource) -> NoticeSource:
    """Add a source of queue notices (use as a decorator; registering twice is harmless)."""
    if source not in NOTICES:
        NOTICES.append(source)
    return source


def queue_notices(session: Session, runtime: Runtime, actor: Actor) -> list[Notice]:
    """Every registered source's notices for this person, urgent ones first."""
    out = [n for source in NOTICES for n in source(session, runtime, actor)]
    return sorted(out, key=lambda n: not n.urgent)
