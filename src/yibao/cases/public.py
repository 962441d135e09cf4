"""The citizen's view of one case: by case number and the last four characters of the ID."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.cases import lifecycle
from yibao.cases.lifecycle import State
from yibao.cases.lookup import citizen_case
from yibao.cases.models import Case, CaseEvent
from yibao.cases.present import case_timing
from yibao.people.rules import mask_name
from yibao.runtime import Runtime
from yibao.stations import rules as station_rules
from yibao.stations.models import Station
from yibao.visits.citizens import next_visit_for_case

__all__ = [
    "NEXT_STEP_ZH",
    "PUBLIC_SECTIONS",
    "citizen_case",
    "page_context",
    "public_status",
    "register_page_context",
    "register_section",
]

NEXT_STEP_ZH: dict[State, str] = {
    State.RECEIVED: "您的申请已受理，请等待办理，无需再跑。",
    State.IN_PROGRESS: "正在办理中，请在承诺日期前留意结果，无需再跑。",
    State.MATERIALS_PENDING: "请带齐下列材料到受理的服务站补正；补正期间办理时限暂停计算。",
    State.FORWARDED: "已转交有权办理的单位，您无需另行前往。",
    State.COMPLETED: "已办结。",
    State.REJECTED: "不予受理，原因见下。如有疑问可到服务站咨询。",
    State.WITHDRAWN: "已撤回。",
}


# A section another slice adds to the citizen's view (the rating): (session, runtime, case) →
# a JSON-able value. The case package does not import those slices (ratings builds on cases).
PublicSection = Callable[[Session, Runtime, Case], Any]

PUBLIC_SECTIONS: dict[str, PublicSection] = {}


def register_section(name: str, section: PublicSection) -> None:
    """Add ``name`` to every citizen's view (registering the same name again replaces it)."""
    PUBLIC_SECTIONS[name] = section


# What a slice adds to the phone page's template once the tail matched (the rating form's
# token): (runtime, case number, ID tail) → template variables.
PageContext = Callable[[Runtime, str, str], dict[str, Any]]

PAGE_CONTEXT: list[PageContext] = []


def register_page_context(extra: PageContext) -> None:
    """Add template variables to the citizen's page (registering twice is harmless)."""
    if extra not in PAGE_CONTEXT:
        PAGE_CONTEXT.append(extra)


def page_context(runtime: Runtime, *, case_no: str, id_tail: str) -> dict[str, Any]:
    """The template variables every registered slice adds to a citizen's page."""
    out: dict[str, Any] = {}
    for extra in PAGE_CONTEXT:
        out.update(extra(runtime, case_no, id_tail))
    return out


def station_contact(session: Session, *, agency: str, code: str) -> dict[str, Any] | None:
    """Where a citizen goes and whom they call: a station's address, hours and phone."""
    station = session.scalar(select(Station).where(Station.agency == agency, Station.code == code))
    if station is None:
        return None
    return {
        "code": station.code,
        "name": station.name,
        "kind": station.kind,
        "address": station.address,
        "opening_hours": station.opening_hours,
        "phone": station.phone,
        "tel": station_rules.tel_href(station.phone),
    }


def public_status(
    session: Session, *, runtime: Runtime, case_no: str, id_tail: str
) -> dict[str, Any]:
    """What a citizen may see of a case; the same NotFound for an unknown case and a wrong tail."""
    case = citizen_case(session, agency=runtime.agency, case_no=case_no, id_tail=id_tail)
    ref = runtime.reference()
    state = State(case.state)
    service = ref.services.get(case.service_code)
    t = case_timing(case, ref, runtime.today())
    reason = None
    if state == State.REJECTED:
        reason = session.scalar(
            select(CaseEvent.reason)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )
    today = runtime.today()
    next_visit = next_visit_for_case(session, ref=ref, today=today, case=case, tz=runtime.tz)
    if next_visit is not None:
        # A visit planned in a year without an official schedule may move with its holidays.
        next_visit["estimated"] = not ref.calendar.is_official(
            dt.date.fromisoformat(next_visit["date"]).year
        )
    view: dict[str, Any] = {
        "case_no": case.case_no,
        "service_name": service.name_zh if service else case.service_code,
        "applicant_name": mask_name(case.applicant_name),
        "state": state.value,
        "state_label": lifecycle.STATE_LABELS_ZH[state],
        "next_step": NEXT_STEP_ZH[state],
        "station_name": ref.unit_names.get(case.intake_station, case.intake_station),
        # Where to go: the station that took the case (补正 is brought back there).
        "station": station_contact(session, agency=case.agency, code=case.intake_station),
        "unit_name": ref.unit_names.get(case.unit, case.unit),
        "received_date": case.intake_date.isoformat(),
        "due_date": case.due_date.isoformat(),
        "due_estimated": t.estimated,
        "light": t.light.value,
        "clock": t.clock.value,
        "closed_date": case.closed_date.isoformat() if case.closed_date else None,
        "missing_materials": [
            {"code": m, "name": ref.material_names.get(m, (m, m))[0]}
            for m in (case.materials_missing or [])
        ],
        "reason": reason,
        # Waiting for materials at a mobile station: its next visit to the person's village.
        "next_visit": next_visit,
    }
    # 好差评 and any other slice's part: the rating given, or whether the form may be offered.
    for name, section in PUBLIC_SECTIONS.items():
        view[name] = section(session, runtime, case)
    return view
