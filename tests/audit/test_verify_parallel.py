"""A long chain is walked in stretches by worker processes; what they find is what one walk finds."""

from __future__ import annotations

import pytest

from tests.audit.helpers import cli, write
from tests.audit.test_verify import CASES
from tests.conftest import Node
from yibao.audit import verify
from yibao.audit.checkpoints import verification_keys
from yibao.audit.verify import verify_chain


@pytest.fixture
def long_chain(clean: Node, monkeypatch: pytest.MonkeyPatch) -> Node:
    """As ``test_verify.chained`` (the checkpoint at seq 31), for stretches of 12 records."""
    write(clean, 30)
    code, out = cli(clean, monkeypatch, "audit", "checkpoint")
    assert code == 0, out
    write(clean, 5)
    return clean


def test_stretches_join_into_the_whole_chain(
    long_chain: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[int] = []
    real = verify.in_stretches

    def counting(*args: object, **kwargs: object) -> object:
        joined = real(*args, **kwargs)  # type: ignore[arg-type]
        walked.append(0 if joined is None else joined.checked)
        return joined

    monkeypatch.setattr(verify, "in_stretches", counting)
    keys = verification_keys(long_chain.settings)
    report = verify_chain(long_chain.runtime.db, long_chain.settings.agency, keys=keys, workers=3)
    assert report.ok, report.message
    assert walked == [36]  # the workers' stretches were used, not a walk in one piece
    assert report.checked == 36 and report.checkpoints_checked == 1


@pytest.mark.parametrize(("tamper", "english", "code"), [(c[0], c[1], c[3]) for c in CASES])
def test_tampering_found_by_a_worker_is_named_as_one_walk_names_it(
    long_chain: Node, tamper: object, english: str, code: str
) -> None:
    tamper(long_chain)  # type: ignore[operator]
    db, agency = long_chain.runtime.db, long_chain.settings.agency
    keys = verification_keys(long_chain.settings)
    one = verify_chain(db, agency, keys=keys, workers=1)
    assert one.problem == code
    for workers in (2, 3):
        many = verify_chain(db, agency, keys=keys, workers=workers)
        assert not many.ok and english in many.message
        assert (many.first_bad_seq, many.problem) == (one.first_bad_seq, one.problem)


def test_a_checkpoint_in_a_workers_stretch_is_checked(
    long_chain: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seq 31 lies in the third stretch: its hash comes back from a worker."""
    from tests.audit.test_verify import _rewrite_everything

    _rewrite_everything(long_chain)
    db, agency = long_chain.runtime.db, long_chain.settings.agency
    report = verify_chain(db, agency, keys=verification_keys(long_chain.settings), workers=3)
    assert report.problem == "checkpoint_mismatch" and report.first_bad_seq == 31


def test_values_json_escapes_verify_and_their_unescaped_look_alikes_do_not(clean: Node) -> None:
    """The fast loops put values in unescaped only where escaping changes nothing."""
    from tests.audit.helpers import sql
    from yibao.audit import service as audit

    with clean.runtime.db.uow() as uow:
        rows = (('引号"内', "F01-1"), ("王芳", 'F01-"2"'), ("back\\slash, line\nbreak", "F01-3"))
        for name, object_id in rows:
            audit.record(
                uow.session,
                agency=clean.settings.agency,
                actor_id=1,
                actor_name=name,
                action="case.note",
                object_type="case",
                object_id=object_id,
                detail={"note": 'say "hi"\\n'} if object_id == "F01-3" else {},
                role=None,
                unit=None,
            )
        uow.commit()
    db, agency = clean.runtime.db, clean.settings.agency
    assert verify_chain(db, agency, keys={}).ok
    # 'a"b' is written "a\"b" in the canonical text: so is the raw value a\"b, if put in as is.
    sql(clean, "UPDATE audit_records SET actor_name = :n WHERE seq = 1", n='引号\\"内')
    report = verify_chain(db, agency, keys={})
    assert (report.first_bad_seq, report.problem) == (1, "edited")
    sql(clean, "UPDATE audit_records SET actor_name = :n WHERE seq = 1", n='引号"内')
    assert verify_chain(db, agency, keys={}).ok
    sql(clean, "UPDATE audit_records SET object_id = :n WHERE seq = 2", n='F01-\\"2\\"')
    report = verify_chain(db, agency, keys={})
    assert (report.first_bad_seq, report.problem) == (2, "edited")
