"""HTML pages of reports: the station dashboard, the bureau overview and its Excel export."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from yibao.accounts.rules import AGENCY_ROLES, Actor, Role
from yibao.errors import Forbidden, ValidationFailed
from yibao.reports import service
from yibao.reports.service import Measures, Overview, OverviewFilter, StationRow
from yibao.runtime import Runtime
from yibao.web import i18n
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep
from yibao.web.pages import PageActor, PageForbidden, field_errors, render, require_roles
from yibao.web.templating import register_filter

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

# The page's role check mirrors the service's scope check (agency-wide roles), so a refusal is
# the friendly 403 page rather than a Forbidden problem.
_OVERVIEW_ROLES = tuple(sorted(AGENCY_ROLES))

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
_WIDTHS = {"code": 9, "name": 38, "kind": 14, "town": 14, "on_time_rate": 12, "median_days": 14}


def _blank(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _form(**values: str | None) -> dict[str, str]:
    """The filter form's current values, as typed (so a mistake stays visible to correct)."""
    return {k: (v or "").strip() for k, v in values.items()}


def _period_form(period: service.Period) -> dict[str, str]:
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


def _measure_cells(m: Measures) -> dict[str, int | float | None]:
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
            **_measure_cells(r.measures),
        }
        return [cells[key] for key, _ in OVERVIEW_COLUMNS]

    out = [row(r) for r in overview.rows]
    total: dict[str, str | int | float | None] = {
        "code": label("Total"),
        "name": "",
        "kind": "",
        "town": "",
        **_measure_cells(overview.total),
    }
    out.append([total[key] for key, _ in OVERVIEW_COLUMNS])
    return out


# ---------------------------------------------------------------- station dashboard


