"""The demo's inspections: every inspected station has a history and tasks in every state."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import func, select

from tests.conftest import Node
from yibao.inspections import demo
from yibao.inspections.models import Inspection, InspectionTask


def test_seed_demo_makes_histories_and_tasks_in_every_state(clean: Node, api) -> None:  # type: ignore[no-untyped-def]
    today = clean.runtime.today()
    with clean.runtime.db.uow() as uow:
        made = demo.seed_demo(
            uow.session, agency=clean.settings.agency, today=today, rng=random.Random(7)
        )
        uow.commit()
    with clean.runtime.db.session() as s:
        per_station = Counter(s.scalars(select(Inspection.station_code)))
        states = Counter(s.scalars(select(InspectionTask.state)))
        overdue = s.scalar(
            select(func.count())
            .select_from(InspectionTask)
            .where(InspectionTask.state == "open", InspectionTask.deadline_date < today)
        )
        oldest = s.scalar(select(func.min(Inspection.inspection_date)))
    assert made == sum(per_station.values())
    assert {"F01", "F02", "T01", "V01", "M01"} <= set(per_station)
    assert all(2 <= n <= 3 for n in per_station.values())
    assert set(states) == {"open", "reported", "verified"}
    assert overdue and overdue > 0
    assert oldest is not None and (today - oldest).days <= 366
    # The pages and the API read the demo rows: F01's master has open items.
    r = api("master_f01", "GET", "/api/v1/inspections/tasks?state=unverified")
    assert r.status_code == 200 and r.json()["items"]
    assert all(t["station_code"] == "F01" for t in r.json()["items"])
