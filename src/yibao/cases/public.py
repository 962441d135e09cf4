"""The citizen's view of one case: by case number and the last four characters of the ID."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.cases import lifecycle
from yibao.cases.lifecycle import State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.present import case_timing
from yibao.errors import NotFound
from yibao.people.rules import mask_name
from yibao.runtime import Runtime

NEXT_STEP_ZH: dict[State, str] = {
    State.RECEIVED: "您的申请已受理，请等待办理，无需再跑。",
    State.IN_PROGRESS: "正在办理中，请在承诺日期前留意结果，无需再跑。",
    State.MATERIALS_PENDING: "请带齐下列材料到受理的服务站补正；补正期间办理时限暂停计算。",
    State.FORWARDED: "已转交有权办理的单位，您无需另行前往。",
    State.COMPLETED: "已办结。",
    State.REJECTED: "不予受理，原因见下。如有疑问可到服务站咨询。",
    State.WITHDRAWN: "已撤回。",
}


def citizen_case(session: Session, *, agency: str, case_no: str, id_tail: str) -> Case:
    """The case a citizen names by its number and the last 4 of the ID number.

    The same NotFound for an unknown case, a malformed number and a wrong tail; the tail is
    compared in constant time, with the same work whether or not the case exists.
    """
    not_found = NotFound("no case matches this number and ID tail")
    number = (case_no or "").strip()
    # Digits (or a laptop's L + digits): anything else, a NUL included, names no case.
    if not (1 <= len(number) <= 20 and number.isascii() and number.isalnum()):
        raise not_found
    tail = (id_tail or "").strip().upper()
    case = session.scalar(select(Case).where(Case.agency == agency, Case.case_no == number))
    expected = case.applicant_id_tail if case is not None else "\x00\x00\x00\x00"
    if not hmac.compare_digest(expected.encode(), tail.encode()) or case is None:
        raise not_found
    return case


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
    from yibao.ratings.service import public_rating
    from yibao.visits.citizens import next_visit_for_case

    return {
        "case_no": case.case_no,
        "service_name": service.name_zh if service else case.service_code,
        "applicant_name": mask_name(case.applicant_name),
        "state": state.value,
        "state_label": lifecycle.STATE_LABELS_ZH[state],
        "next_step": NEXT_STEP_ZH[state],
        "station_name": ref.unit_names.get(case.intake_station, case.intake_station),
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
        "next_visit": next_visit_for_case(
            session, ref=ref, today=runtime.today(), case=case, tz=runtime.tz
        ),
        # 好差评: the rating given, or whether the rating form may be offered (a completed case).
        "rating": public_rating(session, runtime=runtime, case=case),
    }
