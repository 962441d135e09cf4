"""Words the case pages show for codes: channels, station kinds, states and actions.

English msgids (translated by ``web/i18n/zh_CN/cases.po``) or the lifecycle's own Chinese
labels; a page never shows a raw code to staff.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context

from yibao.cases.lifecycle import (
    ACTION_LABELS_EN,
    ACTION_LABELS_ZH,
    STATE_LABELS_EN,
    STATE_LABELS_ZH,
    Action,
    State,
)

# "Phone call" (电话), the channel, is not "Phone" (联系电话), the applicant's number.
CHANNEL_LABELS = {
    "window": "Window",
    "mobile": "Mobile visit",
    "online": "Online",
    "phone": "Phone call",
}
KIND_LABELS = {
    "bureau": "Bureau hall",
    "fixed": "Hospital station",
    "town": "Town station",
    "village": "Village station",
    "mobile": "Mobile station",
}


def is_zh() -> bool:
    """Whether this request is answered in Chinese."""
    from yibao.web.i18n import current_locale

    return current_locale.get() == "zh_CN"


def action_labels() -> dict[str, str]:
    """Timeline and button labels of every action, intake and download included."""
    zh = is_zh()
    labels = {a.value: (ACTION_LABELS_ZH[a] if zh else ACTION_LABELS_EN[a]) for a in Action}
    labels["intake"] = "受理" if zh else "Intake"
    labels["download"] = "下载到本机" if zh else "Downloaded"
    labels["recompute_due"] = "按新节假日安排重算期限" if zh else "Due date recounted"
    return labels


def state_labels() -> dict[str, str]:
    """The label of every state in this request's language."""
    zh = is_zh()
    return {s.value: (STATE_LABELS_ZH[s] if zh else STATE_LABELS_EN[s]) for s in State}


@pass_context
def unit_name(context: Any, code: str) -> str:
    """A station code as staff read it: the station's name (the bureau hall's, for BUREAU)."""
    request = context.get("request")
    if request is None:
        return str(code)
    return str(request.app.state.runtime.reference().unit_names.get(str(code), str(code)))


@pass_context
def unit_code(context: Any, code: str) -> str:
    """A station's number where a table lists many (F01); none for the bureau hall (BUREAU).

    Station numbers are what staff call the stations by; the bureau hall's code is a word of
    configuration, so it goes by its name alone.
    """
    request = context.get("request")
    if request is None:
        return str(code)
    kind = request.app.state.runtime.reference().units.get(str(code))
    return "" if kind == "bureau" else str(code)


def register_template_filters() -> None:
    """``case_action``, ``unit_name``, ``unit_code``: other slices' pages show codes with these."""
    from yibao.web.templating import register_filter

    register_filter("unit_code", unit_code)
    register_filter("case_action", lambda code: action_labels().get(str(code), str(code)))
    register_filter("unit_name", unit_name)
