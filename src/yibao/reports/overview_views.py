"""The bureau overview's pages: the first screen, its tabs (loaded on demand) and the export.

``/overview`` answers the four first questions (on time, overdue, bad ratings open, transfers
at risk) in a few aggregates. The tables behind them are tabs, each a real URL
(``/overview/stations``, ``/overview/ratings``, ``/overview/trips``) that renders the whole page
when followed as a plain link and only the tab when HTMX asks for it, so a supervisor pays for
the table they open and can bookmark it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from yibao.accounts.rules import AGENCY_ROLES, Actor
from yibao.calendar.status import missing_schedule_year
from yibao.errors import Forbidden, ValidationFailed
from yibao.reports.export import overview_workbook
from yibao.reports.headline import overview_headline
from yibao.reports.overview import Overview, bureau_overview
from yibao.reports.period import OverviewFilter, Period, parse_period
from yibao.reports.present import (
    KIND_LABELS,
    OVERVIEW_COLUMNS,
    blank,
    form_values,
    period_form,
)
from yibao.reports.ratings import bureau_ratings, overview_ratings
from yibao.reports.stations import overview_choices
from yibao.reports.trips import TripsSaved, trips_saved
from yibao.runtime import Runtime
from yibao.web import i18n
from yibao.web.deps import RuntimeDep
from yibao.web.pages import PageActor, PageForbidden, field_errors, render, require_roles

router = APIRouter(include_in_schema=False)

# The page's role check mirrors the service's scope check (agency-wide roles), so a refusal is
# the friendly 403 page rather than a Forbidden problem.
_OVERVIEW_ROLES = tuple(sorted(AGENCY_ROLES))

# The tabs in order: path segment and English msgid of the label.
TABS: list[tuple[str, str]] = [
    ("stations", "Stations"),
    ("ratings", "Ratings (好差评)"),
    ("trips", "Fewer trips"),
]


def _filters(
    runtime: Runtime, kind: str | None, town: str | None, raw_from: str | None, raw_to: str | None
) -> OverviewFilter:
    period = parse_period(raw_from, raw_to, today=runtime.today())
    return OverviewFilter(period=period, kind=blank(kind), town=blank(town))


def _query(filters: OverviewFilter) -> str:
    """The filter as a query string, carried by every tab link, the export and the periods."""
    p = filters.period
    return urlencode(
        {
            "kind": filters.kind or "",
            "town": filters.town or "",
            "from": p.date_from.isoformat(),
            "to": p.date_to.isoformat(),
        }
    )


def quick_periods(today: date) -> list[tuple[str, Period]]:
    """This month, this quarter and this year up to today, for one-click period links."""
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [
        ("This month", Period(today.replace(day=1), today)),
        ("This quarter", Period(quarter, today)),
        ("This year", Period(date(today.year, 1, 1), today)),
    ]


def _wants_fragment(request: Request) -> bool:
    # A history restore asks for the whole page again, though HTMX sends it.
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != (
        "true"
    )


def _page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    tab: str | None,
    raw: dict[str, str | None],
    build: Callable[[Session, OverviewFilter], dict[str, Any]] | None,
) -> Response:
    """The overview page (first screen, or with one tab open) or, for HTMX, the tab alone."""
    require_roles(actor, *_OVERVIEW_ROLES)
    fragment = tab is not None and _wants_fragment(request)
    form = form_values(**raw)
    context: dict[str, Any] = {
        "tab": tab,
        "tabs": TABS,
        "kinds": list(KIND_LABELS.items()),
        "kind_labels": KIND_LABELS,
        "form": form,
        "errors": {},
        "columns": OVERVIEW_COLUMNS,
        "action": f"/overview/{tab}" if tab else "/overview",
    }
    with runtime.db.session() as session:
        try:
            filters = _filters(runtime, raw["kind"], raw["town"], raw["from"], raw["to"])
            if not fragment:
                context["headline"] = overview_headline(
                    session, runtime=runtime, actor=actor, filters=filters
                )
            if build is not None:
                context.update(build(session, filters))
            towns = overview_choices(session, actor=actor)
        except ValidationFailed as exc:
            errors = field_errors(exc)
            if fragment:
                message = "; ".join(errors.values()) or i18n.gettext("Invalid input")
                return render(
                    request, "reports/_overview_error.html", {"message": message}, status_code=422
                )
            context.update(errors=errors, towns=overview_choices(session, actor=actor))
            return render(request, "reports/overview.html", context, status_code=422)
        except Forbidden:
            raise PageForbidden from None
        calendar = runtime.reference(session).calendar
    query = _query(filters)
    form.update(period_form(filters.period))
    today = runtime.today()
    base = f"/overview/{tab}" if tab else "/overview"
    context.update(
        towns=towns,
        today=today,
        filters=filters,
        query=query,
        export_url="/overview.xlsx?" + query,
        periods=[
            (
                label,
                f"{base}?{_query(OverviewFilter(p, filters.kind, filters.town))}",
                p == filters.period,
            )
            for label, p in quick_periods(today)
        ],
        calendar_missing_year=missing_schedule_year(calendar, today),
    )
    headers = {"Vary": "HX-Request"}
    if fragment:
        return render(request, "reports/_overview_tabs.html", context, headers=headers)
    return render(request, "reports/overview.html", context, headers=headers)


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
    """The overview's first screen: on time, overdue, bad ratings open, transfers at risk."""
    raw = {"kind": kind, "town": town, "from": date_from, "to": date_to}
    return _page(request, runtime, actor, None, raw, None)


