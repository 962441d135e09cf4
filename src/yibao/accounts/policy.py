"""The sign-in policy an admin chooses: which roles must use a second factor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from yibao.accounts.models import SignInPolicy
from yibao.accounts.rules import Role
from yibao.errors import ValidationFailed


def parse_roles(text: str, *, field: str = "mfa_roles") -> frozenset[Role]:
    """Roles from a comma-separated list (the setting's and the stored form)."""
    roles: set[Role] = set()
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            raise ValidationFailed.single(
                field, f"unknown role '{name}'", f"未知的角色“{name}”"
            ) from None
    return frozenset(roles)


def _text(roles: frozenset[Role]) -> str:
    return ",".join(r.value for r in Role if r in roles)


def mfa_roles(session: Session, *, agency: str, default: str) -> frozenset[Role]:
    """The roles that must sign in with a second factor (the admin's choice, else the setting)."""
    row = session.get(SignInPolicy, agency)
    return parse_roles(row.mfa_roles if row is not None else default)


def set_mfa_roles(
    session: Session, *, agency: str, roles: frozenset[Role], by: str, now: datetime
) -> tuple[frozenset[Role] | None, frozenset[Role]]:
    """Store the admin's choice; returns (the stored one before, or None, and the new one)."""
    row = session.get(SignInPolicy, agency)
    before = parse_roles(row.mfa_roles) if row is not None else None
    if row is None:
        row = SignInPolicy(agency=agency)
        session.add(row)
    row.mfa_roles = _text(roles)
    row.updated_at = now
    row.updated_by = by
    session.flush()
    return before, roles
