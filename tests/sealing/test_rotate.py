"""``yibao keys rotate``: re-seals everything under a new key, resumably, batch by batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.helpers import intake_body, make_id
from tests.conftest import Node
from yibao.sealing import keys, rotate


def _stored(node: Node) -> list[str]:
    with node.runtime.db.session() as s:
        rows = s.execute(text("SELECT applicant_id_number, applicant_phone FROM cases")).all()
    return [v for r in rows for v in r]


def _intake(client: TestClient, login, n: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    made = []
    for _ in range(n):
        number = make_id(birth="19720815")
        body = intake_body(applicant={"id_number": number, "name": "王五", "phone": "13700137000"})
        r = client.post("/api/v1/cases", json=body, headers=login("clerk_f01"))
        assert r.status_code == 201, r.text
        made.append((number, r.json()["case_no"]))
    return made


def _rotate_audits(node: Node) -> int:
    with node.runtime.db.session() as s:
        return int(
            s.execute(
                text("SELECT count(*) FROM audit_records WHERE action = 'keys.rotate'")
            ).scalar_one()
        )


def test_rotation_stopped_midway_carries_on_and_leaves_nothing_under_the_old_key(
    client: TestClient, clean: Node, login
) -> None:  # type: ignore[no-untyped-def]
    made = _intake(client, login, 5)
    old = clean.runtime.keyring.current
    assert all(v.startswith(f"enc2:{old}:") for v in _stored(clean))

    ring = rotate.begin_file_rotation(clean.runtime.keyring)
    assert ring.current != old and clean.runtime.keyring.current == ring.current
    # Stopped after two batches of two rows (as a kill between transactions would).
    done, batches = rotate.run(
        clean.runtime.db, ring, agency=clean.settings.agency, batch=2, stop_after=2
    )
    assert (done, batches) == (4, 2)
    with clean.runtime.db.session() as s:
        assert rotate.pending(s, ring.current) == {"cases": 1}
    assert _rotate_audits(clean) == 2

    # Run again: the key file says a rotation is under way, so no third key is made.
    again = rotate.begin_file_rotation(keys.load(clean.settings, fresh=True))
    assert again.current == ring.current
    done, _ = rotate.run(clean.runtime.db, again, agency=clean.settings.agency, batch=2)
    assert done == 1
    stored = _stored(clean)
    assert all(v.startswith(f"enc2:{ring.current}:") for v in stored)
    assert not any(v.startswith(f"enc2:{old}:") for v in stored)
    with clean.runtime.db.session() as s:
        assert rotate.under(s, old) == 0

    final, retired = rotate.finish_file_rotation(again, retire=True)
    assert retired == (old,)
    assert assert_file_keys(final) == [ring.current]
    # Every value still reads: the masked number, and the audited full one.
    for number, case_no in made:
        r = client.post(
            f"/api/v1/cases/{case_no}/applicant/id-number", headers=login("master_f01")
        )
        assert r.json() == {"id_number": number}
    # New intakes are sealed under the new key.
    _intake(client, login, 1)
    assert all(v.startswith(f"enc2:{ring.current}:") for v in _stored(clean))


def assert_file_keys(ring: keys.Keyring) -> list[str]:
    assert ring.file is not None
    data = json.loads(ring.file.read_text())
    assert "rotation" not in data
    return sorted(data["keys"])


def test_the_cli_reports_progress_stops_and_resumes(
    client: TestClient, clean: Node, login
) -> None:  # type: ignore[no-untyped-def]
    _intake(client, login, 3)
    env = {
        **os.environ,
        "YIBAO_DATABASE_URL": clean.url,
        "YIBAO_DATA_DIR": str(clean.settings.data_dir),
        "YIBAO_AGENCY": clean.settings.agency,
    }
    cmd = [sys.executable, "-m", "yibao.cli", "keys", "rotate", "--batch-size", "1"]
    first = subprocess.run(
        [*cmd, "--stop-after", "2"], env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 3, first.stdout + first.stderr
    assert "Run `yibao keys rotate` again" in first.stdout
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "may now be retired" in second.stdout
    current = keys.load(clean.settings, fresh=True).current
    assert all(v.startswith(f"enc2:{current}:") for v in _stored(clean))
    assert _rotate_audits(clean) == 3
