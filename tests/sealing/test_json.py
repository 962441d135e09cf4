"""The person inside transfer messages and the outbox is sealed at rest too, and rotates."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from tests.api.helpers import make_id
from tests.conftest import Node
from yibao.audit import guard
from yibao.audit import service as audit
from yibao.sealing import keys, rotate
from yibao.transfers.models import OutboxMessage, TransferMessage


def _raw(node: Node, table: str, column: str, pk: int) -> str:
    with node.runtime.db.session() as s:
        value = s.execute(text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": pk})
        return str(value.scalar_one())


def test_person_in_messages_is_sealed_read_back_and_re_sealed_by_rotation(clean: Node) -> None:
    number = make_id(birth="19661203")
    person = {"id_number": number, "name": "王五", "phone": "13700137000"}
    body = {"person": person, "case_no": "2026120812345678", "applied_date": "2026-12-08"}
    with clean.runtime.db.uow() as uow:
        msg = TransferMessage(
            agency=clean.settings.agency,
            message_id=uuid.uuid4(),
            transfer_id=uuid.uuid4(),
            direction="sent",
            peer="510500",
            seq=1,
            type="contact_letter",
            body=body,
            actor_name="test",
        )
        out = OutboxMessage(
            agency=clean.settings.agency,
            message_id=msg.message_id,
            to_agency="510500",
            payload={"type": "contact_letter", "body": body, "seq": 1},
        )
        uow.session.add_all([msg, out])
        audit.record(
            uow.session,
            agency=clean.settings.agency,
            actor_id=None,
            actor_name="test",
            action="transfer.letter",
            object_type="transfer",
            object_id=str(msg.transfer_id),
        )
        uow.commit()
        ids = (msg.id, out.id)
    old = clean.runtime.keyring.current
    for table, column, pk in (("transfer_messages", "body", ids[0]), ("outbox", "payload", ids[1])):
        raw = _raw(clean, table, column, pk)
        assert number not in raw and "13700137000" not in raw
        assert f"enc2:{old}:" in raw and "case_no" in raw  # only the numbers are sealed
    with clean.runtime.db.session() as s:
        assert s.get(TransferMessage, ids[0]).body == body  # type: ignore[union-attr]
        assert s.get(OutboxMessage, ids[1]).payload["body"] == body  # type: ignore[union-attr]

    ring = rotate.begin_file_rotation(clean.runtime.keyring)
    rotate.run(clean.runtime.db, ring, agency=clean.settings.agency, batch=50)
    with clean.runtime.db.session() as s:
        assert rotate.pending(s, ring.current) == {}
        assert rotate.under(s, old) == 0
    rotate.finish_file_rotation(keys.load(clean.settings, fresh=True), retire=True)
    assert f"enc2:{ring.current}:" in _raw(clean, "transfer_messages", "body", ids[0])
    with clean.runtime.db.session() as s:
        got = s.scalar(select(TransferMessage).where(TransferMessage.id == ids[0]))
        assert got is not None and got.body["person"]["id_number"] == number
    with clean.runtime.db.uow() as uow:  # leave the tables as other tests expect them
        guard.bulk(uow.session, "test clean-up")
        uow.session.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": ids[1]})
        uow.session.execute(text("DELETE FROM transfer_messages WHERE id = :id"), {"id": ids[0]})
        uow.commit()
