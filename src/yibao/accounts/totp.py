"""The second factor: an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

The shared secret is sealed at rest (``UserTotp.secret``); a code is accepted once (the time
step of the last accepted code is kept) within one step either side of the node's clock.
Recovery codes are random, shown once, and stored as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from yibao.accounts.models import RecoveryCode, User, UserTotp

ISSUER = "yibao 医保"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# An unconfirmed secret (QR code shown, no code typed yet) is kept this long for a reload.
PENDING_FOR = timedelta(hours=1)
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper


def confirmed(session: Session, user_id: int) -> UserTotp | None:
    """The user's authenticator when enrolment finished."""
    row = session.get(UserTotp, user_id)
    return row if row is not None and row.confirmed_at is not None else None


def pending_secret(session: Session, *, user: User, now: datetime) -> tuple[str, bool]:
    """The secret to show while enrolling and whether it is new (else the one shown a moment
    ago, so a reload shows the same QR code)."""
    row = session.get(UserTotp, user.id)
    if row is not None and row.confirmed_at is None and now - row.created_at < PENDING_FOR:
        return row.secret, False
    if row is not None and row.confirmed_at is not None:
        raise ValueError("already enrolled")
    secret = pyotp.random_base32()
    if row is None:
        session.add(UserTotp(user_id=user.id, agency=user.agency, secret=secret, created_at=now))
    else:
        row.secret = secret
        row.created_at = now
        row.last_step = 0
    session.flush()
    return secret, True


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address the QR code carries."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=f"{user.username}@{user.agency}", issuer_name=ISSUER
    )


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.strip().lower() if ch.isalnum())


def _step_of(secret: str, code: str, now: datetime, after: int) -> int | None:
    """The time step (later than ``after``) whose code is ``code``, one step of drift allowed."""
    digits = _normalise(code)
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current, current - 1, current + 1):
        if step > after and hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def confirm(session: Session, *, user: User, code: str, now: datetime) -> list[str] | None:
    """Finish enrolment with a first code; returns the new recovery codes (None: wrong code)."""
    row = session.get(UserTotp, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    step = _step_of(row.secret, code, now, row.last_step)
    if step is None:
        return None
    row.confirmed_at = now
    row.last_step = step
    return new_recovery_codes(session, user=user)


def check(session: Session, *, user: User, code: str, now: datetime) -> str | None:
    """Whether ``code`` is a valid second factor now: ``"totp"``, ``"recovery"`` or None.

    An accepted code is used up (its time step, or the recovery code).
    """
    row = confirmed(session, user.id)
    if row is None or not code:
        return None
    step = _step_of(row.secret, code, now, row.last_step)
    if step is not None:
        # Guarded update: of two workers accepting the same code at once, only one wins.
        won = session.execute(
            update(UserTotp)
            .where(UserTotp.user_id == user.id, UserTotp.last_step < step)
            .values(last_step=step)
        )
        session.expire(row)
        return "totp" if getattr(won, "rowcount", 1) else None
    digest = hashlib.sha256(_normalise(code).encode()).hexdigest()
    found = session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None:
        return None
    used = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == found, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    return "recovery" if getattr(used, "rowcount", 1) else None


def new_recovery_codes(session: Session, *, user: User) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODES`` new ones (shown once)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(
            RecoveryCode(
                agency=user.agency,
                user_id=user.id,
                code_hash=hashlib.sha256(raw.encode()).hexdigest(),
            )
        )
    session.flush()
    return codes


def recovery_codes_left(session: Session, user_id: int) -> int:
    """How many recovery codes are still unused."""
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def remove(session: Session, *, user_id: int) -> bool:
    """Forget the authenticator and the recovery codes; False when there was none."""
    had = session.get(UserTotp, user_id) is not None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.execute(delete(UserTotp).where(UserTotp.user_id == user_id))
    return had
