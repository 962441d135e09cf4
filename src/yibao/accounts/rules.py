"""Roles and what each may see (DESIGN.md section 2). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Staff roles; admin, auditor and the case roles are separated (等保三员分立)."""

    CLERK = "clerk"
    STATION_MASTER = "station_master"
    BUREAU_OFFICER = "bureau_officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


# Roles bound to one station: they see that station's cases and those forwarded to it.
STATION_ROLES: frozenset[Role] = frozenset({Role.CLERK, Role.STATION_MASTER})
# Roles that see every case of the agency.
AGENCY_ROLES: frozenset[Role] = frozenset({Role.BUREAU_OFFICER, Role.SUPERVISOR})
# Roles that may read case data at all; auditor and admin see none.
CASE_ROLES: frozenset[Role] = STATION_ROLES | AGENCY_ROLES
# Roles that may read a full ID number (an audited read).
FULL_ID_ROLES: frozenset[Role] = frozenset({Role.STATION_MASTER, Role.BUREAU_OFFICER})


@dataclass(frozen=True)
class Actor:
    """The signed-in person as the use cases see them."""

    id: int
    username: str
    display_name: str
    role: Role
    unit: str | None  # station code; bureau officers belong to the bureau hall
    agency: str
    ip: str | None = None

    @property
    def sees_cases(self) -> bool:
        """Whether this role may read case data at all."""
        return self.role in CASE_ROLES

    @property
    def agency_wide(self) -> bool:
        """Whether this role sees every case of the agency."""
        return self.role in AGENCY_ROLES
