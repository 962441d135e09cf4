"""The node's data keys: which key seals new values, which keys open old ones, the index key.

Keys come from ``YIBAO_DATA_KEY`` (``kid:base64key,...,index:base64key``; the first data key
is current) or ``YIBAO_DATA_KEY_FILE`` (JSON, see docs/sealing.md). With neither, a key file
``<data_dir>/data-keys.json`` (mode 0600) is made on first use: demos, tests and development.

Several nodes can live in one process (tests): every key ever loaded is kept in a process-wide
registry by key id, so a value opens whatever runtime reads it; the key that seals new values
and the index key come from the runtime's own keyring, attached to its engine's dialect.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Dialect, Engine

from yibao.sealing.crypto import KID

log = logging.getLogger(__name__)

KEY_FILE_NAME = "data-keys.json"
RESERVED = {"field", "index"}  # "field": a field laptop's key; "index": the blind-index key

_lock = threading.Lock()
_registry: dict[str, list[bytes]] = {}  # key id -> every key loaded under that id
_by_dialect: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()
_cache: dict[tuple[str, str], Keyring] = {}


class KeyConfigError(ValueError):
    """The data-key configuration is unusable; the message names the variable or file."""


@dataclass(frozen=True)
class Keyring:
    """The keys of one node."""

    current: str
    keys: dict[str, bytes]
    index_key: bytes
    file: Path | None = None  # the key file, when keys come from one
    env: bool = False  # keys come from YIBAO_DATA_KEY
    rotation: dict[str, Any] | None = field(default=None)

    @property
    def current_key(self) -> bytes:
        """The key that seals new values."""
        return self.keys[self.current]


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return secrets.token_bytes(32)


def new_kid(existing: set[str] | None = None) -> str:
    """A fresh key id: the date and some random letters (k20261207-3fa9)."""
    while True:
        kid = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
        if not existing or kid not in existing:
            return kid


def b64(key: bytes) -> str:
    """A key as text for the key file or the environment."""
    return base64.b64encode(key).decode()


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{where}: not base64") from None
    if len(raw) != 32:
        raise KeyConfigError(f"{where}: a key must be 32 bytes (44 base64 characters)")
    return raw


def _kid(kid: str, where: str) -> str:
    if not KID.match(kid) or kid in RESERVED:
        raise KeyConfigError(
            f"{where}: key id {kid!r} must be 1-32 letters, digits, '-' or '_' "
            "(and not 'field' or 'index')"
        )
    return kid


def parse_env(value: str) -> Keyring:
    """``kid:base64,...,index:base64`` (the first data key is current)."""
    where = "YIBAO_DATA_KEY"
    keys: dict[str, bytes] = {}
    order: list[str] = []
    index: bytes | None = None
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, text = part.partition(":")
        if not sep:
            raise KeyConfigError(f"{where}: expected kid:base64key, got an entry without ':'")
        if kid == "index":
            index = _decode(text, f"{where} (index)")
            continue
        kid = _kid(kid, where)
        if kid in keys:
            raise KeyConfigError(f"{where}: key id {kid!r} given twice")
        keys[kid] = _decode(text, f"{where} (key {kid!r})")
        order.append(kid)
    if not order:
        raise KeyConfigError(f"{where}: no data key (expected kid:base64key)")
    if index is None:
        raise KeyConfigError(
            f"{where}: add an 'index:<base64 32-byte key>' entry, the blind-index key "
            "(it never changes on rotation)"
        )
    return Keyring(current=order[0], keys=keys, index_key=index, env=True)


def parse_file_data(data: Any, where: str) -> Keyring:
    """The keyring in a key file's parsed contents."""
    if not isinstance(data, dict):
        raise KeyConfigError(f"{where}: expected an object with 'current', 'keys', 'index_key'")
    raw_keys = data.get("keys")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise KeyConfigError(f"{where}: 'keys' must map key ids to base64 keys")
    keys = {
        _kid(str(k), where): _decode(str(v), f"{where} (key {k!r})") for k, v in raw_keys.items()
    }
    current = data.get("current")
    if current not in keys:
        raise KeyConfigError(f"{where}: 'current' must name one of the keys")
    if "index_key" not in data:
        raise KeyConfigError(f"{where}: 'index_key' (the blind-index key) is missing")
    index = _decode(str(data["index_key"]), f"{where} (index_key)")
    rotation = data.get("rotation")
    return Keyring(
        current=str(current),
        keys=keys,
        index_key=index,
        file=None,
        rotation=rotation if isinstance(rotation, dict) else None,
    )


