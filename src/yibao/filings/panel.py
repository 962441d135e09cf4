"""When a case page shows the applicant's filings (the 异地就医备案 panel). Pure.

The panel helps where a filing changes what the clerk does: on the 备案 item itself, on the
items that pay for treatment elsewhere (a 零星报销 of care outside the pooling region is paid
only with a filing, or at a lower rate without one), and whenever the person holds a filing in
force (the clerk sees it before promising anything). A certificate or an enrolment of a person
with no filing in force shows nothing: the panel would only be noise there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from yibao.filings.rules import State

# The 备案 item and the reimbursements of treatment elsewhere (catalogue codes).
FILING_ITEMS: frozenset[str] = frozenset(
    {
        "remote_care_filing",
        "outpatient_reimbursement_small",
        "outpatient_reimbursement",
        "inpatient_reimbursement",
    }
)


def in_force(state: str, end_date: date | None, today: date) -> bool:
    """Whether a filing record holds today (active, and not past its end)."""
    return state == State.ACTIVE.value and (end_date is None or end_date >= today)


def shows_panel(service_code: str, filings: Iterable[tuple[str, date | None]], today: date) -> bool:
    """Whether the case page shows the panel, given the person's (state, end date) records."""
    return service_code in FILING_ITEMS or any(in_force(s, end, today) for s, end in filings)
