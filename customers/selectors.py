"""Scoped reads of returning residents: counts per village and transformer, arrivals per day.

Every function takes the user (or a queryset already scoped with `for_user`) and answers
with a constant number of queries, whatever the number of residents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from zhoukou_grid.core.lunar_calendar import (
    DEFAULT_DEPARTURE_LUNAR_DAY,
    SEASON_LEAD_DAYS,
    first_month_day,
    lunar_new_year,
    season_of,
)
from zhoukou_grid.core.scoping import for_user, territory_of
from zhoukou_grid.territory.models import Grid, Village

from .models import ReturningResident

Status = ReturningResident.Status
MAX_ARRIVAL_DAYS = 120


def residents_for(user) -> QuerySet:
    """The residents a user may see, with what a list row shows."""
    queryset = for_user(user, ReturningResident)
    if not territory_of(user).everything:
        # The user's village ids as a literal list: an index probe per village instead of
        # the household → village → grid join chain for every resident (see customers.views).
        village_ids = list(for_user(user, Village).values_list("pk", flat=True))
        queryset = queryset.filter(village_id__in=village_ids)
    return queryset


def possible_duplicate(user) -> Exists:
    """True for a resident whose ID number (its HMAC) is listed in another village the
    user can see too, for the same season: one person on two lists, for an administrator to
    judge (the same person on last season's list and this season's is no duplicate). Entries
    the user cannot see never count (docs/security.md, "Existence oracles")."""
    others = for_user(user, ReturningResident).filter(
        id_number_hmac=OuterRef("id_number_hmac"), season=OuterRef("season")).exclude(
        village_id=OuterRef("village_id"))
    return Exists(others) & ~Q(id_number_hmac="")


def _totals():
    return {
        "resident_count": Count("pk"),
        "person_count": Sum("persons"),
        "arrived_count": Count("pk", filter=Q(status=Status.ARRIVED)),
        "expected_count": Count("pk", filter=Q(status=Status.EXPECTED)),
    }


def resident_counts_by_village(queryset: QuerySet, *, limit: int = 50) -> list[dict]:
    """Residents, persons, arrived and expected per village of `queryset`, largest first: one query."""
    return list(
        queryset.order_by().values("village_id", "village__name", "village__code")
        .annotate(**_totals()).order_by("-person_count", "village__code")[:limit]
    )


def resident_counts_by_transformer(queryset: QuerySet, *, limit: int = 50) -> list[dict]:
    """The same per transformer of the linked household; unlinked residents form one row
    with `household__transformer_id` None (they cannot be placed on a transformer yet)."""
    return list(
        queryset.order_by()
        .values("household__transformer_id", "household__transformer__code", "household__transformer__name")
        .annotate(**_totals()).order_by("-person_count", "household__transformer__code")[:limit]
    )


def default_arrival_range(today: date) -> tuple[date, date]:
    """From today to 初八 of the festival of `today` (`lunar_calendar.season_of`), the
    default end of a stay (docs/domain.md §6.4); once that 初八 has passed, the next festival's."""
    season = season_of(today)
    end = first_month_day(season, DEFAULT_DEPARTURE_LUNAR_DAY)
    if end < today:
        end = first_month_day(season + 1, DEFAULT_DEPARTURE_LUNAR_DAY)
    return today, end


@dataclass
class ArrivalRow:
    """One grid's arrivals per day (or a station's subtotal when `grid` is None)."""

    station: object
    grid: object | None
    residents: list[int]
    persons: list[int]

    @property
    def resident_total(self) -> int:
        return sum(self.residents)

    @property
    def person_total(self) -> int:
        return sum(self.persons)

    @property
    def cells(self) -> list[tuple[int, int]]:
        return list(zip(self.persons, self.residents, strict=True))


@dataclass
class Arrivals:
    days: list[date]
    rows: list[ArrivalRow] = field(default_factory=list)  # grids, each station followed by its subtotal
    total: ArrivalRow | None = None

    @property
    def grid_rows(self) -> list[ArrivalRow]:
        return [row for row in self.rows if row.grid is not None]


