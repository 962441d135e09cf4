"""Helpers shared by the benchmarks: fresh databases, a real server process, synthetic people.

Nothing here touches a database or a port that the benchmark did not create itself.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import httpx
import psutil
from sqlalchemy import create_engine, text

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PG_ADMIN_URL = os.environ.get(
    "YIBAO_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

# ---------------------------------------------------------------- machine


def machine_info() -> dict[str, object]:
    """What the numbers were measured on."""
    return {
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ---------------------------------------------------------------- statistics


def percentile(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of already sorted values, by linear interpolation."""
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    if lo == hi:
        return sorted_values[lo]
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


# ---------------------------------------------------------------- synthetic people

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# Real division codes (Yongchuan, other Chongqing districts, other provinces); people are fake.
_REGIONS = (
    "500118",
    "500118",
    "500118",
    "500101",
    "500103",
    "500113",
    "510104",
    "110105",
    "440305",
    "420102",
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林谢唐冯邓曾彭"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红"
_BIRTH_FIRST = date(1935, 1, 1).toordinal()
_BIRTH_LAST = date(2008, 12, 31).toordinal()


def id_number(region: str, birth: date, seq: int) -> str:
    """A synthetic 18-character ID number with a correct GB 11643 check character."""
    body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + _CHECK[total % 11]


def random_applicant(rng: random.Random) -> dict[str, str]:
    """A plausible, entirely made-up applicant: ID number, Chinese name, mobile number."""
    birth = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
    name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.choice((1, 2))))
    phone = "1" + rng.choice("3456789") + f"{rng.randrange(10**9):09d}"
    return {
        "id_number": id_number(rng.choice(_REGIONS), birth, rng.randrange(1000)),
        "name": name,
        "phone": phone,
    }


# ---------------------------------------------------------------- databases


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[tuple[str, Path]]:
    """A new, empty database and a data directory; both are removed on exit.

    SQLite: a file in a temporary directory. PostgreSQL: ``yibao_bench_<random>`` created through
    ``YIBAO_BENCH_PG_ADMIN`` (default: user postgres on 127.0.0.1:5432) and dropped afterwards.
    """
    data_dir = Path(tempfile.mkdtemp(prefix=f"yibao-bench-{backend}-"))
    try:
        if backend == "sqlite":
            yield f"sqlite:///{data_dir / 'yibao.sqlite3'}", data_dir
            return
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}")
        name = f"yibao_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", data_dir
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def postgres_reachable() -> str | None:
    """None when the admin URL answers, else the reason it does not."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any driver error means "not available here"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the server process


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def yibao_command() -> list[str]:
    """The ``yibao`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "yibao"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "yibao.cli"]


@dataclass
class MemorySampler:
    """Samples the resident memory of a process and its children every ``interval`` seconds."""

    pid: int
    interval: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                total = proc.memory_info().rss
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += child.memory_info().rss
            except psutil.NoSuchProcess:
                return
            self.samples.append((time.perf_counter(), total))
            self._stop.wait(self.interval)

    def peak(self, start: float = -math.inf, end: float = math.inf) -> int:
        """The highest sample taken between ``start`` and ``end`` (perf_counter seconds)."""
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


class ServerProcess:
    """``yibao serve`` on a free port as a child process, its output going to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._env = env
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.sampler: MemorySampler | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until ``GET /healthz`` answers 200."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("YIBAO_")}
        env.update(self._env)
        cmd = [*yibao_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.sampler = MemorySampler(self.proc.pid)
        self.sampler.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"server did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its children so far."""
        if self.proc is None:
            return 0.0
        try:
            proc = psutil.Process(self.proc.pid)
            total = sum(proc.cpu_times()[:2])
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += sum(child.cpu_times()[:2])
            return float(total)
        except psutil.NoSuchProcess:
            return 0.0

    def stop(self) -> None:
        """Ask the server to shut down (SIGTERM), kill it if it lingers."""
        if self.sampler is not None:
            self.sampler.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        """Everything the server wrote so far."""
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


_LEVEL = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL):")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def server_problems(log: str) -> tuple[int, list[str]]:
    """Error blocks in a server log: how many, and one of each kind (whole, with tracebacks).

    A block starts at an ``ERROR:`` line, a ``Traceback`` line, or the message line just before
    a traceback (the app's own logger has no level prefix), and runs until the next line that
    carries a log level, so multi-line exception messages (SQL, parameters) stay whole. Blocks
    whose exception lines are the same up to numbers are one kind.
    """
    lines = log.splitlines()
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for i, line in enumerate(lines):
        leveled = bool(_LEVEL.match(line))
        before_traceback = i + 1 < len(lines) and lines[i + 1].startswith("Traceback")
        starts = line.startswith(("ERROR:", "CRITICAL:")) or (
            current is None and (line.startswith("Traceback") or before_traceback)
        )
        if leveled or starts:
            if current is not None:
                blocks.append(current)
                current = None
            if starts:
                current = [line]
        elif current is not None:
            current.append(line)
    if current is not None:
        blocks.append(current)
    kinds: dict[str, str] = {}
    for block in blocks:
        key = "\n".join(ln for ln in block if _EXCEPTION_LINE.match(ln)) or block[0]
        kinds.setdefault(re.sub(r"\d+", "N", key), "\n".join(block))
    return len(blocks), list(kinds.values())
