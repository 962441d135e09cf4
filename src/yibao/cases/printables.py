"""Printed documents of a case: the intake receipt (受理回执) and the one-time notice of missing
materials (一次性告知书), as plain data for the HTML pages and the PDFs (``printables_pdf``).

The data builders read only what they are given (a case, its events, reference data), so the
documents can be tested without a database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, tzinfo
from typing import Any
from xml.sax.saxutils import escape

import qrcode
import qrcode.image.svg
from sqlalchemy.orm import object_session

from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import Action, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.present import case_timing
from yibao.cases.public import NEXT_STEP_ZH
from yibao.people.rules import mask_id, mask_name
from yibao.runtime import Reference

HOTLINE = "12393"  # the national healthcare-security service hotline

CHANNEL_LABELS_ZH: dict[str, str] = {
    "window": "窗口受理",
    "mobile": "流动服务站受理",
    "online": "网上申请",
    "phone": "电话申请",
}
CHANNEL_LABELS_EN: dict[str, str] = {
    "window": "At the window",
    "mobile": "Mobile station",
    "online": "Online",
    "phone": "By phone",
}
NEXT_STEP_EN: dict[State, str] = {
    State.RECEIVED: "Your application has been accepted. Please wait; no need to come again.",
    State.IN_PROGRESS: "Your case is being handled. Watch for the result by the promised date.",
    State.MATERIALS_PENDING: "Bring the missing materials listed above to the station; "
    "the time limit pauses until they are complete.",
    State.FORWARDED: "Passed to the unit that can complete it; you need not go there.",
    State.COMPLETED: "Completed.",
    State.REJECTED: "Not accepted. Ask at the station if you have questions.",
    State.WITHDRAWN: "Withdrawn.",
}

# The citizen page lists the missing materials below its text; the receipt lists them above.
RECEIPT_NEXT_STEP_ZH: dict[State, str] = {
    State.MATERIALS_PENDING: "请带齐上表所列尚缺材料，到受理的服务站补正；"
    "补正期间办理时限暂停计算。",
}

# ---------------------------------------------------------------- data


def date_zh(value: date) -> str:
    """A date as official documents write it: 2026年9月29日."""
    return f"{value.year}年{value.month}月{value.day}日"


def _materials(codes: Sequence[str], ref: Reference) -> list[dict[str, str]]:
    return [
        {
            "code": code,
            "name": ref.material_names.get(code, (code, code))[0],
            "name_en": ref.material_names.get(code, (code, code))[1],
        }
        for code in codes
    ]


def _unit_at(case: Case, events: Sequence[CaseEvent], seq: int) -> str:
    """The unit that held the case just after event ``seq`` (forwards replayed in order)."""
    unit = case.intake_station
    for event in events:
        if event.seq > seq:
            break
        if event.action == Action.FORWARD.value:
            unit = str((event.detail or {}).get("to_unit") or unit)
    return unit


def _common(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
) -> dict[str, Any]:
    service = ref.services.get(case.service_code)
    state = State(case.state)
    timing = case_timing(case, ref, today)
    first = events[0] if events else None
    limit = (
        rules.time_limit(service.time_limit_days, service.channel_limits, case.channel)
        if service
        else None
    )
    return {
        "agency_name": agency_name,
        "case_no": case.case_no,
        "service_code": case.service_code,
        "service_name": service.name_zh if service else case.service_code,
        "service_name_en": service.name_en if service else case.service_code,
        "time_limit_days": limit,
        "station_code": case.intake_station,
        "station_name": ref.unit_names.get(case.intake_station, case.intake_station),
        "station_address": addresses.get(case.intake_station) or "",
        "channel": case.channel,
        "channel_label": CHANNEL_LABELS_ZH.get(case.channel, case.channel),
        "channel_label_en": CHANNEL_LABELS_EN.get(case.channel, case.channel),
        # Printed papers leave the office: never the full ID number or the full name.
        "applicant_name": mask_name(case.applicant_name),
        "applicant_id": mask_id(case.applicant_id_number),
        "intake_date": case.intake_date.isoformat(),
        "intake_date_zh": date_zh(case.intake_date),
        "due_date": case.due_date.isoformat(),
        "due_date_zh": date_zh(case.due_date),
        "due_estimated": timing.estimated,
        "clock": timing.clock.value,
        "closed_date": case.closed_date.isoformat() if case.closed_date else None,
        "closed_date_zh": date_zh(case.closed_date) if case.closed_date else None,
        "state": state.value,
        "state_label": lifecycle.STATE_LABELS_ZH[state],
        "state_label_en": lifecycle.STATE_LABELS_EN[state],
        "clerk": first.actor_name if first else "",
        "public_url": public_url,
        "hotline": HOTLINE,
        "printed_on": today.isoformat(),
        "printed_on_zh": date_zh(today),
    }


def receipt_data(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
    next_visit: Mapping[str, Any] | None = None,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """Everything the intake receipt shows, with the applicant's name and ID masked.

    A completed case (on the spot, or later) shows when and by whom instead of a promised
    date; ``tz`` is the agency's time zone for that moment (UTC when not given).

    ``next_visit``: for a case waiting for materials at a mobile station, the station's next
    visit to the person's village (the next chance to hand them in). When not given and the
    case is still attached to its session, it is looked up there.
    """
    data = _common(
        case,
        ref,
        today,
        events=events,
        agency_name=agency_name,
        addresses=addresses,
        public_url=public_url,
    )
    state = State(case.state)
    data.update(
        kind="receipt",
        materials_received=_materials(case.materials_received or [], ref),
        materials_missing=_materials(case.materials_missing or [], ref),
        next_step=RECEIPT_NEXT_STEP_ZH.get(state, NEXT_STEP_ZH[state]),
        next_step_en=NEXT_STEP_EN[state],
        next_visit=dict(next_visit) if next_visit else _next_visit(case, state, ref, today),
        **_completion(events, state, tz),
    )
    return data


def _completion(events: Sequence[CaseEvent], state: State, tz: tzinfo | None) -> dict[str, Any]:
    """When and by whom a completed case was completed, from its ``complete`` event."""
    done = None
    if state == State.COMPLETED:
        for event in events:
            if event.action == Action.COMPLETE.value:
                done = event
    if done is None:
        return {
            "completed_at": None,
            "completed_at_zh": None,
            "completed_by": None,
            "completed_on_the_spot": False,
        }
    at = done.at.astimezone(tz) if tz is not None else done.at
    return {
        "completed_at": at.strftime("%Y-%m-%d %H:%M"),
        "completed_at_zh": f"{date_zh(at.date())} {at:%H:%M}",
        "completed_by": done.actor_name,
        "completed_on_the_spot": bool((done.detail or {}).get("at_intake")),
    }


def _next_visit(case: Case, state: State, ref: Reference, today: date) -> dict[str, Any] | None:
    """The mobile station's next visit to the village, for a case waiting for materials."""
    if state != State.MATERIALS_PENDING or not case.materials_missing:
        return None
    session = object_session(case)
    if session is None:
        return None
    from yibao.visits.citizens import next_visit_for_case

    return next_visit_for_case(session, ref=ref, today=today, case=case)


