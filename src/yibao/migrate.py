"""Schema migrations (Alembic) driven from code, so ``yibao db upgrade`` needs no ini file."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from yibao.db import make_engine


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` using the migrations shipped in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", "yibao:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
