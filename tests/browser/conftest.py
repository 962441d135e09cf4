"""Real-browser fixtures: a real ``yibao serve`` process on a fresh SQLite node, and Chromium.

The server is set up the way an operator would: ``yibao db upgrade``, ``yibao init`` and
``yibao user create`` as subprocesses, then ``yibao serve`` on a free port. Chromium is
Debian's (``/usr/bin/chromium``) driven by Playwright's sync API; nothing is downloaded.

Every page a test opens is remembered; when the test fails, each one is saved as a full-page
PNG under the test's ``tmp_path`` and the paths (with the tail of the server log) are added to
the failure report.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
YIBAO = [sys.executable, "-m", "yibao.cli"]
PASSWORD = "browser-test-password-1"
# username, role, station
USERS = [
    ("clerk_a", "clerk", "F01"),
    ("clerk_b", "clerk", "F02"),
    ("clerk_c", "clerk", "F01"),
    ("officer", "bureau_officer", None),
    ("supervisor", "supervisor", None),
]
DESKTOP = {"width": 1366, "height": 768}


@dataclass
class Server:
    """The running ``yibao serve`` process."""

    base_url: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def token(self, username: str) -> dict[str, str]:
        """Bearer headers for the API (to set up data and to check what the pages did)."""
        if username not in self.tokens:
            r = httpx.post(
                f"{self.base_url}/api/v1/auth/token",
                json={"username": username, "password": PASSWORD},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def api(self, method: str, path: str, username: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.base_url}{path}", headers=self.token(username), timeout=10, **kw
        )


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    out = subprocess.run(
        [*YIBAO, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, f"yibao {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh SQLite node served by a real ``yibao serve`` process.

    The journeys sign in with a password; the second factor has its own node
    (``default_node``, with the settings ``make demo`` has).
    """
    with serve(tmp_path_factory.mktemp("browser-node"), YIBAO_MFA_REQUIRED_ROLES="") as srv:
        yield srv


