"""``yibao backup PATH`` and ``yibao restore PATH``: thin adapters over ``backup.service``.

Exit status: 0 done (and, for a restore, the audit chain verified); 1 nothing written (a
failure or a refusal, said on stderr); 3 restored, but the audit chain does not verify.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from yibao.config import Settings

VERIFY_FAILED = 3


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the top-level command."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _node() -> tuple[Settings, str]:
    from yibao.config import get_settings

    settings = get_settings()
    return settings, settings.resolved_database_url()


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def backup(
    path: Annotated[Path, typer.Argument(help="the backup file to write")],
    force: Annotated[bool, typer.Option("--force", help="overwrite PATH if it exists")] = False,
) -> None:
    """Write a backup of the node's database to PATH; the server may keep running.

    SQLite: a copy made with SQLite's online backup API. PostgreSQL: a pg_dump archive
    (--format=custom); pg_dump must be on PATH.
    """
    from yibao.backup import service

    settings, url = _node()
    try:
        summary = service.backup(url, path, force=force)
    except service.BackupError as exc:
        _fail(f"backup not written: {exc}")
    typer.echo(
        f"wrote {path} ({service.label(summary.backend)} backup of {_where(url)}): "
        f"{summary.describe()}"
    )
    typer.echo("not in the backup (keep copies of them apart from it):")
    for what, where, exists in service.keys_outside(settings):
        typer.echo(f"  {what}: {where}{'' if exists else ' (none made yet)'}")


def restore(
    path: Annotated[Path, typer.Argument(help="a file written by yibao backup")],
    force: Annotated[
        bool,
        typer.Option("--force", help="replace a database that holds data (stop the server first)"),
    ] = False,
) -> None:
    """Restore PATH into the node's database, then verify the audit chain (exit 0 only if both).

    Refuses a database that holds data unless --force. SQLite: copied with the online backup
    API. PostgreSQL: pg_restore --no-owner in one transaction (with --force, --clean --if-exists).
    """
    from yibao.backup import service

    settings, url = _node()
    try:
        summary = service.restore(url, path, force=force)
    except service.BackupError as exc:
        _fail(f"not restored: {exc}")
    typer.echo(f"restored {path} into {_where(url)}: {summary.describe()}")
    head = _code_head(url)
    if summary.revision and head and summary.revision != head:
        typer.echo(f"the code's schema is {head}: run `yibao db upgrade` before `yibao serve`")
    for what, where, exists in service.keys_outside(settings):
        if not exists and what == "data keys":
            typer.secho(
                f"warning: no data keys at {where}: put the node's keys back before starting "
                "the server, or the sealed ID and phone numbers cannot be opened",
                fg=typer.colors.YELLOW,
                err=True,
            )
    _verify(settings, url)


def _code_head(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    from yibao.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _database_errors() -> tuple[type[Exception], ...]:
    # The verification reads through the raw DBAPI cursor: the drivers' own errors, unwrapped.
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    errors: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return errors
    return (*errors, psycopg.Error)


def _verify(settings: Settings, url: str) -> None:
    from yibao.backup import service

    try:
        report = service.verify_audit(settings, url)
    except _database_errors() as exc:
        first = (str(exc).strip().splitlines() or ["?"])[0]
        _fail(f"restored, but the audit chain could not be verified: {first}", VERIFY_FAILED)
    if not report.ok:
        _fail(
            f"restored, but the audit chain does not verify:\n{report.message}\n"
            f"{report.message_zh}",
            VERIFY_FAILED,
        )
    typer.echo(
        f"ok: audit chain of {report.agency} verified: {report.checked:,} records up to seq "
        f"{report.head_seq}, {report.checkpoints_checked} checkpoint(s) ({report.seconds:.2f} s)"
    )
