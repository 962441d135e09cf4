"""Back up the configured database to a file and restore one, on SQLite or PostgreSQL.

A backup is one file: an SQLite database made with SQLite's online backup API (the server may
keep running), or a ``pg_dump --format=custom`` archive. Restoring refuses a database that holds
data unless asked to overwrite it. Expected failures raise :class:`BackupError` with a message
meant for the operator; nothing here prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from yibao.audit.verify import VerifyReport
    from yibao.config import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# The tables whose counts the summary names (the rest are summed up in ``rows``).
NAMED = ("cases", "case_events", "audit_records", "users")


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


class Refused(BackupError):
    """The target already holds data (or exists) and overwriting it was not asked for."""


@dataclass
class Summary:
    """What a backup wrote or a restore put back."""

    backend: str
    path: Path
    size: int
    tables: int = 0
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    revision: str | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for the operator: size, tables, rows, the named tables' counts, time."""
        named = ", ".join(f"{self.counts[t]:,} {t}" for t in NAMED if t in self.counts)
        return (
            f"{human_size(self.size)}, {self.tables} tables, {self.rows:,} rows"
            f"{f' ({named})' if named else ''}, schema {self.revision or 'unknown'}, "
            f"{self.seconds:.2f} s"
        )


def human_size(size: int) -> str:
    """``size`` bytes as B, KiB or MiB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def backend_of(url: str) -> str:
    """``sqlite`` or ``postgresql``; any other database is refused."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database (only SQLite and PostgreSQL)")
    return name


def count_rows(tables: list[str], scalar: Callable[[str], int], summary: Summary) -> None:
    """Fill ``summary``'s table and row counts, one ``count(*)`` per table."""
    summary.tables = len(tables)
    for table in tables:
        n = scalar(f'SELECT count(*) FROM "{table}"')
        summary.rows += n
        if table in NAMED:
            summary.counts[table] = n
    if "alembic_version" in tables:
        try:
            summary.revision = str(scalar("SELECT version_num FROM alembic_version"))
        except (TypeError, ValueError):
            summary.revision = None


def writable_target(path: Path, *, force: bool) -> Path:
    """The partial file next to ``path`` a backup is written to before it is renamed."""
    if path.exists() and not force:
        raise Refused(f"{path} exists; refusing to overwrite it (give --force to do so)")
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give the backup file's name")
    parent = path.parent
    if not parent.is_dir():
        raise BackupError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise BackupError(f"cannot write {path}: the folder {parent} is not writable")
    return parent / f".{path.name}.partial"


def backup(url: str, dest: Path, *, force: bool = False) -> Summary:
    """Write a backup of the database at ``url`` to ``dest`` (atomically: all or nothing)."""
    started = time.perf_counter()
    backend = backend_of(url)
    partial = writable_target(dest, force=force)
    try:
        partial.unlink(missing_ok=True)  # left by a backup that was killed
        if backend == "sqlite":
            from yibao.backup import sqlite

            summary = sqlite.backup(url, partial)
        else:
            from yibao.backup import postgres

            summary = postgres.backup(url, partial)
        os.replace(partial, dest)
    except OSError as exc:
        raise BackupError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    summary.path, summary.size = dest, dest.stat().st_size
    summary.seconds = time.perf_counter() - started
    return summary


def kind_of_file(path: Path) -> str:
    """Which backend made the backup at ``path`` (by its first bytes)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"no backup at {path}") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise BackupError(
        f"{path} is not a yibao backup (neither an SQLite file nor a pg_dump archive)"
    )


def restore(url: str, source: Path, *, force: bool = False) -> Summary:
    """Restore the backup at ``source`` into the database at ``url``."""
    started = time.perf_counter()
    backend = backend_of(url)
    kind = kind_of_file(source)
    if kind != backend:
        raise BackupError(
            f"{source} was made from {label(kind)}, but the configured database is "
            f"{label(backend)}; restore it into a database of the same kind"
        )
    if backend == "sqlite":
        from yibao.backup import sqlite

        summary = sqlite.restore(source, url, force=force)
    else:
        from yibao.backup import postgres

        summary = postgres.restore(source, url, force=force)
    summary.seconds = time.perf_counter() - started
    return summary


def label(backend: str) -> str:
    """The backend's name for people."""
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(backend, backend)


def verify_audit(settings: Settings, url: str) -> VerifyReport:
    """``yibao audit verify`` on the database at ``url``, with this node's checkpoint keys."""
    from yibao.audit.checkpoints import verification_keys
    from yibao.audit.verify import verify_chain
    from yibao.db import Database

    db = Database(url)
    try:
        return verify_chain(db, settings.agency, keys=verification_keys(settings))
    finally:
        db.dispose()


def keys_outside(settings: Settings) -> list[tuple[str, str, bool]]:
    """The keys the node needs that no backup holds: (what, where, whether it exists now)."""
    from yibao.audit.checkpoints import KEY_FILE
    from yibao.sealing.keys import source

    kind, where = source(settings)
    if kind == "env":
        data = ("data keys", "YIBAO_DATA_KEY (in the environment)", True)
    else:
        data = ("data keys", where, Path(where).exists())
    audit = (settings.data_dir / KEY_FILE).resolve()
    return [data, ("audit signing key", str(audit), audit.exists())]
