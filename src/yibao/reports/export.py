"""The bureau overview as an Excel workbook: the station table and the rating tables."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from yibao.reports.overview import Overview
from yibao.reports.present import COLUMN_WIDTHS, KIND_LABELS, OVERVIEW_COLUMNS, overview_rows
from yibao.reports.ratings import RatingTable
from yibao.web import i18n

RATING_COLUMNS = (
    "Completed",
    "Rated",
    "Rating participation",
    "Satisfaction",
    "Mean level",
    "Bad ratings",
    "Rectified on time",
    "Follow-up rate",
)


def overview_workbook(
    overview: Overview,
    *,
    generated: date,
    rating_tables: Sequence[RatingTable] = (),
) -> bytes:
    """The overview as .xlsx: a Chinese header row, typed numbers, the total row last;
    then a sheet per table of rating rates (好差评)."""
    zh = i18n.translations("zh_CN").gettext  # a report for the bureau: Chinese whatever the UI
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = zh("Stations")[:31]
    keys = [key for key, _ in OVERVIEW_COLUMNS]
    ws.append([zh(label) for _, label in OVERVIEW_COLUMNS])
    header_fill = PatternFill("solid", fgColor="E8EEF4")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    rows = overview_rows(overview, zh)
    for values in rows:
        ws.append(values)
    for r in range(2, len(rows) + 2):
        ws.cell(r, keys.index("on_time_rate") + 1).number_format = "0.0%"
        ws.cell(r, keys.index("median_days") + 1).number_format = "0.0"
    for cell in ws[len(rows) + 1]:
        cell.font = Font(bold=True)
    for i, key in enumerate(keys, 1):
        ws.column_dimensions[get_column_letter(i)].width = COLUMN_WIDTHS.get(key, 11)
    ws.freeze_panes = "A2"

    for table in rating_tables:
        _rating_sheet(wb, table, zh)

    about = wb.create_sheet(zh("About this report"))
    period = overview.filters.period
    kind = overview.filters.kind
    town = dict(overview.towns).get(overview.filters.town or "", "")
    for row in (
        (zh("Bureau overview"), ""),
        (zh("Period"), f"{period.date_from.isoformat()} — {period.date_to.isoformat()}"),
        (zh("Station kind"), zh(KIND_LABELS[kind]) if kind else zh("All")),
        (zh("Town or street"), town or zh("All")),
        (zh("Generated on"), generated.isoformat()),
        ("", ""),
        (zh("Cases taken"), zh("Cases taken at the station in the period.")),
        (zh("Open now"), zh("Cases taken at the station that are still open today.")),
        (zh("Overdue now"), zh("Open cases past their last working day today.")),
        (zh("On-time rate"), zh("Of the cases completed in the period, closed by the due date.")),
        (
            zh("Median working days"),
            zh("Working days from intake to completion, cases completed in the period."),
        ),
    ):
        about.append(list(row))
    about["A1"].font = Font(bold=True)
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 60

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rating_sheet(wb: Workbook, table: RatingTable, zh: Callable[[str], str]) -> None:
    """One table of rating rates as a sheet: counts as numbers, rates as percentages."""
    ws = wb.create_sheet(zh(table.title)[:31])
    ws.append([zh(table.key_label), *(zh(c) for c in RATING_COLUMNS)])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EEF4")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    stations = table.id == "ratings-stations"
    lines = [(f"{row.key} {row.name}" if stations else row.name, row.rates) for row in table.rows]
    lines.append((zh("Total"), table.total))
    for label, r in lines:
        ws.append(
            [
                label,
                r.finished,
                r.rated,
                r.participation,
                r.satisfaction,
                None if r.mean_score is None else round(r.mean_score, 2),
                r.bad,
                r.rectified_on_time_rate,
                r.follow_up_rate,
            ]
        )
    for row in ws.iter_rows(min_row=2):
        for i in (3, 4, 7, 8):
            row[i].number_format = "0.0%"
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 36
    for i in range(2, len(RATING_COLUMNS) + 2):
        ws.column_dimensions[get_column_letter(i)].width = 12
    ws.freeze_panes = "B2"
