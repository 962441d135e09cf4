"""Query parameter types shared by the JSON routers."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    # Pydantic's lax mode reads "0" or 1700000000 as a Unix time; the documented format is
    # a calendar date, and a number in a date filter is a client's mistake worth a 422.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, date):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A date given as ``YYYY-MM-DD`` (format ``date`` in the OpenAPI document), nothing else."""
