"""Checkpoints go to partners for countersigning; verify checks what comes back (both backends)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select, update

from tests.audit.helpers import write
from tests.conftest import Node
from yibao.audit.checkpoints import NodeKey, at_text, countersign_text, make_checkpoint
from yibao.audit.models import AuditCheckpoint
from yibao.audit.verify import VerifyReport, verify_chain
from yibao.transfers.models import OutboxMessage
from yibao.transfers.peers import Federation, Peer

PARTNER = "510500"
PARTNER_KEY = ed25519.Ed25519PrivateKey.generate()
OWN_KEY = ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def fed(clean: Node) -> Federation:
    peer = Peer(PARTNER, "http://127.0.0.1:9", PARTNER, PARTNER_KEY.public_key())
    return Federation(clean.settings.agency, clean.settings.agency, OWN_KEY, {PARTNER: peer})


def _verify(node: Node, fed: Federation, *, later: timedelta = timedelta()) -> VerifyReport:
    return verify_chain(
        node.runtime.db,
        node.settings.agency,
        keys={fed.key_id: OWN_KEY.public_key()},
        partners={PARTNER: PARTNER_KEY.public_key()},
        now=datetime.now(UTC) + later,
    )


def _countersign(node: Node, cp: AuditCheckpoint, head_hash: str) -> None:
    text = countersign_text(PARTNER, cp.agency, cp.seq, head_hash, at_text(cp.at))
    with node.runtime.db.uow() as uow:
        uow.session.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == cp.id)
            .values(partner_signature=base64.b64encode(PARTNER_KEY.sign(text)).decode())
        )
        uow.commit()


def test_a_checkpoint_is_queued_to_partners_in_its_transaction(
    clean: Node, fed: Federation
) -> None:
    write(clean, 3)
    cp = make_checkpoint(
        clean.runtime.db, clean.settings.agency, NodeKey(fed.key_id, OWN_KEY), federation=fed
    )
    assert cp.partner == PARTNER and cp.partner_signature is None
    with clean.runtime.db.session() as s:
        (msg,) = s.scalars(select(OutboxMessage).where(OutboxMessage.to_agency == PARTNER))
    assert msg.payload["kind"] == "audit.checkpoint" and msg.delivered_at is None
    assert msg.payload["checkpoint"] == {
        "agency": clean.settings.agency,
        "seq": cp.seq,
        "head_hash": cp.head_hash,
        "at": at_text(cp.at),
        "key_id": fed.key_id,
        "signature": cp.signature,
    }


def test_verify_checks_the_countersignature(clean: Node, fed: Federation) -> None:
    write(clean, 3)
    key = NodeKey(fed.key_id, OWN_KEY)
    cp = make_checkpoint(clean.runtime.db, clean.settings.agency, key, federation=fed)
    report = _verify(clean, fed)
    assert report.ok and report.countersign_pending == [cp.seq] and report.countersigned == 0
    # Nothing back a day later: the partner never saw it (or it was taken off the node).
    report = _verify(clean, fed, later=timedelta(hours=25))
    assert (report.problem, report.first_bad_seq) == ("countersignature_missing", cp.seq)
    assert f"sent to partner {PARTNER} for countersigning" in report.message

    _countersign(clean, cp, cp.head_hash)
    report = _verify(clean, fed, later=timedelta(hours=25))
    assert report.ok and report.countersigned == 1 and report.countersign_pending == []

    # A countersignature over another head (the checkpoint was changed after the partner saw it).
    _countersign(clean, cp, "f" * 64)
    report = _verify(clean, fed)
    assert (report.problem, report.first_bad_seq) == ("countersignature_invalid", cp.seq)
    assert report.details["partner"] == PARTNER and "审计检查点与伙伴机构510500的会签不符" in (
        report.message_zh
    )
    # Nor does one that verifies with no partner key we know.
    _countersign(clean, cp, cp.head_hash)
    report = verify_chain(
        clean.runtime.db,
        clean.settings.agency,
        keys={fed.key_id: OWN_KEY.public_key()},
        partners={},
    )
    assert report.problem == "countersignature_invalid"


def test_without_partners_nothing_is_queued(clean: Node) -> None:
    write(clean, 2)
    cp = make_checkpoint(clean.runtime.db, clean.settings.agency, NodeKey("k", OWN_KEY))
    assert cp.partner is None
    report = verify_chain(clean.runtime.db, clean.settings.agency, keys={"k": OWN_KEY.public_key()})
    assert report.ok and report.countersigned == 0 and report.countersign_pending == []