def next_visit_text_zh(visit: Mapping[str, Any]) -> str:
    """The receipt's line on the next chance to hand in materials, in Chinese."""
    where = str(visit["village"])
    if not visit.get("same_village"):
        where += f"（{visit['town_name']}）"
    return (
        f"{visit['station_name']}将于{date_zh(date.fromisoformat(str(visit['date'])))}"
        f"（{visit['weekday']}）{visit['start']}–{visit['end']}到{where}，可届时当面补交材料"
    )


def notice_request(events: Sequence[CaseEvent]) -> CaseEvent | None:
    """The latest ``request_materials`` event of a timeline (ordered by seq), if any."""
    found = None
    for event in events:
        if event.action == Action.REQUEST_MATERIALS.value:
            found = event
    return found


def notice_data(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
    tz: tzinfo,
) -> dict[str, Any] | None:
    """Everything the one-time notice shows; ``None`` when materials were never requested."""
    request = notice_request(events)
    if request is None:
        return None
    detail = request.detail or {}
    if case.state == State.MATERIALS_PENDING and case.materials_missing:
        missing = list(case.materials_missing)
    else:
        # Supplemented (or closed) since: reprint the list the person was given then.
        missing = [str(m) for m in detail.get("missing_materials") or []]
    if not missing:
        return None
    data = _common(
        case,
        ref,
        today,
        events=events,
        agency_name=agency_name,
        addresses=addresses,
        public_url=public_url,
    )
    unit = _unit_at(case, events, request.seq)
    issued = request.at.astimezone(tz).date()
    supplemented = next(
        (
            e.at.astimezone(tz).date()
            for e in events
            if e.seq > request.seq and e.action == Action.SUPPLEMENT.value
        ),
        None,
    )
    remaining = detail.get("remaining_days")
    data.update(
        kind="notice",
        missing=_materials(missing, ref),
        reason=request.reason or "",
        issuer=request.actor_name,
        issued_on=issued.isoformat(),
        issued_on_zh=date_zh(issued),
        handling_unit=unit,
        handling_name=ref.unit_names.get(unit, unit),
        handling_address=addresses.get(unit) or "",
        remaining_days=int(remaining) if isinstance(remaining, int) else None,
        supplemented_on=supplemented.isoformat() if supplemented else None,
        supplemented_on_zh=date_zh(supplemented) if supplemented else None,
    )
    return data


def notice_time_text_zh(data: Mapping[str, Any]) -> str:
    """The paragraph on time limits of a notice, in Chinese (补正期间不计时)."""
    limit = data.get("time_limit_days")
    remaining = data.get("remaining_days")
    head = (
        "本事项为即时办结事项。"
        if limit == 0
        else f"本事项承诺办理时限为{limit}个工作日。"
        if limit
        else ""
    )
    pause = "补正期间不计时：自本告知书送达之日起至材料补齐之日止的时间，不计入办理时限；"
    if remaining is not None and remaining > 0:
        tail = f"材料补齐后，剩余的{remaining}个工作日自补齐之日起重新计算。"
    elif remaining == 0:
        tail = "材料补齐后，当日办结。"
    else:
        tail = "材料补齐后，我们将尽快办结。"
    return head + pause + tail


# ---------------------------------------------------------------- QR code

_SVG_SIZE = re.compile(r'^<svg width="[^"]*" height="[^"]*"')


def qr_svg(url: str, *, size_mm: int = 30) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (no raster image library needed)."""
    image = qrcode.make(
        url,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    text = image.to_string(encoding="unicode")
    # A fixed element id would clash with a second code on the same page.
    text = text[text.index("<svg") :].replace(' id="qr-path"', "")
    label = escape(url, {'"': "&quot;"})
    head = (
        f'<svg class="qr" width="{size_mm}mm" height="{size_mm}mm" role="img" aria-label="{label}"'
    )
    # A function, not a template: a backslash in the URL must not be read as a group reference.
    text = _SVG_SIZE.sub(lambda _m: head, text, count=1)
    # A title makes the target readable (and testable) without decoding the picture.
    close = text.index(">") + 1
    return text[:close] + f"<title>{escape(url)}</title>" + text[close:]
