"""ID and phone numbers are ciphertext in the database; the API still masks and reveals them."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from tests.web.conftest import sign_in
from yibao.sealing import blind

DIGIT_RUN = re.compile(r"[0-9]{11,}")


def _raw(node: Node, sql: str, **params: object) -> list[tuple[object, ...]]:
    with node.runtime.db.session() as s:
        return [tuple(r) for r in s.execute(text(sql), params)]


def test_intake_stores_ciphertext_and_api_masks_and_reveals(
    client: TestClient, clean: Node, login
) -> None:  # type: ignore[no-untyped-def]
    id_number = make_id()
    body = intake_body(applicant={"id_number": id_number, "name": "张三", "phone": "13800138000"})
    r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]

    rows = _raw(
        clean,
        "SELECT applicant_id_number, applicant_phone, applicant_id_key FROM cases "
        "WHERE case_no = :no",
        no=case_no,
    )
    assert len(rows) == 1
    stored_id, stored_phone, id_key = rows[0]
    for value in (stored_id, stored_phone):
        assert isinstance(value, str) and value.startswith(f"enc2:{clean.runtime.keyring.current}:")
        assert not DIGIT_RUN.search(value)
        assert id_number not in value and "13800138000" not in value
    # The blind index is the keyed HMAC, not a digest anyone can recompute.
    assert id_key == blind.index(clean.runtime.keyring.index_key, id_number)
    assert id_key != hashlib.sha256(id_number.encode()).hexdigest()

    shown = client.get(f"/api/v1/cases/{case_no}", headers=login("clerk_f01")).json()
    assert shown["applicant"]["id_number"] == id_number[:6] + "********" + id_number[-4:]
    full = client.post(
        f"/api/v1/cases/{case_no}/applicant/id-number", headers=login("master_f01")
    )
    assert full.status_code == 200, full.text
    assert full.json() == {"id_number": id_number}

    # The citizen's lookup by case number and tail opens the sealed number.
    public = client.get(
        f"/public/cases/{case_no}?id_tail={id_number[-4:]}", headers={"Accept": "application/json"}
    )
    assert public.status_code == 200, public.text


def test_case_search_by_full_id_number_uses_the_blind_index(
    client: TestClient, clean: Node, login
) -> None:  # type: ignore[no-untyped-def]
    wanted, other = make_id(birth="19610203"), make_id(birth="19610203")
    made: list[tuple[str, str]] = []
    for number in (wanted, other, wanted):
        body = intake_body(applicant={"id_number": number, "name": "李四", "phone": "13900139000"})
        r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
        assert r.status_code == 201, r.text
        made.append((number, r.json()["case_no"]))
    b = sign_in(TestClient(client.app), "clerk_f01")
    for typed in (wanted, wanted.lower()):
        page = b.htmx("GET", f"/queue/rows?q={typed}")
        assert page.status_code == 200, page.text
        for number, case_no in made:
            assert (case_no in page.text) == (number == wanted)


def test_filings_person_key_is_keyed(clean: Node) -> None:
    from yibao.filings.service import person_key

    raw = person_key("500118", make_id())
    digest = blind.index(clean.runtime.keyring.index_key, raw)
    assert blind.is_digest(digest)
    assert not blind.is_digest(raw)  # the column type digests it, with the node's key
