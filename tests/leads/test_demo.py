"""The demo's leads and disputes: every state, amounts recovered, sessions — quickly."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import date

from sqlalchemy import func, select

from tests.conftest import Node
from yibao.disputes import demo as dispute_demo
from yibao.disputes.models import Dispute, MediationSession, PartyStatement
from yibao.leads import demo as lead_demo
from yibao.leads.models import Lead


def test_demo_leads_and_disputes(clean: Node) -> None:
    started = time.monotonic()
    with clean.runtime.db.uow() as uow:
        leads = lead_demo.seed_demo(
            uow.session, agency="500118", today=date(2026, 9, 29), rng=random.Random(1)
        )
        disputes = dispute_demo.seed_demo(
            uow.session, agency="500118", today=date(2026, 9, 29), rng=random.Random(2)
        )
        uow.commit()
    assert time.monotonic() - started < 3
    assert leads == 25 and disputes == 30
    with clean.runtime.db.session() as s:
        states = Counter(s.scalars(select(Lead.state)))
        assert set(states) == {"raised", "verifying", "intervening", "confirmed", "unfounded"}
        amounts = list(
            s.scalars(select(Lead.amount_recovered_fen).where(Lead.state == "confirmed"))
        )
        assert all(a and a > 0 for a in amounts)
        assert set(s.scalars(select(Lead.station_code))) == {"F01", "F02"}
        assert set(s.scalars(select(Dispute.state))) == {
            "open",
            "mediating",
            "agreed",
            "escalated",
            "withdrawn",
        }
        assert s.scalar(select(func.count()).select_from(MediationSession)) > 20
        assert s.scalar(select(func.count()).select_from(PartyStatement)) > 40
        for d in s.scalars(select(Dispute).where(Dispute.state == "agreed")):
            assert d.terms and d.closed_date


def test_demo_pages_render(clean: Node, browser) -> None:  # type: ignore[no-untyped-def]
    with clean.runtime.db.uow() as uow:
        lead_demo.seed_demo(
            uow.session, agency="500118", today=date(2026, 9, 29), rng=random.Random(3)
        )
        dispute_demo.seed_demo(
            uow.session, agency="500118", today=date(2026, 9, 29), rng=random.Random(4)
        )
        uow.commit()
    with clean.runtime.db.session() as s:
        lead_ids = [str(i) for i in s.scalars(select(Lead.id))]
        dispute_ids = [str(i) for i in s.scalars(select(Dispute.id))]
    sup = browser("supervisor")
    assert sup.get("/leads").status_code == 200
    for lid in lead_ids:
        assert sup.get(f"/leads/{lid}").status_code == 200
    officer = browser("officer")
    assert officer.get("/disputes").status_code == 200
    for did in dispute_ids:
        page = officer.get(f"/disputes/{did}")
        assert page.status_code == 200 and "调解" in page.text
