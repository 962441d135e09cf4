"""No log line ever holds a full ID number: a realistic session through a real uvicorn server.

Every logger that could see one (ours, uvicorn's error and access logs, SQLAlchemy's engine at
DEBUG) is captured while a clerk signs in, takes a case, searches by the full ID number, sends
a body that fails validation, asks for a case that does not exist by a path holding an ID
number, and hits a test-only route that fails with an ID number in the exception's message.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from stdnum.cn import ric

from tests.api.helpers import intake_body, make_id
from tests.conftest import PASSWORD, Node
from tests.web.conftest import sign_in
from yibao.sealing import logs as sealing_logs
from yibao.web.app import create_app

CANDIDATE = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
LOGGERS = ("", "yibao", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy")


def full_ids(text: str) -> list[str]:
    """Every 18-character ID number anywhere in ``text`` (its check character right).

    Independent of the product's parser: python-stdnum's check digit, and no region table
    (stdnum's lacks Yongchuan's 500118, so its ``validate`` would pass every number here).
    """
    found = []
    for m in CANDIDATE.finditer(text):
        number = m.group(1).upper()
        if ric.calc_check_digit(number) == number[-1]:
            found.append(number)
    return found


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(clean: Node) -> Iterator[str]:
    app = create_app(runtime=clean.runtime)

    @app.get("/test-only/boom/{number}")
    def boom(number: str) -> None:  # the test's own route, never in the product
        raise RuntimeError(f"could not process applicant {number}")

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_a_realistic_session_logs_no_full_id_number(
    server: str, clean: Node, capfd: pytest.CaptureFixture[str]
) -> None:
    capture = Capture()
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(capture)
    number, other = make_id(birth="19800229"), make_id(birth="19771111")
    assert full_ids(number) == [number]
    try:
        with httpx.Client(base_url=server, timeout=30) as http:
            token = http.post(
                "/api/v1/auth/token", json={"username": "clerk_f01", "password": PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            body = intake_body(applicant={"id_number": number, "name": "赵六", "phone": "13600136000"})
            r = http.post("/api/v1/cases", json=body, headers=auth)
            assert r.status_code == 201, r.text
            case_no = r.json()["case_no"]

            browser = sign_in(http, "clerk_f01")  # type: ignore[arg-type]
            found = browser.htmx("GET", f"/queue/rows?q={number}")
            assert found.status_code == 200 and case_no in found.text

            bad = intake_body(applicant={"id_number": other, "name": "赵六", "phone": "12"})
            r = http.post("/api/v1/cases", json=bad, headers=auth)
            assert r.status_code == 422, r.text
            wrong = other[:-1] + ("0" if other[-1] != "0" else "1")
            r = http.post(
                "/api/v1/cases",
                json=intake_body(applicant={"id_number": wrong, "name": "赵六", "phone": "x"}),
                headers=auth,
            )
            assert r.status_code == 422
            assert http.get(f"/api/v1/cases/{other}", headers=auth).status_code == 404
            assert http.get(f"/public/cases/{other}?id_tail={other[-4:]}").status_code == 404
            r = http.get(f"/test-only/boom/{other}")
            assert r.status_code == 500
            assert other not in r.text
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(capture)
            logging.getLogger(name).setLevel(saved[name])
    out, err = capfd.readouterr()
    text = "\n".join(capture.lines)
    # The session really was logged: requests, the failure and its traceback, SQL.
    assert "RuntimeError" in text and "/test-only/boom/" in text
    assert "GET /api/v1/cases/" in text and "SELECT" in text
    leaks = [line for line in (*capture.lines, *out.splitlines(), *err.splitlines()) if full_ids(line)]
    assert leaks == []


def test_redaction_masks_ids_inside_longer_text() -> None:
    number = make_id(birth="19911001")
    assert sealing_logs.redact(f"x{number}y") == f"x{number[:6]}********{number[-4:]}y"
    assert sealing_logs.redact("case 202609290000001 ok") == "case 202609290000001 ok"
