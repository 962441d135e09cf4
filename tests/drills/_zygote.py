"""A pre-imported ``yibao serve``: forks a fresh server process per command, for the kill -9 drill.

Starting ``yibao serve`` costs about three seconds of Python imports; twenty kill-and-restart
rounds on two backends would spend most of the drill's budget there. This process imports the
application once, then for each ``start PORT`` line on standard input forks a child that runs
exactly ``yibao serve --port PORT`` (the CLI's own code path, with the environment this process
was started with) and prints the child's pid. The test kills the child with SIGKILL; children
are reaped by the kernel (SIGCHLD ignored). Nothing touches the database before the fork.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import sys

import uvicorn  # noqa: F401  (imported before the fork: the point of this process)

import yibao
import yibao.cli
import yibao.web.app


def preimport() -> None:
    """Import every module of the package: ``create_app`` imports many of them lazily."""
    for module in pkgutil.walk_packages(yibao.__path__, "yibao."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)


def main() -> None:
    preimport()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "start":
            pid = os.fork()
            if pid == 0:
                os.setpgid(0, 0)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                sys.argv = ["yibao", "serve", "--port", parts[1]]
                try:
                    yibao.cli.main()
                finally:
                    os._exit(0)
            print(pid, flush=True)
        elif parts[0] == "quit":
            break


if __name__ == "__main__":
    main()
