"""HTML pages of reports: the station dashboard here, the bureau overview in overview_views;
and the trips-saved report as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from yibao.accounts.rules import Role
from yibao.calendar.status import missing_schedule_year
from yibao.errors import Forbidden, ValidationFailed
from yibao.reports import overview_views, service
from yibao.reports.present import blank as _blank
from yibao.reports.present import form_values as _form
from yibao.reports.present import period_form as _period_form
from yibao.reports.service import OverviewFilter
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep
from yibao.web.pages import PageActor, PageForbidden, field_errors, render, require_roles

router = APIRouter(include_in_schema=False)
router.include_router(overview_views.router)
api_router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


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
            "calendar_missing_year": missing_schedule_year(
                runtime.reference().calendar, runtime.today()
            ),
        },
    )


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
