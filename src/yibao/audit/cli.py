"""``yibao audit ...``: verify the chain, make a checkpoint, purge archived records."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from yibao.config import Settings
    from yibao.db import Database

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


def _db() -> tuple[Settings, Database]:
    from yibao.config import get_settings
    from yibao.db import Database

    settings = get_settings()
    return settings, Database(settings.resolved_database_url())


class _Counter:
    """A plain progress counter on stderr (a line rewritten in place)."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        pct = f" ({done * 100 // total}%)" if total else ""
        sys.stderr.write(f"\rchecked {done:,} of {total:,} records{pct}")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


@app.command("verify")
def verify(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress counter.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    batch: Annotated[int, typer.Option(min=100, max=1_000_000, help="Records per query.")] = 5000,
    workers: Annotated[
        int,
        typer.Option(min=0, max=64, help="Stretches walked side by side (0: by the cores)."),
    ] = 0,
) -> None:
    """Check every record's hash and link, the head and every checkpoint; exit 1 if broken."""
    from yibao.audit.checkpoints import verification_keys
    from yibao.audit.verify import verify_chain

    settings, db = _db()
    counter = _Counter()
    try:
        report = verify_chain(
            db,
            settings.agency,
            batch=batch,
            progress=None if (quiet or as_json) else counter,
            keys=verification_keys(settings),
            workers=workers or None,
        )
    finally:
        counter.finish()
        db.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif report.ok:
        anchor = f", from the archive at seq {report.anchor_seq}" if report.anchor_seq else ""
        typer.echo(
            f"ok: audit chain of {report.agency} verified: {report.checked:,} records up to seq "
            f"{report.head_seq}{anchor}, {report.checkpoints_checked} checkpoint(s) "
            f"({report.seconds:.2f} s)"
        )
        typer.echo(
            f"审计链完整：已核验 {report.checked:,} 条记录（至第{report.head_seq}条）、"
            f"{report.checkpoints_checked} 个检查点"
        )
        if report.countersigned or report.countersign_pending:
            pending = ", ".join(str(s) for s in report.countersign_pending) or "none"
            typer.echo(
                f"countersigned by partners: {report.countersigned} checkpoint(s); "
                f"awaiting a countersignature: {pending}"
            )
            typer.echo(f"伙伴机构会签：{report.countersigned} 个检查点")
    else:
        typer.echo(report.message, err=True)
        typer.echo(report.message_zh, err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the chain head now (a checkpoint) with this node's key."""
    from yibao.audit.checkpoints import federation_of, make_checkpoint, node_key

    settings, db = _db()
    fed = federation_of(settings)
    try:
        cp = make_checkpoint(db, settings.agency, node_key(settings), federation=fed)
    finally:
        db.dispose()
    typer.echo(f"checkpoint at seq {cp.seq}: {cp.head_hash} (key {cp.key_id})")
    typer.echo(f"已生成检查点：第{cp.seq}条")
    if fed is not None and fed.peers:
        partners = ", ".join(sorted(fed.peers))
        typer.echo(f"queued to {partners} for countersigning (the server's relay delivers it)")
        typer.echo(f"已排队发送至 {partners} 会签")


@app.command("purge")
def purge(
    before: Annotated[str, typer.Option(help="Remove archived records older than YYYY-MM-DD.")],
) -> None:
    """Remove archived records older than the date and the retention period."""
    from yibao.audit import retention
    from yibao.errors import DomainError

    try:
        day = date.fromisoformat(before)
    except ValueError:
        typer.echo(f"--before: not a date as YYYY-MM-DD: {before!r}", err=True)
        raise typer.Exit(2) from None
    settings, db = _db()
    try:
        result = retention.purge(db, settings, before=day)
    except DomainError as exc:
        typer.echo(str(exc), err=True)
        typer.echo("未清理：需要覆盖这些记录的归档和有效的检查点，且记录已超过保存期限", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"removed {result.removed} archived records (seq {result.from_seq}–{result.to_seq})")
