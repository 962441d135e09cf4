"""``yibao keys``: the data keys that seal personal data at rest (docs/sealing.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from yibao.config import get_settings
from yibao.db import Database
from yibao.sealing import keys, rotate

app = typer.Typer(help="Data keys sealing ID and phone numbers at rest.", no_args_is_help=True)


@app.callback()
def _keys() -> None:
    """Data keys sealing ID and phone numbers at rest."""


def _env_entry() -> str:
    return f"{keys.new_kid()}:{keys.b64(keys.new_key())}"


@app.command("rotate")
def rotate_command(
    batch_size: Annotated[int, typer.Option(min=1, max=10000, help="Rows per transaction.")] = 500,
    retire: Annotated[
        bool, typer.Option("--retire", help="When done, remove the old keys from the key file.")
    ] = False,
    new_key_env: Annotated[
        bool,
        typer.Option(
            "--new-key-env",
            help="With YIBAO_DATA_KEY: print a new key entry to put first, then exit.",
        ),
    ] = False,
    stop_after: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Re-seal personal data under a new data key (resumable: run it again after a crash)."""
    settings = get_settings()
    try:
        ring = keys.load(settings, fresh=True)
    except keys.KeyConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if ring.env:
        if new_key_env:
            entry = _env_entry()
            typer.echo(
                "Put this entry FIRST in YIBAO_DATA_KEY (keep the old ones after it and the "
                "index entry), restart the node, then run `yibao keys rotate` again:\n"
                f"  {entry}"
            )
            return
    else:
        if new_key_env:
            typer.secho("--new-key-env is for keys given in YIBAO_DATA_KEY", err=True)
            raise typer.Exit(2)
        ring = rotate.begin_file_rotation(ring)
        typer.echo(f"Current data key: {ring.current} (in {ring.file})")

    db = Database(settings.resolved_database_url())
    keys.attach(db.engine, ring)
    try:
        with db.session() as session:
            todo = sum(rotate.pending(session, ring.current).values())
        typer.echo(f"Values to re-seal under {ring.current}: rows {todo}")
        with typer.progressbar(length=todo, label="Re-sealing", file=sys.stderr) as bar:
            done, batches = rotate.run(
                db,
                ring,
                agency=settings.agency,
                batch=batch_size,
                on_batch=bar.update,
                stop_after=stop_after,
            )
        with db.session() as session:
            left = sum(rotate.pending(session, ring.current).values())
            old = [k for k in ring.keys if k != ring.current]
            still = {k: rotate.under(session, k) for k in old}
    except rotate.RotateError as exc:
        typer.secho(f"Rotation stopped: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()

    typer.echo(f"Re-sealed rows: {done} in {batches} batches.")
    if left:
        typer.echo(f"Rows left: {left}. Run `yibao keys rotate` again to carry on.")
        raise typer.Exit(3)
    if ring.env:
        if old:
            typer.echo(
                f"Every value is under {ring.current}. The old keys ({', '.join(old)}) may now "
                "be retired: remove them from YIBAO_DATA_KEY (keep the index entry)."
            )
        else:
            typer.echo(
                f"Every value is under {ring.current}. To rotate, run "
                "`yibao keys rotate --new-key-env` for a new key entry."
            )
        return
    ring, old_t = rotate.finish_file_rotation(ring, retire=retire and not any(still.values()))
    if retire:
        typer.echo(f"Done. Retired keys removed from {ring.file}: {', '.join(old_t) or 'none'}.")
    else:
        typer.echo(
            f"Done: every value is under {ring.current}. The old keys "
            f"({', '.join(old_t) or 'none'}) may now be retired: `yibao keys retire`."
        )


@app.command("retire")
def retire_command() -> None:
    """Remove data keys no stored value is sealed under any more from the key file."""
    settings = get_settings()
    ring = keys.load(settings, fresh=True)
    if ring.env or ring.file is None:
        typer.echo("Keys come from YIBAO_DATA_KEY: remove the old entries there.")
        raise typer.Exit(2)
    if ring.rotation:
        typer.secho("A rotation is under way: run `yibao keys rotate` first.", err=True)
        raise typer.Exit(2)
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            busy = {k: n for k in ring.keys if k != ring.current if (n := rotate.under(session, k))}
    finally:
        db.dispose()
    if busy:
        typer.secho(f"Values are still sealed under {sorted(busy)}: not retired.", err=True)
        raise typer.Exit(1)
    _, old = rotate.finish_file_rotation(ring, retire=True)
    typer.echo(f"Retired: {', '.join(old) or 'none'}.")


@app.command("status")
def status_command() -> None:
    """Which key is current and how many values each key seals."""
    settings = get_settings()
    ring = keys.load(settings, fresh=True)
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            counts = {k: rotate.under(session, k) for k in ring.keys}
            left = sum(rotate.pending(session, ring.current).values())
    finally:
        db.dispose()
    typer.echo(f"Keys from: {'YIBAO_DATA_KEY' if ring.env else ring.file}")
    for kid, n in counts.items():
        typer.echo(f"  {kid}{' (current)' if kid == ring.current else ''}: {n} values")
    typer.echo(f"Rows not under the current key: {left}")
    if ring.rotation:
        typer.echo("A rotation is under way: run `yibao keys rotate` to carry on.")
