"""Key configuration: env keys, key files, clear startup errors, several nodes in one process."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select, text

from yibao.config import Settings
from yibao.sealing import keys
from yibao.sealing.types import LOCKED, Sealed


def _b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_bad_env_key_is_a_startup_error_naming_the_variable() -> None:
    secret = "k1:" + base64.b64encode(os.urandom(31)).decode()
    with pytest.raises(ValidationError) as err:
        Settings(data_key=secret)
    assert "YIBAO_DATA_KEY" in str(err.value) and "32 bytes" in str(err.value)
    assert secret not in str(err.value)  # the key itself is never echoed
    with pytest.raises(ValidationError) as err:
        Settings(data_key=f"k1:{_b64()}")
    assert "index:" in str(err.value)


def test_a_missing_or_bad_key_file_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(data_key_file=str(tmp_path / "nope.json"))
    assert "YIBAO_DATA_KEY_FILE" in str(err.value)
    bad = tmp_path / "keys.json"
    bad.write_text(json.dumps({"current": "a", "keys": {"a": _b64()}}))
    with pytest.raises(ValidationError) as err:
        Settings(data_key_file=str(bad))
    assert "index_key" in str(err.value)


def test_without_configuration_a_private_key_file_is_made(tmp_path: Path) -> None:
    ring = keys.load(Settings(data_dir=tmp_path))
    path = tmp_path / keys.KEY_FILE_NAME
    assert ring.file == path.resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["current"] == ring.current and data["current"] in data["keys"]
    assert keys.load(Settings(data_dir=tmp_path), fresh=True).keys == ring.keys  # stable


def test_env_keys_first_is_current() -> None:
    ring = keys.parse_env(f"new1:{_b64()},old1:{_b64()},index:{_b64()}")
    assert ring.current == "new1" and set(ring.keys) == {"new1", "old1"}


def _sealed_table(meta: MetaData) -> Table:
    return Table("t", meta, Column("id", String(4), primary_key=True), Column("v", Sealed("t.v")))


def test_each_engine_seals_with_its_own_node_key_and_any_loaded_key_opens(
    tmp_path: Path,
) -> None:
    a = keys.load(Settings(data_dir=tmp_path / "a"))
    b = keys.load(Settings(data_dir=tmp_path / "b"))
    db_file = tmp_path / "shared.sqlite3"
    ea, eb = create_engine(f"sqlite:///{db_file}"), create_engine(f"sqlite:///{db_file}")
    keys.attach(ea, a)
    keys.attach(eb, b)
    t = _sealed_table(MetaData())
    t.metadata.create_all(ea)
    with ea.begin() as c:
        c.execute(insert(t), [{"id": "a", "v": "13800138000"}])
    with eb.begin() as c:
        c.execute(insert(t), [{"id": "b", "v": "13900139000"}])
    with ea.connect() as c:
        raw = dict(c.execute(text("SELECT id, v FROM t")).all())
        opened = dict(c.execute(select(t.c.id, t.c.v)).all())
    assert raw["a"].startswith(f"enc2:{a.current}:") and raw["b"].startswith(f"enc2:{b.current}:")
    assert opened == {"a": "13800138000", "b": "13900139000"}
    # A value under a key id nobody loaded shows locked rather than failing the page.
    with ea.begin() as c:
        c.execute(text("UPDATE t SET v = :v WHERE id = 'a'"), {"v": "enc2:gone:" + "A" * 64})
    with eb.connect() as c:
        assert c.execute(select(t.c.v).where(t.c.id == "a")).scalar_one() == LOCKED
    ea.dispose()
    eb.dispose()