def arrivals_per_day(user, *, start: date, end: date, station=None, grid=None) -> Arrivals:
    """Residents and persons arriving per day and per grid of the user's territory.

    Two queries: the grids, and the counts grouped by grid and arrival date. Every
    grid of the territory gets a row, with zeros when nobody is expected there.
    """
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    grids = for_user(user, Grid).select_related("station")
    residents = for_user(user, ReturningResident).filter(arrival_date__gte=start, arrival_date__lte=end)
    if station is not None:
        grids = grids.filter(station=station)
        residents = residents.filter(village__grid__station=station)
    if grid is not None:
        grids = grids.filter(pk=grid.pk)
        residents = residents.filter(village__grid=grid)
    grids = list(grids.order_by("station__code", "code"))
    grid_ids = [g.pk for g in grids]
    index = {day: position for position, day in enumerate(days)}
    counts: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([0] * len(days), [0] * len(days)))
    for grid_id, day, resident_count, person_count in (
        residents.filter(village__grid_id__in=grid_ids).order_by()
        .values_list("village__grid_id", "arrival_date").annotate(n=Count("pk"), p=Sum("persons"))
    ):
        resident_list, person_list = counts[grid_id]
        resident_list[index[day]] = resident_count
        person_list[index[day]] = person_count or 0
    result = Arrivals(days=days)
    total = ArrivalRow(station=None, grid=None, residents=[0] * len(days), persons=[0] * len(days))
    station_rows: dict[int, ArrivalRow] = {}
    for g in grids:
        resident_list, person_list = counts[g.pk]
        row = ArrivalRow(station=g.station, grid=g, residents=list(resident_list), persons=list(person_list))
        subtotal = station_rows.get(g.station_id)
        if subtotal is None:
            subtotal = station_rows[g.station_id] = ArrivalRow(
                station=g.station, grid=None, residents=[0] * len(days), persons=[0] * len(days))
        for position in range(len(days)):
            subtotal.residents[position] += row.residents[position]
            subtotal.persons[position] += row.persons[position]
            total.residents[position] += row.residents[position]
            total.persons[position] += row.persons[position]
        result.rows.append(row)
    # Each station's subtotal after its grids (the grids are ordered by station).
    ordered: list[ArrivalRow] = []
    for _station_id, station_grids in groupby(result.rows, key=lambda r: r.station.pk):
        ordered.extend(station_grids)
        ordered.append(station_rows[_station_id])
    result.rows = ordered
    result.total = total
    return result


# --- Home pages ---------------------------------------------------------------------------

HOME_ROWS = 20


def residents_arriving(user, *, start: date, end: date, limit: int = HOME_ROWS) -> list:
    """The first residents of the user's villages arriving from `start` to `end`, soonest first."""
    return list(
        residents_for(user).filter(arrival_date__gte=start, arrival_date__lte=end)
        .select_related("village").order_by("arrival_date", "village__code", "name", "pk")[:limit]
    )


def arrival_totals_per_day(user, *, start: date, end: date) -> list[tuple[date, int, int]]:
    """(day, residents, persons) for every day from `start` to `end`, zeros included: one query."""
    counts = {
        day: (n, persons or 0)
        for day, n, persons in residents_for(user).filter(arrival_date__gte=start, arrival_date__lte=end)
        .order_by().values_list("arrival_date").annotate(n=Count("pk"), p=Sum("persons"))
    }
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [(day, *counts.get(day, (0, 0))) for day in days]


def season_days(season: int) -> tuple[date, date]:
    """The first and last arrival day that `lunar_calendar.season_of` assigns to `season`."""
    first = lunar_new_year(season - 1) + timedelta(days=SEASON_LEAD_DAYS + 1)
    return first, lunar_new_year(season) + timedelta(days=SEASON_LEAD_DAYS)


@dataclass
class ListCoverage:
    """How many of the user's villages have sent their list of returning residents for `season`."""

    season: int
    villages: int
    sent: int
    missing: list = field(default_factory=list)  # the first villages still without a list

    @property
    def percent(self) -> int:
        return round(100 * self.sent / self.villages) if self.villages else 0


def list_coverage(user, *, today: date, limit: int = HOME_ROWS) -> ListCoverage:
    """Villages with at least one listed resident (imported or typed in, not met on a visit)
    of the season of `today` (the stored season, docs/domain.md §6.7): three queries."""
    season = season_of(today)
    sent = Exists(ReturningResident.objects.filter(village=OuterRef("pk"), season=season).exclude(
        source=ReturningResident.Source.VISIT))
    villages = for_user(user, Village)
    counts = villages.aggregate(villages=Count("pk"), sent=Count("pk", filter=Q(sent)))
    missing = list(villages.filter(~Q(sent)).select_related("grid").order_by("grid__code", "code")[:limit])
    return ListCoverage(season=season, villages=counts["villages"], sent=counts["sent"], missing=missing)
