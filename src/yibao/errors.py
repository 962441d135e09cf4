"""Domain errors: each carries a stable code and data; adapters map them to HTTP or HTML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (dotted path, e.g. ``applicant.id_number``)."""

    field: str
    message: str
    message_zh: str = ""  # shown in the Chinese UI; the API sends it as ``message_zh``


class DomainError(Exception):
    """Base of every error a use case may raise on purpose."""

    code = "error"
    title = "Request failed"

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class ValidationFailed(DomainError):
    """Input is malformed or breaks a rule; lists every offending field."""

    code = "validation"
    title = "Invalid input"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str, message_zh: str = "") -> ValidationFailed:
        """A validation error for one field."""
        return cls([FieldError(field, message, message_zh)])


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know that it exists."""

    code = "not_found"
    title = "Not found"


class NotAuthenticated(DomainError):
    """No valid credentials."""

    code = "not_authenticated"
    title = "Authentication required"


class Forbidden(DomainError):
    """The actor is known but may not do this."""

    code = "forbidden"
    title = "Forbidden"


class SecondFactorRequired(NotAuthenticated):
    """The password was right; a code from the authenticator (or a recovery code) is needed."""

    code = "second_factor_required"
    title = "Second factor required"


class SecondFactorEnrolmentRequired(Forbidden):
    """The role must sign in with a second factor and this account has none yet."""

    code = "second_factor_enrolment_required"
    title = "Second factor enrolment required"


class RateLimited(DomainError):
    """Too many requests from one client."""

    code = "rate_limited"
    title = "Too many requests"


class Conflict(DomainError):
    """The resource changed since the client read it (stale version)."""

    code = "conflict"
    title = "Conflict"


class ActionNotAllowed(DomainError):
    """The lifecycle does not allow this action now; ``allowed`` lists what it does allow."""

    code = "action_not_allowed"
    title = "Action not allowed"

    def __init__(self, detail: str, *, allowed: list[str], **data: Any) -> None:
        super().__init__(detail, allowed=allowed, **data)
        self.allowed = allowed
