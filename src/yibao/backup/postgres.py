"""PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore``, started here with libpq's variables.

The connection parameters come from the SQLAlchemy URL and reach the tools as ``PG*`` variables
(the password as ``PGPASSWORD``, never on a command line that ``ps`` shows). The dump runs in a
snapshot exported by a transaction that also counts the rows, so the counts printed are the
counts of the archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from yibao.backup.service import BackupError, Refused, Summary, count_rows

CONNECT_TIMEOUT = "10"
# URL query parameters that libpq also reads from the environment.
LIBPQ_QUERY = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
}


def libpq_env(url: str) -> dict[str, str]:
    """The ``PG*`` variables that make pg_dump and pg_restore connect where ``url`` does."""
    u = make_url(url)
    if not u.database:
        raise BackupError("the PostgreSQL URL names no database")
    env = {"PGCONNECT_TIMEOUT": CONNECT_TIMEOUT}
    for key, var in LIBPQ_QUERY.items():
        value = u.query.get(key)
        if isinstance(value, tuple):
            value = value[-1] if value else None
        if value:
            env[var] = str(value)
    if u.host:
        env["PGHOST"] = u.host
    if u.port:
        env["PGPORT"] = str(u.port)
    if u.username:
        env["PGUSER"] = u.username
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    env["PGDATABASE"] = u.database
    return env


def dbname_arg(name: str) -> str:
    """``--dbname`` as a conninfo string: a name holding ``=`` is not read as parameters."""
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"--dbname=dbname='{quoted}'"


def tool(name: str) -> str:
    """The path of a PostgreSQL client program."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client programs "
            "(e.g. the postgresql-client package, of the server's major version)"
        )
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(
            args, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise BackupError(f"cannot start {args[0]}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(
            f"{what} failed (exit status {done.returncode}): " + "\n".join(lines[-6:] or ["?"])
        )
    return done.stdout


def _engine(url: str) -> Engine:
    return create_engine(
        url,
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={"connect_timeout": int(CONNECT_TIMEOUT)},
    )


def _unreachable(url: str, exc: DBAPIError) -> BackupError:
    safe = make_url(url).render_as_string(hide_password=True)
    first = (str(exc.orig).strip().splitlines() or ["?"])[0]
    return BackupError(f"cannot reach the database {safe}: {first}")


def _tables(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        ).scalars()
    )


def _summary(conn: Connection, path: Path) -> Summary:
    summary = Summary(backend="postgresql", path=path, size=0)
    count_rows(_tables(conn), lambda sql: conn.execute(text(sql)).scalar_one(), summary)
    return summary


def backup(url: str, partial: Path) -> Summary:
    """``pg_dump --format=custom`` of the database at ``url`` into ``partial``."""
    pg_dump = tool("pg_dump")
    env = libpq_env(url)
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                summary = _summary(conn, partial)
                # The snapshot lives as long as this transaction: pg_dump runs inside it.
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-password",
                        f"--snapshot={snapshot}",
                        f"--file={partial}",
                        dbname_arg(env["PGDATABASE"]),
                    ],
                    env,
                    "pg_dump",
                )
    except DBAPIError as exc:
        raise _unreachable(url, exc) from exc
    finally:
        engine.dispose()
    return summary


def restore(source: Path, url: str, *, force: bool) -> Summary:
    """``pg_restore`` of the archive ``source`` into the database at ``url``."""
    pg_restore = tool("pg_restore")
    env = libpq_env(url)
    listing = _run([pg_restore, "--list", str(source.resolve())], env, "pg_restore --list")
    if not any(
        line.split()[3:6] == ["TABLE", "public", "alembic_version"] for line in listing.splitlines()
    ):
        raise BackupError(f"{source} is a pg_dump archive, but not of a yibao database")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            tables = _tables(conn)
        if tables and not force:
            raise Refused(
                f"the database {env['PGDATABASE']} already has {len(tables)} tables; refusing to "
                "restore over it. Restore into a new empty database, or stop the server and give "
                "--force (every object in the backup is dropped and made again)"
            )
        args = [
            pg_restore,
            "--no-owner",
            "--single-transaction",  # a failed restore leaves the database as it was
            "--exit-on-error",
            "--no-password",
            dbname_arg(env["PGDATABASE"]),
        ]
        if tables:
            args += ["--clean", "--if-exists"]
        _run([*args, str(source.resolve())], env, "pg_restore")
        with engine.connect() as conn:
            summary = _summary(conn, source)
            summary.size = int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    except DBAPIError as exc:
        raise _unreachable(url, exc) from exc
    finally:
        engine.dispose()
    return summary
