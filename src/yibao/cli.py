"""The ``yibao`` command line."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from yibao.audit import cli as audit_cli
from yibao.backup import cli as backup_cli
from yibao.config import Settings, get_settings
from yibao.filings import cli as filings_cli
from yibao.sealing import cli as sealing_cli

app = typer.Typer(
    help="yibao — case tracker for medical-insurance service stations.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
calendar_app = typer.Typer(help="Official working-day calendars.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(calendar_app, name="calendar")
federation_app = typer.Typer(
    help="Cross-region transfers between agencies' nodes.", no_args_is_help=True
)
app.add_typer(federation_app, name="federation")
field_app = typer.Typer(
    help="Field mode: a mobile team's laptop that works offline.", no_args_is_help=True
)
app.add_typer(field_app, name="field")
app.add_typer(filings_cli.app, name="filings")
app.add_typer(sealing_cli.app, name="keys")
app.add_typer(audit_cli.app, name="audit")
backup_cli.register(app)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to YIBAO_DATABASE_URL (default: an SQLite file in the data directory)."""
    from yibao.migrate import upgrade

    url = get_settings().resolved_database_url()
    upgrade(url, revision)
    typer.echo(f"database at {revision}: {_safe_url(url)}")


@app.command("init")
def init() -> None:
    """Load reference data (catalogue, stations, towns, calendar) for YIBAO_AGENCY."""
    from yibao.bootstrap import init_reference

    settings = get_settings()
    try:
        counts = init_reference(settings)
    except ValueError as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"agency {settings.agency}: {counts['services']} services, {counts['stations']} stations, "
        f"{counts['towns']} towns, calendar years {counts['calendar_years']}"
    )


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="username")],
    role: Annotated[
        str,
        typer.Option(help="clerk | station_master | bureau_officer | supervisor | auditor | admin"),
    ],
    station: Annotated[
        str | None, typer.Option(help="station code (clerk, station master)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    display_name: Annotated[str, typer.Option(help="name shown in timelines")] = "",
) -> None:
    """Create a staff account."""
    from yibao.accounts.service import create_user
    from yibao.db import Database
    from yibao.errors import ValidationFailed

    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        with db.uow() as uow:
            user = create_user(
                uow.session,
                agency=settings.agency,
                username=name,
                role=role,
                password=password,
                station=station,
                display_name=display_name,
            )
            uow.commit()
            typer.echo(
                f"created {user.username} ({user.role}"
                f"{', ' + user.station_code if user.station_code else ''})"
            )
    except ValidationFailed as exc:
        _fail("\n".join(f"{e.field}: {e.message}" for e in exc.errors))
    finally:
        db.dispose()


@calendar_app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import the official schedule of one year (format: docs/calendar.md)."""
    # The import recounts open cases: every mapped table must be known for their foreign keys.
    import yibao.models  # noqa: F401
    from yibao.calendar.imports import import_schedule
    from yibao.calendar.schedule_file import parse_schedule
    from yibao.db import Database
    from yibao.errors import ValidationFailed
    from yibao.runtime import Runtime

    try:
        schedule = parse_schedule(file.read_text("utf-8-sig"))
    except UnicodeDecodeError:
        _fail(f"{file}: not UTF-8 text")
        return
    except ValidationFailed as exc:
        _fail("\n".join(f"{file}: {e.field}: {e.message}" for e in exc.errors))
        return
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        with db.uow() as uow:
            outcome = import_schedule(
                uow,
                runtime=Runtime(settings, db),
                schedule=schedule,
                actor_id=None,
                actor_name="yibao calendar import",
                actor_role="system",
                agency=settings.agency,
            )
    finally:
        db.dispose()
    typer.echo(
        f"imported {schedule.year}: {len(schedule.holidays)} days off, "
        f"{len(schedule.workdays)} make-up working days; "
        f"{outcome.recomputed} open cases' due dates recomputed"
    )


@calendar_app.command("status")
def calendar_status() -> None:
    """Which years have an official schedule; exit 1 while next year's is missing from 1 Nov."""
    from datetime import date

    from yibao.calendar.service import load_calendar
    from yibao.calendar.status import missing_schedule_year
    from yibao.db import Database
    from yibao.runtime import Runtime

    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        with db.session() as session:
            calendar = load_calendar(session)
        # YIBAO_TODAY fixes "today" as for the demo (monitoring checks can be tried ahead).
        runtime = Runtime(settings, db)
        today = date.fromisoformat(settings.today) if settings.today else runtime.today()
    finally:
        db.dispose()
    typer.echo(f"today: {today.isoformat()}")
    typer.echo(f"official schedules: {_year_spans(calendar.official_years()) or 'none'}")
    missing = missing_schedule_year(calendar, today)
    if missing is not None:
        typer.echo(
            f"warning: the official holiday schedule of {missing} has not been imported; "
            f"due dates in {missing} are estimated (statutory holidays only, no make-up "
            "working days). Import it with: yibao calendar import FILE",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo("ok: the schedules of this year and, from 1 November, next year are on record")


def _year_spans(years: list[int]) -> str:
    spans: list[list[int]] = []
    for y in years:
        if spans and spans[-1][1] == y - 1:
            spans[-1][1] = y
        else:
            spans.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@federation_app.command("keygen")
def federation_keygen(
    agency: Annotated[str, typer.Option(help="this node's agency (division code)")],
    out: Annotated[Path, typer.Option(help="folder for AGENCY.key and AGENCY.pub")] = Path("keys"),
) -> None:
    """Make this node's Ed25519 signing key; give the .pub file to each partner agency."""
    from yibao.transfers.peers import generate_keypair

    out.mkdir(parents=True, exist_ok=True)
    key, pub = out / f"{agency}.key", out / f"{agency}.pub"
    if key.exists():
        _fail(f"{key} exists; refusing to overwrite a signing key")
    private, public = generate_keypair()
    key.write_bytes(private)
    key.chmod(0o600)
    pub.write_bytes(public)
    typer.echo(f"wrote {key} (keep it secret) and {pub} (send it to the partners)")


@federation_app.command("demo")
def federation_demo(
    data_dir: Annotated[Path, typer.Option(help="where the three nodes live")] = Path(
        "var/federation"
    ),
    base_port: int = 8101,
) -> None:
    """Start Yongchuan, Jiangjin and Luzhou nodes and run a 泸永江 transfer between them."""
    import shutil
    import signal
    import time as _time

    from yibao.transfers import demo as fd

    def _stop(*_args: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too stops the three nodes, not only Ctrl-C

    signal.signal(signal.SIGTERM, _stop)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    codes = list(fd.AGENCIES)
    ports = {code: base_port + i for i, code in enumerate(codes)}
    typer.echo("preparing three nodes (keys, peers, databases, users)…")
    nodes = fd.prepare(data_dir, ports)
    try:
        for node in nodes.values():
            fd.start(node)
            typer.echo(f"  {node.agency} {fd.AGENCIES[node.agency]:<3} {node.url}")
        yc, jj, lz = (fd.Officer(nodes[c]) for c in ("500118", "500116", "510500"))
        typer.echo("\n泸州 → 永川 (the person now lives in Yongchuan and applies there):")
        fd.run_transfer(yc, lz, 1, say=lambda m: typer.echo("  " + m))
        typer.echo("\n永川 → 江津:")
        fd.run_transfer(jj, yc, 2, say=lambda m: typer.echo("  " + m))
        typer.echo(
            f"\nWatch them: sign in as officer / {fd.PASSWORD} on any node, open /transfers "
            "(or GET /api/v1/transfers with a token). Ctrl-C stops the nodes."
        )
        while True:
            _time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for node in nodes.values():
            fd.stop(node)


@field_app.command("init")
def field_init(
    central: Annotated[str, typer.Option(help="the central node's URL")],
    username: Annotated[str, typer.Option(help="your account on the central node")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    label: Annotated[str, typer.Option(help="a name for this laptop")] = "",
) -> None:
    """Set this laptop up: register it centrally and download what the day needs."""
    from yibao.field.laptop import FieldError, init

    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        info = init(
            get_settings(), central_url=central, username=username, password=password, label=label
        )
    except FieldError as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"laptop {info['device_id']} set up for station {info['station']}: "
        f"{info['services']} services, {info['waiting_cases']} cases waiting for materials"
    )
    typer.echo("start it with: yibao serve   (works without a network; sync when back)")


@field_app.command("sync")
def field_sync(password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False) -> None:
    """Send the records taken offline; each stays on the laptop until acknowledged."""
    from yibao.db import Database
    from yibao.field.laptop import FieldError, SyncBusy, counts, sync_once, unlock

    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    from yibao.runtime import Runtime

    runtime = Runtime(settings, db)
    try:
        if not unlock(db, password):
            _fail("wrong password (or not a field laptop)")
        before = counts(db).get("pending", 0)
        typer.echo(f"{before} records to send…")
        try:
            p = sync_once(runtime, on_batch=lambda n: typer.echo(f"  sent {n}"))
        except SyncBusy as exc:
            _fail(str(exc))
            return
        except FieldError as exc:
            _fail(f"sync stopped: {exc} (run it again: nothing is lost or doubled)")
            return
        typer.echo(
            f"acknowledged {p.acked}, refused {p.quarantined} (kept on the laptop), "
            f"conflicts {p.conflicts}; waiting now: {counts(db).get('pending', 0)}"
        )
    finally:
        db.dispose()


@field_app.command("refresh")
def field_refresh(
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Fetch a fresh bundle and renew the 30-day device token; queued records stay as they are."""
    from yibao.db import Database
    from yibao.field.laptop import FieldError
    from yibao.field.refresh import refresh

    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    db = Database(settings.resolved_database_url())
    try:
        info = refresh(db, agency=settings.agency, password=password)
    except FieldError as exc:
        _fail(f"refresh stopped: {exc} (nothing on the laptop was changed)")
        return
    finally:
        db.dispose()
    typer.echo(
        f"refreshed: {info['services']} services, {info['visits']} visits, "
        f"{info['new_waiting_cases']} new cases waiting for materials, "
        f"{info['updated_cases']} brought up to date; device token renewed for 30 days"
    )


@field_app.command("status")
def field_status() -> None:
    """What waits to be synced, and when the last sync succeeded."""
    from yibao.db import Database
    from yibao.field.laptop import counts, state

    db = Database(get_settings().resolved_database_url())
    try:
        st = state(db)
        if st is None:
            _fail("not a field laptop")
            return
        c = counts(db)
        typer.echo(
            f"central {st.central_url} · pending {c.get('pending', 0)} · "
            f"refused {c.get('quarantined', 0)} · conflicts {c.get('conflict', 0)} · "
            f"last sync {st.last_sync_at or 'never'}{' · REVOKED' if st.revoked else ''}"
        )
    finally:
        db.dispose()


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the HTTP API (and pages)."""
    import uvicorn

    from yibao.config import MIN_SECRET_LENGTH, weak_secret
    from yibao.web.access_log import uvicorn_log_config

    if weak_secret(get_settings().secret_key):
        typer.echo(
            f"YIBAO_SECRET_KEY is the built-in default or shorter than {MIN_SECRET_LENGTH} "
            "characters: set a random key, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.\n"
            f"YIBAO_SECRET_KEY 是内置默认值或少于 {MIN_SECRET_LENGTH} 个字符："
            "请设置一个随机密钥后再启动。",
            err=True,
        )
        raise typer.Exit(2)
    # The access log never shows a citizen's ID tail (workers configure logging from this).
    log_config = uvicorn_log_config()
    if workers > 1:
        uvicorn.run(
            "yibao.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            log_config=log_config,
        )
    else:
        from yibao.web.app import create_app

        uvicorn.run(create_app(), host=host, port=port, log_level="info", log_config=log_config)


@app.command("demo")
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Annotated[Path, typer.Option(help="where the demo database lives")] = Path(
        "var/demo"
    ),
    cases: Annotated[int, typer.Option(help="how many past cases to generate")] = 4000,
    fresh: Annotated[bool, typer.Option(help="start from an empty database")] = True,
) -> None:
    """Migrate, load Yongchuan reference data, demo users and past cases, then serve."""
    import uvicorn

    from yibao.bootstrap import init_reference
    from yibao.demo.generate import DEMO_PASSWORD, DEMO_USERS, generate
    from yibao.migrate import upgrade
    from yibao.web.app import create_app

    data_dir.mkdir(parents=True, exist_ok=True)
    db_file = data_dir / "yibao.sqlite3"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    # A fresh key per demo run: tokens and sessions of an earlier run stop working.
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{db_file.resolve()}",
        secret_key=secrets.token_urlsafe(32),
    )
    upgrade(settings.resolved_database_url())
    init_reference(settings)
    work: dict[str, int] = {}
    made = generate(settings, cases=cases, report=work)
    url = f"http://{host}:{port}"
    typer.echo(f"\nyibao demo — {made} past cases for Yongchuan (500118) in {db_file}")
    if work:
        typer.echo(
            "  station work: "
            + ", ".join(f"{label} {n}" for label, n in work.items())
            + " (menu 站务工作)"
        )
    typer.echo(f"  workbench:    {url}/")
    typer.echo(f"  API docs:     {url}/docs")
    typer.echo(f"  citizen page: {url}/public/")
    from yibao.accounts.policy import parse_roles

    second = {r.value for r in parse_roles(settings.mfa_required_roles)}
    typer.echo(f"  logins (password for all: {DEMO_PASSWORD}):")
    for username, role, station in DEMO_USERS:
        note = "  + authenticator app (set up at the first sign-in)" if role in second else ""
        typer.echo(f"    {username:<12} {role:<15} {station or '':<6}{note}")
    typer.echo(f"\nServing on {url}  (Ctrl-C to stop)\n")
    from yibao.web.access_log import uvicorn_log_config

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        log_config=uvicorn_log_config(),
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