@pytest.fixture(scope="module")
def default_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A node with the default settings: officers and supervisors need a second factor."""
    with serve(tmp_path_factory.mktemp("default-node")) as srv:
        yield srv


@contextlib.contextmanager
def serve(data: Path, **settings: str) -> Iterator[Server]:
    """Set up a node as an operator would and serve it until the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
    env.update(
        YIBAO_DATA_DIR=str(data),
        YIBAO_DATABASE_URL="",
        YIBAO_SECRET_KEY="browser-secret-" + "s" * 24,
        **settings,
    )
    _run(["db", "upgrade"], env)
    _run(["init"], env)
    # The accounts are independent: create them side by side (SQLite queues the writers).
    creating = []
    for username, role, station in USERS:
        args = ["user", "create", username, "--role", role, "--password-stdin"]
        if station:
            args += ["--station", station]
        proc = subprocess.Popen(
            [*YIBAO, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        creating.append((username, proc))
    for username, proc in creating:
        out, _err = proc.communicate(PASSWORD + "\n", timeout=120)
        assert proc.returncode == 0, f"yibao user create {username} failed:\n{out}"
    port = _free_port()
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*YIBAO, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    srv = Server(base, env, log_path, proc)
    try:
        deadline = time.monotonic() + 120  # a busy CI machine imports slowly
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"yibao serve exited early:\n{srv.log_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"yibao serve did not answer /healthz:\n{srv.log_text()}")
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Pages:
    """Opens browser contexts for a test and remembers every page (screenshots on failure)."""

    def __init__(self, browser: Any, server: Server, sessions: dict[str, Any]) -> None:
        self.browser = browser
        self.server = server
        self.sessions = sessions  # username → storage state of a signed-in context
        self.contexts: list[Any] = []
        self.pages: list[tuple[str, Any]] = []
        self.server_errors: list[str] = []

    def track(self, label: str, page: Any) -> Any:
        """Remember a page the browser opened by itself (a link with target=_blank)."""
        return self._track(label, page)

    def _track(self, label: str, page: Any) -> Any:
        page.set_default_timeout(20_000)

        def on_response(response: Any) -> None:
            if response.status >= 500:
                self.server_errors.append(f"{response.status} {response.url}")

        page.on("response", on_response)
        self.pages.append((label, page))
        return page

    def new(
        self,
        label: str = "anon",
        *,
        viewport: dict[str, int] | None = None,
        storage_state: Any = None,
    ) -> Any:
        """A page in a fresh context (its own cookies), signed in to nobody."""
        ctx = self.browser.new_context(
            viewport=viewport or DESKTOP,
            base_url=self.server.base_url,
            locale="zh-CN",
            storage_state=storage_state,
        )
        self.contexts.append(ctx)
        return self._track(label, ctx.new_page())

    def another_tab(self, page: Any, label: str) -> Any:
        """A second page in the same context (same session)."""
        return self._track(label, page.context.new_page())

    def signed_in(
        self, username: str, *, viewport: dict[str, int] | None = None, fresh: bool = False
    ) -> Any:
        """A page in a fresh context, signed in as ``username``.

        The first time (or with ``fresh``) through the login form with the keyboard; later
        contexts reuse that session's cookies, like a second browser window of the same person.
        """
        if not fresh and username in self.sessions:
            page = self.new(username, viewport=viewport, storage_state=self.sessions[username])
            page.goto("/")
            assert "/login" not in page.url, f"the saved session of {username} has expired"
            return page
        page = self.new(username, viewport=viewport)
        page.goto("/login")
        page.locator("#username").fill(username)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/login" not in url)
        self.sessions[username] = page.context.storage_state()
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            with contextlib.suppress(Exception):
                ctx.close()


@pytest.fixture(scope="session")
def signed_in_sessions() -> dict[str, Any]:
    """Cookies of each user's first sign-in, reused by later contexts of the same user."""
    return {}


@pytest.fixture
def pages(
    chromium: Any, server: Server, tmp_path: Path, signed_in_sessions: dict[str, Any]
) -> Iterator[Pages]:
    """Browser contexts for one test; no page may see a 5xx answer."""
    p = Pages(chromium, server, signed_in_sessions)
    log_start = server.log_path.stat().st_size
    yield p
    p.close()
    with server.log_path.open("rb") as f:
        f.seek(log_start)
        new_log = f.read().decode("utf-8", errors="replace")
    assert not p.server_errors, f"server errors seen by the browser: {p.server_errors}"
    assert "Traceback" not in new_log, f"the server logged an exception:\n{new_log[-4000:]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed journey, save every open page as a full-page PNG and say where."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    p = funcargs.get("pages")
    tmp_path = funcargs.get("tmp_path")
    if not isinstance(p, Pages) or tmp_path is None:
        return
    lines = []
    for i, (label, page) in enumerate(p.pages):
        path = Path(tmp_path) / f"{item.name}-{i}-{label}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            lines.append(f"{path}  ({page.url})")
        except Exception as exc:  # a closed page, a crashed context: say so, keep going
            lines.append(f"{label}: no screenshot ({type(exc).__name__}: {exc})")
    if lines:
        report.sections.append(("browser screenshots", "\n".join(lines)))
    with contextlib.suppress(OSError):
        tail = "\n".join(p.server.log_text().splitlines()[-30:])
        report.sections.append(("server log (tail)", tail))


def make_id(birth: str = "19530412", seq: int = 1, region: str = "500118") -> str:
    """A synthetic ID number with a correct GB 11643 check character (no real person)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    body = f"{region}{birth}{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


MakeCase = Callable[..., dict[str, Any]]


@pytest.fixture
def make_case(server: Server) -> MakeCase:
    """``make_case(username, id_number, name, **over)`` → a case taken through the API."""

    def _make(username: str, id_number: str, name: str, **over: Any) -> dict[str, Any]:
        station = {u: s for u, _r, s in USERS}[username]
        body: dict[str, Any] = {
            "service_code": "outpatient_reimbursement",
            "station_code": station,
            "channel": "window",
            "applicant": {"id_number": id_number, "name": name, "phone": "13800138000"},
            "materials": ["id_card"],
        }
        body.update(over)
        r = server.api("POST", "/api/v1/cases", username, json=body)
        assert r.status_code == 201, r.text
        case: dict[str, Any] = r.json()
        return case

    return _make
