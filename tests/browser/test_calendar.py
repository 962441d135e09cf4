"""Browser journey (issue 10): after 1 November, the admin sees next year's schedule missing,
imports the file on the calendar page, and the warning is gone.

A node of its own (an import changes the calendar every later test would see), on the
machine's clock, which the demo and these tests run on 2026-12-07.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import PASSWORD, YIBAO, Pages, Server, _free_port, _run

expect = pytest.importorskip("playwright.sync_api").expect

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cn-2027-example.yaml"
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()

pytestmark = pytest.mark.skipif(
    TODAY.month < 11 or TODAY.year + 1 != 2027,
    reason="the journey needs the node's clock in November or December 2026",
)


@pytest.fixture(scope="module")
def calendar_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh SQLite node with an admin, served by ``yibao serve``."""
    data = tmp_path_factory.mktemp("calendar-node")
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
    env.update(
        YIBAO_DATA_DIR=str(data),
        YIBAO_DATABASE_URL="",
        YIBAO_SECRET_KEY="cal-" + "c" * 32,
        YIBAO_MFA_REQUIRED_ROLES="",  # the journey is the calendar, not the second factor
    )
    _run(["db", "upgrade"], env)
    _run(["init"], env)
    _run(["user", "create", "admin", "--role", "admin", "--password-stdin"], env, PASSWORD + "\n")
    port = _free_port()
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*YIBAO, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    srv = Server(f"http://127.0.0.1:{port}", env, log_path, proc)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"yibao serve exited early:\n{srv.log_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{srv.base_url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"yibao serve did not answer:\n{srv.log_text()}")
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_admin_imports_next_years_schedule_and_the_warning_goes(
    chromium: Any, calendar_node: Server
) -> None:
    pages = Pages(chromium, calendar_node, {})
    try:
        page = pages.signed_in("admin")
        page.goto("/admin/calendar")
        warning = page.get_by_role("alert").filter(has_text="2027 年的国务院节假日安排尚未导入")
        expect(warning).to_be_visible()
        page.locator("#file").set_input_files(str(EXAMPLE))
        page.get_by_role("button", name="导入").click()
        page.wait_for_url("**/admin/calendar?done=imported*")
        expect(page.get_by_role("status").filter(has_text="重算 0 件")).to_be_visible()
        expect(page.locator(".calendar-warning")).to_have_count(0)
        expect(page.locator("table.admin-calendar")).to_contain_text("2027")
        page.reload()
        expect(page.locator(".calendar-warning")).to_have_count(0)
        assert not pages.server_errors, pages.server_errors
    finally:
        pages.close()
