"""Attached files: what is accepted, what is refused, and that a file stays with its record."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import Node
from yibao.accounts.rules import Actor, Role
from yibao.attachments import rules, service
from yibao.errors import NotFound, ValidationFailed

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64


def _actor() -> Actor:
    return Actor(1, "clerk_f01", "李婷", Role.CLERK, "F01", "500118", "127.0.0.1")


def test_types_are_judged_by_their_bytes_not_their_names() -> None:
    assert rules.sniff(PNG) == "image/png"
    assert rules.sniff(JPEG) == "image/jpeg"
    assert rules.sniff(PDF) == "application/pdf"
    assert rules.sniff(b"MZ\x90\x00 an exe") is None
    assert rules.sniff(b"RIFF\x00\x00\x00\x00WAVE") is None  # RIFF but not WebP
    _, errors = rules.check(b"<script>alert(1)</script>", "image/png")
    assert [e.field for e in errors] == ["file"]
    assert "PDF" in errors[0].message_zh


def test_a_file_that_lies_about_its_type_is_refused() -> None:
    _, errors = rules.check(PDF, "image/png")
    assert errors and errors[0].message_zh == "文件类型与内容不符"
    assert rules.check(JPEG, "image/jpg")[1] == []
    assert rules.check(JPEG, "application/octet-stream")[1] == []


def test_empty_and_oversized_files_are_refused() -> None:
    assert rules.check(b"", "image/png")[1][0].message_zh == "文件为空"
    big = PNG + b"\x00" * rules.MAX_BYTES
    assert any("5 MB" in e.message_zh for e in rules.check(big, "image/png")[1])


@given(st.text(max_size=300))
def test_any_file_name_becomes_a_safe_one(name: str) -> None:
    cleaned = rules.clean_filename(name, "image/png")
    assert cleaned.endswith(".png")
    assert 4 <= len(cleaned) <= 104
    assert not any(c in cleaned for c in '/\\\x00\r\n"')


def test_chinese_file_names_are_kept() -> None:
    assert rules.clean_filename("../../现场照片.JPEG", "image/jpeg") == "现场照片.JPEG"
    assert rules.clean_filename("收费清单", "application/pdf") == "收费清单.pdf"


def test_a_file_belongs_to_its_record_only(clean: Node) -> None:
    db = clean.runtime.db
    with db.uow() as uow:
        att = service.store(
            uow.session,
            agency="500118",
            owner_type="lead",
            owner_id="a",
            filename="证据.png",
            content_type="image/png",
            data=PNG,
            actor=_actor(),
        )
        uow.commit()
        att_id = att.id
    with db.session() as session:
        infos = service.list_for(session, agency="500118", owner_type="lead", owner_id="a")
        assert [(i.filename, i.size, i.is_image) for i in infos] == [("证据.png", len(PNG), True)]
        got = service.load(
            session, agency="500118", attachment_id=att_id, owner_type="lead", owner_id="a"
        )
        assert got.data == PNG
        for owner_type, owner_id, agency in (
            ("lead", "b", "500118"),
            ("dispute", "a", "500118"),
            ("lead", "a", "500116"),
        ):
            with pytest.raises(NotFound):
                service.load(
                    session,
                    agency=agency,
                    attachment_id=att_id,
                    owner_type=owner_type,
                    owner_id=owner_id,
                )
        with pytest.raises(NotFound):
            service.load(
                session,
                agency="500118",
                attachment_id="not-a-uuid",
                owner_type="lead",
                owner_id="a",
            )
        with pytest.raises(NotFound):
            service.load(
                session,
                agency="500118",
                attachment_id=uuid.uuid4(),
                owner_type="lead",
                owner_id="a",
            )
        audit = session.execute(
            text("SELECT action, object_id FROM audit_records WHERE action = 'attachment.add'")
        ).all()
        assert [tuple(r) for r in audit] == [("attachment.add", "a")]


def test_a_refused_file_leaves_nothing_behind(clean: Node) -> None:
    db = clean.runtime.db
    with db.uow() as uow, pytest.raises(ValidationFailed) as err:
        service.store(
            uow.session,
            agency="500118",
            owner_type="lead",
            owner_id="x",
            filename="a.exe",
            content_type="application/x-msdownload",
            data=b"MZ\x90\x00",
            actor=_actor(),
        )
    assert err.value.errors[0].field == "file"
    with db.session() as session:
        assert service.list_for(session, agency="500118", owner_type="lead", owner_id="x") == []


def test_uploads_may_be_larger_than_other_bodies(client: TestClient) -> None:
    body = b"x" * (1024 * 1024)
    headers = {"content-type": "application/octet-stream"}
    assert client.post("/api/v1/cases", content=body, headers=headers).status_code == 413
    r = client.post("/api/v1/leads/1/attachments", content=body, headers=headers)
    assert r.status_code != 413
    huge = b"x" * (9 * 1024 * 1024)
    r = client.post("/api/v1/leads/1/attachments", content=huge, headers=headers)
    assert r.status_code == 413
    assert r.json()["errors"][0]["field"] == "body"
