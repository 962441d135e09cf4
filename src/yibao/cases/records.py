"""What every change of a case writes, and the lifecycle's view of a stored case.

Shared by the intake (``cases.intake``) and the actions (``cases.service``), so neither has to
import the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yibao.accounts.rules import Actor
from yibao.cases.lifecycle import CaseSnapshot, State
from yibao.cases.models import Case, CaseEvent
from yibao.runtime import Reference


def new_event(
    case: Case,
    actor: Actor,
    *,
    seq: int,
    at: datetime,
    action: str,
    from_state: str | None,
    to_state: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    """A timeline entry of ``case`` by a person, ready to add to the session."""
    return CaseEvent(
        agency=case.agency,
        case_id=case.id,
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        actor_role=actor.role.value,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        detail=detail or {},
    )


def snapshot(case: Case, ref: Reference) -> CaseSnapshot:
    """The lifecycle's view of a stored case."""
    service = ref.services.get(case.service_code)
    return CaseSnapshot(
        state=State(case.state),
        unit=case.unit,
        intake_station=case.intake_station,
        due_date=case.due_date,
        remaining_days=case.remaining_days,
        materials=service.materials if service else (),
        received=tuple(case.materials_received or ()),
        complete_kinds=service.complete_kinds if service else frozenset(),
    )
