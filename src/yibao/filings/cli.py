"""`yibao filings …`: the daily expiry job and exports of the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="异地就医备案: the filing registry.", no_args_is_help=True)


@app.command("expire")
def expire(
    days: Annotated[int, typer.Option(min=1, max=366, help="list those ending this soon")] = 30,
) -> None:
    """The daily job: mark filings past their end date expired; list those ending soon."""
    from yibao.config import get_settings
    from yibao.db import Database
    from yibao.filings import service
    from yibao.people.rules import mask_id
    from yibao.runtime import Runtime

    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        runtime = Runtime(settings, db)
        with db.uow() as uow:
            report = service.expire(uow, runtime=runtime, days=days)
            typer.echo(f"expired {len(report.expired)} filings (end date before {runtime.today()})")
            typer.echo(f"{len(report.expiring)} filings end within {days} days:")
            for f in report.expiring:
                typer.echo(
                    f"  {f.end_date}  {f.filing_no}  {f.person_name}  {mask_id(f.person_id_number)}"
                    f"  {f.province_name}{f.city_name}  {f.station_code}"
                )
    finally:
        db.dispose()


@app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="file to write (.csv or .xlsx)")],
    username: Annotated[str, typer.Option("--as", help="the exporting user (audited)")],
) -> None:
    """Write the active registry (full ID numbers) for the settlement system; audited."""
    from sqlalchemy import select

    from yibao.accounts.models import User
    from yibao.accounts.rules import Actor, Role
    from yibao.config import get_settings
    from yibao.db import Database
    from yibao.errors import DomainError
    from yibao.filings import export as files
    from yibao.filings import service
    from yibao.runtime import Runtime

    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("csv", "xlsx"):
        typer.echo("the file must end in .csv or .xlsx", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        runtime = Runtime(settings, db)
        with db.uow() as uow:
            user = uow.session.scalar(
                select(User).where(User.agency == settings.agency, User.username == username)
            )
            if user is None or not user.active:
                typer.echo(f"no active user {username}", err=True)
                raise typer.Exit(2)
            actor = Actor(
                id=user.id,
                username=user.username,
                display_name=user.display_name or user.username,
                role=Role(user.role),
                unit=user.station_code,
                agency=settings.agency,
                ip="cli",
            )
            try:
                made = service.export_rows(uow, runtime=runtime, actor=actor, fmt=fmt)
            except DomainError as exc:
                typer.echo(exc.detail, err=True)
                raise typer.Exit(1) from None
        with out.open("wb") as fh:
            if fmt == "csv":
                for chunk in files.csv_chunks(made.rows):
                    fh.write(chunk)
            else:
                files.write_xlsx(made.rows, fh)
        typer.echo(f"wrote {made.count} active filings to {out}")
    finally:
        db.dispose()
