"""SQLite: pages copied with the online backup API (``sqlite3.Connection.backup``), never the file.

Copying the file while the server writes can catch half a transaction, and misses what still
sits in the ``-wal`` file. The backup API copies a consistent snapshot in one step under a read
transaction; in WAL mode the server's writers carry on meanwhile.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from yibao.backup.service import BackupError, Refused, Summary, count_rows


def database_path(url: str) -> Path:
    """The database file of an ``sqlite:///`` URL."""
    db = make_url(url).database
    if not db or db == ":memory:" or "mode=memory" in db:
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    return Path(db)


def _check(conn: sqlite3.Connection, path: Path) -> None:
    found = conn.execute("PRAGMA quick_check").fetchone()
    if not found or found[0] != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {found[0] if found else '?'}")


def _summary(conn: sqlite3.Connection, path: Path) -> Summary:
    summary = Summary(backend="sqlite", path=path, size=0)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    count_rows(tables, lambda sql: conn.execute(sql).fetchone()[0], summary)
    return summary


def backup(url: str, partial: Path) -> Summary:
    """Copy the database of ``url`` into the new file ``partial``."""
    path = database_path(url)
    if not path.is_file():
        raise BackupError(f"no database at {path} (check YIBAO_DATABASE_URL and YIBAO_DATA_DIR)")
    try:
        with (
            closing(sqlite3.connect(path, timeout=30)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)  # all pages in one step: one snapshot, not restarted by writers
            # One self-contained file: no -wal beside it, whatever mode the node runs in.
            dst.execute("PRAGMA journal_mode=DELETE")
            _check(dst, partial)
            return _summary(dst, partial)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {path} failed: {exc}") from exc


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _holds_data(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return any(p.is_file() and p.stat().st_size > 0 for p in (path, wal))


def restore(source: Path, url: str, *, force: bool) -> Summary:
    """Copy the backup ``source`` into the database file of ``url``."""
    target = database_path(url)
    if _holds_data(target) and not force:
        raise Refused(
            f"{target} exists and is not empty; refusing to overwrite it. Restore into a new "
            "file, or stop the server and give --force to replace the database with the backup"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src:
            _check(src, source)  # a damaged backup is refused before the target is touched
            if not _has_table(src, "alembic_version"):
                raise BackupError(f"{source} is an SQLite database, but not a yibao one")
            with closing(sqlite3.connect(target, timeout=30)) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")  # as the node's engine opens it
                _check(dst, target)
                summary = _summary(dst, target)
    except sqlite3.Error as exc:
        raise BackupError(f"restore of {source} into {target} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc
    summary.size = target.stat().st_size
    return summary