@router.get("/dashboard")
def dashboard(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """A station master's dashboard: today's numbers, clerks, items and the recent trend."""
    require_roles(actor, Role.STATION_MASTER)
    form = _form(**{"from": date_from, "to": date_to})
    try:
        period = service.parse_period(date_from, date_to, today=runtime.today())
        with runtime.db.session() as session:
            board = service.station_dashboard(session, runtime=runtime, actor=actor, period=period)
    except ValidationFailed as exc:
        return render(
            request,
            "reports/dashboard.html",
            {"board": None, "form": form, "errors": field_errors(exc)},
            status_code=422,
        )
    except Forbidden:
        raise PageForbidden from None
    form.update(_period_form(board.period))
    with runtime.db.session() as session:
        rating_tables = service.station_ratings(
            session, runtime=runtime, actor=actor, period=board.period
        )
    return render(
        request,
        "reports/dashboard.html",
        {
            "board": board,
            "form": form,
            "errors": {},
            "chart": board.trend.as_json(),
            "rating_tables": rating_tables,
        },
    )


# ---------------------------------------------------------------- bureau overview


def _overview(
    runtime: Runtime,
    actor: Actor,
    kind: str | None,
    town: str | None,
    raw_from: str | None,
    raw_to: str | None,
) -> tuple[Overview | None, list[tuple[str, str]], dict[str, str]]:
    """The overview for the filter form, or the field errors of a bad filter."""
    with runtime.db.session() as session:
        try:
            period = service.parse_period(raw_from, raw_to, today=runtime.today())
            filters = OverviewFilter(period=period, kind=_blank(kind), town=_blank(town))
            overview = service.bureau_overview(
                session, runtime=runtime, actor=actor, filters=filters
            )
        except ValidationFailed as exc:
            return None, service.overview_choices(session, actor=actor), field_errors(exc)
        except Forbidden:
            raise PageForbidden from None
    return overview, overview.towns, {}


@router.get("/overview")
def overview_page(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    kind: str | None = None,
    town: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Every station side by side, filtered by kind, town and period, with one chart a measure."""
    require_roles(actor, *_OVERVIEW_ROLES)
    form = _form(kind=kind, town=town, **{"from": date_from, "to": date_to})
    overview, towns, errors = _overview(runtime, actor, kind, town, date_from, date_to)
    context: dict[str, Any] = {
        "overview": overview,
        "towns": towns,
        "kinds": list(KIND_LABELS.items()),
        "kind_labels": KIND_LABELS,
        "form": form,
        "errors": errors,
        "columns": OVERVIEW_COLUMNS,
    }
    if overview is None:
        return render(request, "reports/overview.html", context, status_code=422)
    period = overview.filters.period
    form.update(_period_form(period))
    with runtime.db.session() as session:
        trips = service.trips_saved(session, runtime=runtime, actor=actor, filters=overview.filters)
        rating_tables = service.overview_ratings(
            session, runtime=runtime, actor=actor, overview=overview
        )
    context.update(trips=trips, trips_chart=_trips_chart(trips), rating_tables=rating_tables)
    query = {
        "kind": overview.filters.kind or "",
        "town": overview.filters.town or "",
        "from": period.date_from.isoformat(),
        "to": period.date_to.isoformat(),
    }
    context.update(
        export_url="/overview.xlsx?" + urlencode(query),
        chart={
            # Short axis labels: station numbers, and the bureau hall by its kind (not BUREAU).
            "codes": [
                i18n.gettext("Bureau hall") if r.kind == "bureau" else r.code for r in overview.rows
            ],
            "names": [r.name for r in overview.rows],
            "intake": [r.measures.intake for r in overview.rows],
            "open": [r.measures.open for r in overview.rows],
            "overdue": [r.measures.overdue for r in overview.rows],
            "on_time_rate": [
                None if r.measures.on_time_rate is None else round(r.measures.on_time_rate * 100, 1)
                for r in overview.rows
            ],
            "median_days": [r.measures.median_days for r in overview.rows],
            "overdue_light": [r.measures.overdue_light for r in overview.rows],
            "rate_light": [r.measures.rate_light for r in overview.rows],
        },
    )
    return render(request, "reports/overview.html", context)


def _trips_chart(trips: service.TripsSaved) -> dict[str, Any]:
    """Trips and hours saved by month, and kilometres by town, for the overview's charts."""
    return {
        "months": [r.key for r in trips.by_month],
        "trips": [r.measures.trips for r in trips.by_month],
        "hours": [round(r.measures.hours, 1) for r in trips.by_month],
        "towns": [r.name for r in trips.by_town],
        "town_km": [r.measures.km for r in trips.by_town],
    }


@router.get("/overview.xlsx")
def overview_export(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    kind: str | None = None,
    town: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """The overview's table as an Excel workbook (the same filters as the page)."""
    require_roles(actor, *_OVERVIEW_ROLES)
    overview, _towns, errors = _overview(runtime, actor, kind, town, date_from, date_to)
    if overview is None:
        return render(
            request,
            "error.html",
            {"message": "; ".join(errors.values()) or i18n.gettext("Invalid input")},
            status_code=422,
        )
    period = overview.filters.period
    name = f"overview-{period.date_from:%Y%m%d}-{period.date_to:%Y%m%d}.xlsx"
    with runtime.db.session() as session:
        rating_tables = service.overview_ratings(
            session, runtime=runtime, actor=actor, overview=overview
        )
    return Response(
        overview_workbook(
            overview,
            generated=runtime.now().astimezone(runtime.tz).date(),
            rating_tables=rating_tables,
        ),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


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
    rating_tables: Sequence[service.RatingTable] = (),
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
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(key, 11)
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


def _rating_sheet(wb: Workbook, table: service.RatingTable, zh: Callable[[str], str]) -> None:
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


# ---------------------------------------------------------------- trips saved (少跑路)


@api_router.get("/trips-saved")
def trips_saved_api(
    runtime: RuntimeDep,
    actor: ActorDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=10)] = None,
    town: Annotated[str | None, Query(max_length=12, description="town code")] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> dict[str, Any]:
    """Trips to the bureau hall saved by cases finished at other stations, with kilometres,
    hours and the share finished in one visit (一次办结率), by station, town and month."""
    period = service.parse_period(date_from, date_to, today=runtime.today())
    filters = OverviewFilter(period=period, kind=_blank(kind), town=_blank(town))
    report = service.trips_saved(session, runtime=runtime, actor=actor, filters=filters)
    return report.as_json()
