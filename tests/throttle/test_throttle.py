"""Limits shared by every worker of a node: counted in the database, not in one process.

The pure window arithmetic under hypothesis; the limiter on SQLite and PostgreSQL (two
limiter objects over one database stand for two workers); the sign-in limit per address and
forged X-Forwarded-For through the app; and a real ``yibao serve --workers 2``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PASSWORD, Node
from yibao.throttle.rules import estimate, wait_seconds, window_of
from yibao.throttle.service import SharedRateLimiter
from yibao.web.app import create_app

JSON = {"Accept": "application/json"}
YIBAO = [sys.executable, "-m", "yibao.cli"]


@given(
    previous=st.integers(0, 200),
    current=st.integers(0, 200),
    fraction=st.floats(0, 0.999),
    limit=st.integers(1, 100),
)
def test_wait_is_zero_exactly_when_a_hit_fits(
    previous: int, current: int, fraction: float, limit: int
) -> None:
    wait = wait_seconds(previous, current, fraction, limit, 60.0)
    assert (wait == 0) == (estimate(previous, current, fraction) < limit)
    assert 0 <= wait <= 60.0 + 1e-6
    if 0 < wait < (1 - fraction) * 60.0:
        # Still in this window after the wait: by then the previous window has decayed enough.
        later = fraction + wait / 60.0 + 1e-9
        assert estimate(previous, current, later) < limit + 1e-6


@given(now=st.floats(0, 4e9), seconds=st.floats(0.5, 3600))
def test_window_of(now: float, seconds: float) -> None:
    w = window_of(now, seconds)
    assert 0 <= w.fraction < 1
    assert abs((w.index + w.fraction) * seconds - now) < 1e-3 * seconds


def test_two_workers_share_one_count(clean: Node) -> None:
    t = [1_000_000.0 * 60]  # the start of a window
    clock = lambda: t[0]  # noqa: E731
    scope = f"t-{uuid.uuid4().hex[:8]}"
    a, b = (
        SharedRateLimiter(clean.runtime.db, agency="500118", scope=scope, limit=3, clock=clock)
        for _ in range(2)
    )
    assert [a.hit("ip"), b.hit("ip"), a.hit("ip")] == [None, None, None]
    wait = b.hit("ip")
    assert wait is not None and 1 <= wait <= 60
    assert a.hit("other-ip") is None  # per key
    # Refused hits are not counted: knocking on does not extend the wait.
    for _ in range(10):
        assert a.hit("ip") is not None
    t[0] += 120  # two windows later, nothing of the old hits counts
    assert [b.hit("ip"), a.hit("ip"), b.hit("ip")] == [None, None, None]
    assert a.hit("ip") is not None


def test_sign_in_is_limited_per_address_whatever_the_account(clean: Node) -> None:
    settings = clean.settings.model_copy(update={"login_rate_per_minute": 4})
    app = create_app(settings=settings, runtime=clean.runtime)
    with TestClient(app) as c:
        codes = [
            c.post(
                "/api/v1/auth/token", json={"username": f"nobody{i}", "password": "wrong-pass"}
            ).status_code
            for i in range(4)
        ]
        assert codes == [401] * 4
        r = c.post("/api/v1/auth/token", json={"username": "clerk_f01", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.headers["content-type"].startswith("application/problem+json")
        # The sign-in page says it in Chinese.
        page = c.get("/login")
        token = c.cookies.get("yibao_login_csrf") or ""
        r = c.post(
            "/login",
            data={"username": "clerk_f01", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 429 and "登录尝试过于频繁" in r.text, page.status_code
        # A minute later the address may try again.
        clean.clock.now += timedelta(minutes=2)
        r = c.post("/api/v1/auth/token", json={"username": "clerk_f01", "password": PASSWORD})
        assert r.status_code == 200


def test_forged_forwarded_for_does_not_dodge_the_limit(client: TestClient, clean: Node) -> None:
    limit = clean.settings.public_rate_per_minute
    codes = [
        client.get(
            # A different case each time: the per-case bound on wrong tails stays out of it.
            f"/public/cases/{i}?id_tail=1234",
            headers={**JSON, "X-Forwarded-For": f"198.51.100.{i % 250}"},
        ).status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [404] * limit and codes[-1] == 429


def _serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*YIBAO, "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("yibao serve did not start")


@pytest.mark.slow
def test_workers_of_one_node_share_the_lookup_limit(tmp_path: Path) -> None:
    env = {
        "YIBAO_DATA_DIR": str(tmp_path),
        "YIBAO_DATABASE_URL": "",
        "YIBAO_SECRET_KEY": "k" * 32,
        "YIBAO_PUBLIC_RATE_PER_MINUTE": "5",
        "YIBAO_RELAY": "false",
        # The test client is the proxy: its X-Forwarded-For names the client (read from the
        # right, so a hop the client wrote itself in front is ignored).
        "YIBAO_TRUSTED_PROXIES": "127.0.0.1",
    }
    for args in (["db", "upgrade"], ["init"]):
        out = subprocess.run([*YIBAO, *args], env={**os.environ, **env}, capture_output=True)
        assert out.returncode == 0, out.stderr
    proc, base = _serve(env, workers=2)
    try:

        def lookups(xff: str, n: int) -> list[int]:
            codes = []
            for _ in range(n):
                # A new connection each time, so the two workers both take requests.
                with httpx.Client(base_url=base, headers={**JSON, "X-Forwarded-For": xff}) as c:
                    codes.append(c.get("/public/cases/1?id_tail=1234").status_code)
            return codes

        first = lookups("203.0.113.7", 12)
        assert first.count(404) == 5 and first[5:] == [429] * 7, first
        # Another client behind the proxy has its own count; a hop it forged is not believed.
        assert lookups("203.0.113.7, 203.0.113.8", 5) == [404] * 5
        assert lookups("203.0.113.8", 1) == [429]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
