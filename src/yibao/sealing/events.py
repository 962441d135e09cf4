"""Blind-index columns kept in step with the sealed numbers they digest (ORM inserts/updates)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from yibao.sealing import blind
from yibao.sealing.types import digest

FULL_ID = re.compile(r"^\d{17}[\dXx]$")


def _changed(target: Any, name: str) -> bool:
    state = inspect(target)
    return bool(state.attrs[name].history.has_changes())


def case_id_key(_mapper: Any, connection: Connection, target: Any) -> None:
    """``cases.applicant_id_key``: the keyed digest of a full ID number (None for a masked one)."""
    if target.applicant_id_key is not None and not _changed(target, "applicant_id_number"):
        return
    number = target.applicant_id_number or ""
    target.applicant_id_key = digest(connection.dialect, number) if FULL_ID.match(number) else None


def filing_person_key(_mapper: Any, connection: Connection, target: Any) -> None:
    """``filings.person_key``: stored (and kept in memory) as the keyed digest."""
    key = target.person_key
    if key is not None and not blind.is_digest(key):
        target.person_key = digest(connection.dialect, key)
