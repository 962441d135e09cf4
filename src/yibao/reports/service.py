"""Use cases of reports, by idea: import from here or from the module that holds the idea.

* ``period`` — the period and the station filter of a report form;
* ``measures`` — what a report row shows about a set of cases, and the SQL aggregates;
* ``dashboard`` — a station master's dashboard;
* ``stations`` — which stations a bureau report covers;
* ``overview`` — the bureau overview's station table;
* ``headline`` — the overview's first screen: on time, overdue, bad ratings, transfers;
* ``ratings`` — rating rates (好差评) of both;
* ``trips`` — trips saved (少跑路).
"""

from __future__ import annotations

from yibao.reports.dashboard import (
    ClerkRow,
    Dashboard,
    ItemRow,
    station_dashboard,
    station_measures,
)
from yibao.reports.headline import Headline, overview_headline
from yibao.reports.measures import (
    GREEN_RATE,
    YELLOW_OVERDUE_SHARE,
    YELLOW_RATE,
    Measures,
    Trend,
    overdue_light,
    rate_light,
    weighted_median,
)
from yibao.reports.overview import Overview, StationRow, bureau_overview
from yibao.reports.period import (
    DEFAULT_DAYS,
    MAX_DAYS,
    OverviewFilter,
    Period,
    default_period,
    parse_period,
)
from yibao.reports.ratings import RatingTable, bureau_ratings, overview_ratings, station_ratings
from yibao.reports.stations import check_overview_filter, overview_choices
from yibao.reports.trips import LEGS_PER_TRIP, TripMeasures, TripRow, TripsSaved, trips_saved

__all__ = [
    "DEFAULT_DAYS",
    "GREEN_RATE",
    "LEGS_PER_TRIP",
    "MAX_DAYS",
    "YELLOW_OVERDUE_SHARE",
    "YELLOW_RATE",
    "ClerkRow",
    "Dashboard",
    "Headline",
    "ItemRow",
    "Measures",
    "Overview",
    "OverviewFilter",
    "Period",
    "RatingTable",
    "StationRow",
    "Trend",
    "TripMeasures",
    "TripRow",
    "TripsSaved",
    "bureau_overview",
    "bureau_ratings",
    "check_overview_filter",
    "default_period",
    "overdue_light",
    "overview_choices",
    "overview_headline",
    "overview_ratings",
    "parse_period",
    "rate_light",
    "station_dashboard",
    "station_measures",
    "station_ratings",
    "trips_saved",
    "weighted_median",
]