@router.get("/overview/stations")
def overview_stations(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    kind: str | None = None,
    town: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Every station side by side, with one chart a measure."""

    def build(session: Session, filters: OverviewFilter) -> dict[str, Any]:
        overview = bureau_overview(session, runtime=runtime, actor=actor, filters=filters)
        return {"overview": overview, "chart": _stations_chart(overview)}

    raw = {"kind": kind, "town": town, "from": date_from, "to": date_to}
    return _page(request, runtime, actor, "stations", raw, build)


@router.get("/overview/ratings")
def overview_ratings_tab(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    kind: str | None = None,
    town: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Rating rates (好差评) per station, clerk and item."""

    def build(session: Session, filters: OverviewFilter) -> dict[str, Any]:
        tables = bureau_ratings(session, runtime=runtime, actor=actor, filters=filters)
        return {"rating_tables": tables}

    raw = {"kind": kind, "town": town, "from": date_from, "to": date_to}
    return _page(request, runtime, actor, "ratings", raw, build)


@router.get("/overview/trips")
def overview_trips(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    kind: str | None = None,
    town: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Trips to the bureau hall saved, by town, month and station."""

    def build(session: Session, filters: OverviewFilter) -> dict[str, Any]:
        trips = trips_saved(session, runtime=runtime, actor=actor, filters=filters)
        return {"trips": trips, "trips_chart": _trips_chart(trips)}

    raw = {"kind": kind, "town": town, "from": date_from, "to": date_to}
    return _page(request, runtime, actor, "trips", raw, build)


def _stations_chart(overview: Overview) -> dict[str, Any]:
    """One series a measure per station, for the station tab's charts."""
    rows = overview.rows
    return {
        # Short axis labels: station numbers, and the bureau hall by its kind (not BUREAU).
        "codes": [i18n.gettext("Bureau hall") if r.kind == "bureau" else r.code for r in rows],
        "names": [r.name for r in rows],
        "intake": [r.measures.intake for r in rows],
        "open": [r.measures.open for r in rows],
        "overdue": [r.measures.overdue for r in rows],
        "on_time_rate": [
            None if r.measures.on_time_rate is None else round(r.measures.on_time_rate * 100, 1)
            for r in rows
        ],
        "median_days": [r.measures.median_days for r in rows],
        "overdue_light": [r.measures.overdue_light for r in rows],
        "rate_light": [r.measures.rate_light for r in rows],
    }


def _trips_chart(trips: TripsSaved) -> dict[str, Any]:
    """Trips and hours saved by month, and kilometres by town, for the trips tab's charts."""
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
    """The overview's station and rating tables as an Excel workbook (the page's filters)."""
    require_roles(actor, *_OVERVIEW_ROLES)
    with runtime.db.session() as session:
        try:
            filters = _filters(runtime, kind, town, date_from, date_to)
            overview = bureau_overview(session, runtime=runtime, actor=actor, filters=filters)
            rating_tables = overview_ratings(
                session, runtime=runtime, actor=actor, overview=overview
            )
        except ValidationFailed as exc:
            errors = field_errors(exc)
            message = "; ".join(errors.values()) or i18n.gettext("Invalid input")
            return render(request, "error.html", {"message": message}, status_code=422)
        except Forbidden:
            raise PageForbidden from None
    period = overview.filters.period
    name = f"overview-{period.date_from:%Y%m%d}-{period.date_to:%Y%m%d}.xlsx"
    return Response(
        overview_workbook(
            overview,
            generated=runtime.now().astimezone(runtime.tz).date(),
            rating_tables=rating_tables,
        ),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
