"""How report pages and the workbook show measures: labels, columns and number formats."""

from __future__ import annotations

from collections.abc import Callable

from yibao.reports.measures import Measures
from yibao.reports.overview import Overview, StationRow
from yibao.reports.period import Period
from yibao.web.templating import register_filter

# English msgids; Chinese in i18n/zh_CN/reports.po.
KIND_LABELS: dict[str, str] = {
    "bureau": "Bureau hall",
    "fixed": "Fixed station",
    "town": "Town station",
    "village": "Village station",
    "mobile": "Mobile station",
}

# The overview's columns, shared by the page and the workbook so the two cannot drift apart.
OVERVIEW_COLUMNS: list[tuple[str, str]] = [
    ("code", "Station code"),
    ("name", "Station"),
    ("kind", "Station kind"),
    ("town", "Town or street"),
    ("intake", "Cases taken"),
    ("open", "Open now"),
    ("overdue", "Overdue now"),
    ("on_time_rate", "On-time rate"),
    ("median_days", "Median working days"),
]
COLUMN_WIDTHS = {
    "code": 9,
    "name": 38,
    "kind": 14,
    "town": 14,
    "on_time_rate": 12,
    "median_days": 14,
}


def blank(value: str | None) -> str | None:
    """A form value with blanks as None."""
    text = (value or "").strip()
    return text or None


def form_values(**values: str | None) -> dict[str, str]:
    """The filter form's current values, as typed (so a mistake stays visible to correct)."""
    return {k: (v or "").strip() for k, v in values.items()}


def period_form(period: Period) -> dict[str, str]:
    """The dates the report covers, shown in the form even when it was sent blank."""
    return {"from": period.date_from.isoformat(), "to": period.date_to.isoformat()}


def percent(rate: float | None) -> str:
    """An on-time rate as the page shows it; the dash when nothing was completed."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def days(value: float | None) -> str:
    """A median number of working days as the page shows it."""
    return "—" if value is None else f"{value:.1f}"


register_filter("report_percent", percent)
register_filter("report_days", days)


def measure_cells(m: Measures) -> dict[str, int | float | None]:
    return {
        "intake": m.intake,
        "open": m.open,
        "overdue": m.overdue,
        "on_time_rate": m.on_time_rate,
        "median_days": m.median_days,
    }


def overview_rows(
    overview: Overview, label: Callable[[str], str]
) -> list[list[str | int | float | None]]:
    """The overview table as typed cells, the total row last; ``label`` translates."""

    def row(r: StationRow) -> list[str | int | float | None]:
        cells: dict[str, str | int | float | None] = {
            "code": r.code,
            "name": r.name,
            "kind": label(KIND_LABELS.get(r.kind, r.kind)),
            "town": r.town_name,
            **measure_cells(r.measures),
        }
        return [cells[key] for key, _ in OVERVIEW_COLUMNS]

    out = [row(r) for r in overview.rows]
    total: dict[str, str | int | float | None] = {
        "code": label("Total"),
        "name": "",
        "kind": "",
        "town": "",
        **measure_cells(overview.total),
    }
    out.append([total[key] for key, _ in OVERVIEW_COLUMNS])
    return out
