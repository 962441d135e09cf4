"""A change without its audit record cannot commit (issue 13: by construction)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Node
from yibao.audit import guard
from yibao.audit import service as audit
from yibao.stations.models import Station


@pytest.fixture(autouse=True)
def _station_name_restored(clean: Node) -> Iterator[None]:
    """These tests rename F01; other tests expect its real name."""
    before = _name(clean)
    yield
    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test clean-up")
        uow.session.execute(update(Station).where(Station.code == "F01").values(name=before))
        uow.commit()


def _name(node: Node) -> str:
    with node.runtime.db.session() as s:
        return str(s.scalar(select(Station.name).where(Station.code == "F01")))


def test_a_change_without_a_record_is_refused_and_rolled_back(clean: Node) -> None:
    before = _name(clean)
    with clean.runtime.db.uow() as uow:
        row = uow.session.scalar(select(Station).where(Station.code == "F01"))
        assert row is not None
        row.name = "quietly renamed"
        with pytest.raises(guard.MissingAuditRecord, match="stations"):
            uow.commit()
    assert _name(clean) == before


def test_a_core_update_is_seen_too(clean: Node) -> None:
    with clean.runtime.db.uow() as uow:
        uow.session.execute(update(Station).where(Station.code == "F01").values(name="x"))
        with pytest.raises(guard.MissingAuditRecord):
            uow.commit()
    assert _name(clean) != "x"


def test_the_same_change_with_its_record_commits(clean: Node) -> None:
    with clean.runtime.db.uow() as uow:
        uow.session.execute(update(Station).where(Station.code == "F01").values(name="改名"))
        audit.record(
            uow.session,
            agency=clean.settings.agency,
            actor_id=None,
            actor_name="test",
            action="station.update",
            object_type="station",
            object_id="F01",
        )
        uow.commit()
    assert _name(clean) == "改名"
    # The next transaction of the same session starts over: a record is needed again.
    with clean.runtime.db.uow() as uow:
        uow.session.execute(update(Station).where(Station.code == "F01").values(name="y"))
        with pytest.raises(guard.MissingAuditRecord):
            uow.commit()


def test_bookkeeping_and_declared_bulk_loads_pass(clean: Node) -> None:
    from yibao.throttle.models import RateCounter

    with clean.runtime.db.uow() as uow:
        uow.session.add(RateCounter(agency="500118", key="t:1", window_no=1, hits=1))
        uow.commit()  # a limit's counter is not a change anyone makes
    with clean.runtime.db.uow() as uow:
        guard.bulk(uow.session, "test: a loader")
        uow.session.execute(update(Station).where(Station.code == "F01").values(name="z"))
        uow.commit()
    assert _name(clean) == "z"
    with clean.runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RateCounter)) >= 1
