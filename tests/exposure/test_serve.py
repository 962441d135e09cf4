"""``yibao serve`` as an operator runs it: it refuses a weak secret key, and its access log
never shows the citizen's ID tail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Node
from yibao.migrate import upgrade
from yibao.web.access_log import redact_line, redact_path

YIBAO = [sys.executable, "-m", "yibao.cli"]


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
    env.update(YIBAO_DATA_DIR=str(data), YIBAO_DATABASE_URL="", YIBAO_RELAY="false", **extra)
    return env


@pytest.mark.parametrize("key", [None, "dev-insecure-change-me", "short-key-31-characters-long-xx"])
def test_serve_refuses_a_default_or_short_secret(tmp_path: Path, key: str | None) -> None:
    env = _env(tmp_path, **({"YIBAO_SECRET_KEY": key} if key is not None else {}))
    out = subprocess.run([*YIBAO, "serve", "--port", "9"], env=env, capture_output=True, timeout=60)
    assert out.returncode == 2, out
    err = out.stderr.decode()
    assert "YIBAO_SECRET_KEY" in err and "32" in err and "密钥" in err


def test_redaction_rules() -> None:
    assert redact_path("/public/cases/2026?id_tail=1234") == "/public/cases/2026?id_tail=****"
    assert redact_path("/public/q/x?s=F01&k=abc") == "/public/q/x?s=****&k=****"
    assert redact_path("/api/v1/cases?id_tail=1234&state=x") == "/api/v1/cases?id_tail=****&state=x"
    assert redact_path("/public/cases/1") == "/public/cases/1"
    assert "1234" not in redact_line('1.2.3.4 - "GET /public/cases/9?ID%5Ftail=1234 HTTP/1.1" 404')


def test_access_log_of_a_real_serve_has_no_id_tail(node: Node, tmp_path: Path) -> None:
    if node.backend != "sqlite":
        pytest.skip("one real server is enough (it runs on its own SQLite file)")
    env = _env(tmp_path, YIBAO_SECRET_KEY="exposure-secret-" + "e" * 24)
    upgrade(f"sqlite:///{tmp_path / 'yibao.sqlite3'}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*YIBAO, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=err,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            r = httpx.get(
                base + "/public/cases/202609290000001?id_tail=4821",
                headers={"Accept": "application/json"},
            )
            assert r.status_code == 404
            httpx.get(base + "/public/cases/202609290000001?id_tail=48X1")
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = log.read_text()
    assert "/public/cases/202609290000001?id_tail=****" in text, text
    assert "4821" not in text and "48X1" not in text