def read_file(path: Path, where: str | None = None) -> Keyring:
    """The keyring in the key file at ``path`` (JSON, or YAML for .yaml/.yml)."""
    where = where or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyConfigError(f"{where}: cannot read the key file ({exc.strerror})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception:
        raise KeyConfigError(f"{where}: not valid JSON/YAML") from None
    ring = parse_file_data(data, where)
    return Keyring(
        current=ring.current,
        keys=ring.keys,
        index_key=ring.index_key,
        file=path,
        rotation=ring.rotation,
    )


def file_data(ring: Keyring) -> dict[str, Any]:
    """What the key file of ``ring`` holds."""
    data: dict[str, Any] = {
        "current": ring.current,
        "keys": {kid: b64(k) for kid, k in ring.keys.items()},
        "index_key": b64(ring.index_key),
    }
    if ring.rotation:
        data["rotation"] = ring.rotation
    return data


def write_file(path: Path, ring: Keyring) -> None:
    """Write the key file atomically (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(file_data(ring), fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _create_default(path: Path) -> None:
    """Make a fresh key file unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kid = new_kid()
    ring = Keyring(current=kid, keys={kid: new_key()}, index_key=new_key())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(file_data(ring), fh, indent=2)
        fh.write("\n")
    log.info("created the data key file %s", path)


def register(ring: Keyring) -> None:
    """Remember every key of ``ring`` in the process-wide registry."""
    with _lock:
        for kid, key in ring.keys.items():
            known = _registry.setdefault(kid, [])
            if key not in known:
                known.append(key)


def keys_for(kid: str) -> list[bytes]:
    """Every loaded key with this id (usually one)."""
    with _lock:
        return list(_registry.get(kid, ()))


def source(settings: Any) -> tuple[str, str]:
    """Where ``settings`` take their keys from: ("env", value) or ("file", path)."""
    if settings.data_key:
        return ("env", settings.data_key)
    if settings.data_key_file:
        return ("file", str(Path(settings.data_key_file).expanduser().resolve()))
    return ("file", str((Path(settings.data_dir) / KEY_FILE_NAME).resolve()))


def load(settings: Any, *, fresh: bool = False) -> Keyring:
    """The keyring of ``settings`` (cached per source; ``fresh`` re-reads the key file)."""
    kind, where = source(settings)
    with _lock:
        cached = None if fresh else _cache.get((kind, where))
    if cached is not None:
        return cached
    if kind == "env":
        ring = parse_env(where)
    else:
        path = Path(where)
        if not settings.data_key_file and not path.exists():
            _create_default(path)
        label = "YIBAO_DATA_KEY_FILE" if settings.data_key_file else None
        ring = read_file(path, f"{label} ({path})" if label else None)
    register(ring)
    with _lock:
        _cache[(kind, where)] = ring
        if ring.file is not None:
            _mtimes[ring.file] = _mtime(ring.file)
    return ring


def remember(ring: Keyring) -> None:
    """After the key file changed (rotation): cache and register the new keyring."""
    register(ring)
    if ring.file is not None:
        with _lock:
            _mtimes[ring.file] = _mtime(ring.file)
            for k, cached in list(_cache.items()):
                if cached.file == ring.file:
                    _cache[k] = ring
            for dialect, attached in list(_by_dialect.items()):
                if attached.file == ring.file:
                    _by_dialect[dialect] = ring


REFRESH_SECONDS = 10.0
_checked_at = 0.0
_mtimes: dict[Path, float] = {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def refresh(*, force: bool = False) -> None:
    """Re-read key files that changed (a rotation elsewhere); at most every few seconds.

    A running server thus starts sealing under a rotation's new key, and opens values already
    re-sealed under it, without a restart.
    """
    global _checked_at
    now = time.monotonic()
    with _lock:
        if not force and now - _checked_at < REFRESH_SECONDS:
            return
        _checked_at = now
        files = {r.file for r in _cache.values() if r.file is not None}
    for path in files:
        mtime = _mtime(path)
        with _lock:
            seen = _mtimes.setdefault(path, mtime)
        if mtime == seen:
            continue
        try:
            ring = read_file(path)
        except KeyConfigError as exc:
            log.error("the key file changed but cannot be read: %s", exc)
            continue
        register(ring)
        with _lock:
            _mtimes[path] = mtime
            for k, cached in list(_cache.items()):
                if cached.file == path:
                    _cache[k] = ring
            for dialect, attached in list(_by_dialect.items()):
                if attached.file == path:
                    _by_dialect[dialect] = ring


def attach(engine: Engine, ring: Keyring) -> None:
    """Seal what is written through ``engine`` with ``ring`` (and digest with its index key)."""
    register(ring)
    with _lock:
        _by_dialect[engine.dialect] = ring


def for_dialect(dialect: Dialect) -> Keyring:
    """The keyring attached to this engine's dialect, else that of the process settings."""
    refresh()
    with _lock:
        ring = _by_dialect.get(dialect)
    if ring is not None:
        return ring
    from yibao.config import get_settings

    return load(get_settings())
