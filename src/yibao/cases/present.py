"""How a case is shown: the JSON shape shared by the API and the pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.accounts.rules import Actor
from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import ActorRef, State
from yibao.cases.models import Case, CaseEvent
from yibao.people.rules import mask_id, mask_phone
from yibao.runtime import Reference


def case_timing(case: Case, ref: Reference, today: date) -> rules.Timing:
    """The traffic light of a case today."""
    return rules.timing(
        ref.calendar,
        today=today,
        due_date=case.due_date,
        paused_remaining=case.remaining_days if case.state == State.MATERIALS_PENDING else None,
        closed_date=case.closed_date,
        due_estimated=case.due_estimated,
    )


def case_dict(
    case: Case, ref: Reference, today: date, actor: Actor | None = None
) -> dict[str, Any]:
    """A case as the API returns it; the ID number is always masked here."""
    from yibao.cases.service import snapshot

    service = ref.services.get(case.service_code)
    t = case_timing(case, ref, today)
    state = State(case.state)
    out: dict[str, Any] = {
        "case_no": case.case_no,
        "state": state.value,
        "state_label": lifecycle.STATE_LABELS_ZH[state],
        "service_code": case.service_code,
        "service_name": service.name_zh if service else case.service_code,
        "service_name_en": service.name_en if service else case.service_code,
        "state_label_en": lifecycle.STATE_LABELS_EN[state],
        "station_code": case.intake_station,
        "station_name": ref.unit_names.get(case.intake_station, case.intake_station),
        "unit": case.unit,
        "unit_name": ref.unit_names.get(case.unit, case.unit),
        "channel": case.channel,
        "visit_id": str(case.visit_id) if case.visit_id else None,
        "applicant": {
            "id_number": mask_id(case.applicant_id_number),
            "name": case.applicant_name,
            # Masked like the ID number; the full number through the audited reveal.
            "phone": mask_phone(case.applicant_phone),
        },
        "materials_received": list(case.materials_received or []),
        "materials_missing": list(case.materials_missing or []),
        "note": case.note,
        "received_at": case.received_at.isoformat(),
        "intake_date": case.intake_date.isoformat(),
        "due_date": case.due_date.isoformat(),
        "due_estimated": t.estimated,
        "remaining_working_days": t.remaining_days,
        "light": t.light.value,
        "clock": t.clock.value,
        "overdue": t.light is rules.Light.RED and t.clock is not rules.Clock.STOPPED,
        "closed_date": case.closed_date.isoformat() if case.closed_date else None,
        "version": case.version,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
    }
    if actor is not None:
        out["allowed_actions"] = [
            a.value
            for a in lifecycle.actions_for(
                ActorRef(role=actor.role.value, unit=actor.unit),
                snapshot(case, ref),
                ref.units.get(case.unit),
            )
        ]
    return out


def event_dict(event: CaseEvent) -> dict[str, Any]:
    """One timeline entry."""
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": {"name": event.actor_name, "role": event.actor_role},
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "reason": event.reason,
        "detail": event.detail or {},
    }
