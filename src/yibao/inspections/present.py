"""Inspections, results and tasks as the API and the pages show them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from yibao.accounts.rules import Actor
from yibao.attachments.service import AttachmentInfo
from yibao.calendar.rules import WorkCalendar
from yibao.inspections import rules
from yibao.inspections.models import (
    Inspection,
    InspectionResult,
    InspectionTask,
    InspectionTaskEvent,
)
from yibao.inspections.rules import Checklist, TaskState
from yibao.runtime import Reference


def checklist_dict(cl: Checklist) -> dict[str, Any]:
    """The checklist: areas with their items and weights."""
    return {
        "version": cl.version,
        "deadline_days": cl.deadline_days,
        "areas": [
            {
                "code": a.code.value,
                "name_zh": a.name_zh,
                "name_en": a.name_en,
                "items": [
                    {
                        "code": i.code,
                        "name_zh": i.name_zh,
                        "name_en": i.name_en,
                        "weight": i.weight,
                    }
                    for i in a.items
                ],
            }
            for a in cl.areas
        ],
    }


def photo_dict(info: AttachmentInfo, url: str) -> dict[str, Any]:
    """A photo without its bytes, with the URL that serves it."""
    return {
        "id": str(info.id),
        "filename": info.filename,
        "content_type": info.content_type,
        "size": info.size,
        "url": url,
    }


def result_dict(r: InspectionResult, photos: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One checked item."""
    return {
        "item": r.item_code,
        "area": r.area,
        "name_zh": r.item_name_zh,
        "name_en": r.item_name_en,
        "weight": r.weight,
        "passed": r.passed,
        "note": r.note,
        "photos": list(photos),
    }


def inspection_dict(i: Inspection, ref: Reference) -> dict[str, Any]:
    """An inspection's head: where, when, who, the score."""
    return {
        "id": str(i.id),
        "station_code": i.station_code,
        "station_name": ref.unit_names.get(i.station_code, i.station_code),
        "date": i.inspection_date.isoformat(),
        "inspectors": list(i.inspectors or []),
        "checklist_version": i.checklist_version,
        "score": i.score,
        "score_light": rules.score_light(i.score),
        "area_scores": {a.value: (i.area_scores or {}).get(a.value) for a in rules.Area},
        "passed": i.passed,
        "failed": i.failed,
        "deadline_days": i.deadline_days,
        "note": i.note,
        "created_by": i.created_by_name,
        "created_at": i.created_at.isoformat(),
    }


def event_dict(e: InspectionTaskEvent) -> dict[str, Any]:
    """One step of a task."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor_name,
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
    }


def task_dict(
    t: InspectionTask,
    ref: Reference,
    *,
    calendar: WorkCalendar,
    today: dt.date,
    actor: Actor,
    events: Sequence[InspectionTaskEvent] | None = None,
    photos: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A rectification task with its traffic light and the actions this actor may take."""
    state = TaskState(t.state)
    timing = rules.task_light(
        calendar,
        today=today,
        deadline_date=t.deadline_date,
        state=state,
        reported_date=t.reported_date,
    )
    out: dict[str, Any] = {
        "id": str(t.id),
        "inspection_id": str(t.inspection_id),
        "station_code": t.station_code,
        "station_name": ref.unit_names.get(t.station_code, t.station_code),
        "owner": t.owner_name,
        "item": t.item_code,
        "area": t.area,
        "name_zh": t.item_name_zh,
        "name_en": t.item_name_en,
        "problem": t.problem,
        "state": state.value,
        "state_label": rules.TASK_STATE_ZH[state],
        "deadline": t.deadline_date.isoformat(),
        "deadline_estimated": t.deadline_estimated or timing.estimated,
        "light": timing.light.value,
        "remaining_days": timing.remaining_days,
        "overdue": state is TaskState.OPEN and timing.light.value == "red",
        "reported_date": t.reported_date.isoformat() if t.reported_date else None,
        "closed_date": t.closed_date.isoformat() if t.closed_date else None,
        "last_note": t.last_note,
        "version": t.version,
        "allowed_actions": [
            a.value
            for a in rules.actions_for(
                state, role=actor.role.value, unit=actor.unit, station=t.station_code
            )
        ],
    }
    if events is not None:
        out["events"] = [event_dict(e) for e in events]
    if photos is not None:
        out["photos"] = list(photos)
    return out


def area_rows(
    cl: Checklist, results: Sequence[InspectionResult], scores: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Results grouped by area, in checklist order, each area with its score."""
    out: list[dict[str, Any]] = []
    for area in rules.Area:
        info = cl.area(area.value)
        out.append(
            {
                "code": area.value,
                "name_zh": info.name_zh if info else area.value,
                "name_en": info.name_en if info else area.value,
                "score": scores.get(area.value),
                "results": [r for r in results if r.area == area.value],
            }
        )
    return out
