"""Scoped reads of the load forecast, shared by the pages and the API.

Reads of what a user may see start from `for_user`. The reads that serve a page of alerts
(`returning_households_by_village`, `episode_hours`) take the alerts already chosen and cost
one query whatever their number.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from customers.models import ReturningResident
from zhoukou_grid.core.lunar_calendar import default_departure
from zhoukou_grid.core.scoping import for_user, territory_of, writable_for_user
from zhoukou_grid.territory.models import County, LVLine, Station, Transformer

from .models import Alert, AlertHistory, AssetProjection, Level, Measure, ProjectionRun, ProjectionSettings

# --- Stations and counties ------------------------------------------------------------------

RUN_PERMISSION = "loadforecast.add_projectionrun"


def stations_of(user: AbstractBaseUser, *, county: County | None = None) -> QuerySet[Station]:
    """The stations a user sees (a grid manager: the station of their grid), by code."""
    stations = for_user(user, Station).select_related("county")
    return (stations.filter(county=county) if county is not None else stations).order_by("county__code", "code")


def runnable_stations(user: AbstractBaseUser) -> QuerySet[Station]:
    """The stations whose "run now" the user may click: the verb, on their own stations."""
    if not user.has_perm(RUN_PERMISSION):
        return Station.objects.none()
    return writable_for_user(user, Station).order_by("code")


def counties_of(user: AbstractBaseUser) -> QuerySet[County]:
    return for_user(user, County).order_by("code")


# --- Runs ----------------------------------------------------------------------------------


def runs_visible_to(user: AbstractBaseUser) -> QuerySet[ProjectionRun]:
    """The runs a user may read: those of the stations they see (their own, and the station
    of their grid) and the runs of all stations, on the pages and in the API alike.

    The all-station runs are the nightly runs: the run that projected the user's station
    this morning, which station staff look for first. What such a run shows of the other
    stations is cut away by `run_summary` (counts, timings, skipped assets, errors)."""
    territory = territory_of(user)
    if territory.everything:
        return ProjectionRun.objects.all()
    if territory.is_empty:
        return ProjectionRun.objects.none()
    station_ids = for_user(user, Station).values_list("pk", flat=True)
    return ProjectionRun.objects.filter(Q(station_id__in=station_ids) | Q(station__isnull=True))


@dataclass(frozen=True)
class RunVisibility:
    """What a user may see inside a run: the stations by code and, for a user whose grid is
    their only view of a station, the codes of their own transformers and lines. None: all."""

    station_codes: frozenset[str] | None
    asset_codes: frozenset[str] | None


def run_visibility(user: AbstractBaseUser) -> RunVisibility:
    territory = territory_of(user)
    if territory.everything:
        return RunVisibility(None, None)
    stations = frozenset(for_user(user, Station).values_list("code", flat=True))
    if not territory.grid_ids:
        return RunVisibility(stations, None)
    assets = set(for_user(user, Transformer).values_list("code", flat=True))
    assets |= set(for_user(user, LVLine).values_list("code", flat=True))
    return RunVisibility(stations, frozenset(assets))


def run_summary(run: ProjectionRun, visible: RunVisibility) -> dict[str, Any]:
    """The run's counts, timings, skipped assets and errors over what the user may see (all
    of it for a company admin); the totals are summed over the stations shown. A run of one
    station is all about a station the user sees (else they could not read it): only a grid
    manager's skipped assets are cut to their own."""
    stations = run.counts.get("stations", {}) if isinstance(run.counts, dict) else {}
    codes = visible.station_codes if run.station_id is None else None
    shown = {code: figures for code, figures in stations.items() if codes is None or code in codes}
    totals: Counter = Counter()
    for figures in shown.values():
        for key, value in figures.items():
            if isinstance(value, int):
                totals[key] += value
    skipped = [s for s in run.skipped or [] if (codes is None or s.get("station") in codes)
               and (visible.asset_codes is None or s.get("code") in visible.asset_codes)]
    errors = [line for line in (run.error or "").splitlines() if line.strip() and (
        codes is None or line.split(":", 1)[0].strip() in codes)]
    timings = run.timings.get("stations", {}) if isinstance(run.timings, dict) else {}
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    return {"totals": totals, "stations": shown, "skipped": skipped, "errors": errors, "duration": duration,
            "timings": {code: t for code, t in timings.items() if code in shown}}


def latest_runs(user: AbstractBaseUser, station_ids: list[int]) -> dict[int, ProjectionRun | None]:
    """The latest run that covered each station (its own or an all-station run)."""
    runs = list(runs_visible_to(user).filter(Q(station_id__in=station_ids) | Q(station__isnull=True))
                .order_by("-run_date", "-created_at")[:200])
    return {station_id: next((r for r in runs if r.station_id in (None, station_id)), None)
            for station_id in station_ids}


def station_results_run(station: Station, grid_ids: list[int]) -> ProjectionRun | None:
    """The latest run with results for the station's grids (its own runs and all-station runs)."""
    candidates = (ProjectionRun.objects.filter(Q(station=station) | Q(station__isnull=True))
                  .order_by("-run_date", "-created_at")[:10])
    for run in candidates:
        if AssetProjection.objects.filter(run=run, grid_id__in=grid_ids).exists():
            return run
    return None


# --- Alerts and projections ----------------------------------------------------------------


def alerts_of(user: AbstractBaseUser) -> QuerySet[Alert]:
    """The alerts a user sees, with what a list of them shows (asset, grid, station)."""
    return for_user(user, Alert).select_related("transformer", "line", "grid__station")


def active_alert_counts(user: AbstractBaseUser) -> dict[int, Counter]:
    """Per station the user sees: how many active alerts of each level."""
    counts: dict[int, Counter] = defaultdict(Counter)
    for station_id, level, n in (for_user(user, Alert).filter(status__in=Alert.ACTIVE)
                                 .values_list("grid__station_id", "level").annotate(n=Count("pk")).order_by()):
        counts[station_id][level] += n
    return counts


def _asset_q(transformer_ids, line_ids, prefix: str = "") -> Q:
    return Q(**{f"{prefix}transformer_id__in": list(transformer_ids)}) | Q(**{f"{prefix}line_id__in": list(line_ids)})


def _asset_key(obj) -> tuple[str, int]:
    return ("t", obj.transformer_id) if obj.transformer_id else ("l", obj.line_id)


def _present_on(day: dt.date, arrival: dt.date, departure: dt.date | None) -> bool:
    return arrival <= day < (departure or default_departure(arrival))


def returning_households_by_village(alerts: list[Alert]) -> dict[int, list[tuple[str, int]]]:
    """Per alert: the villages of the returning households present on the asset at the
    alert's peak day, most households first. One query for all the alerts of a page."""
    if not alerts:
        return {}
    t_ids = {a.transformer_id for a in alerts if a.transformer_id}
    l_ids = {a.line_id for a in alerts if a.line_id}
    first = min(a.peak_date for a in alerts)
    last = max(a.peak_date for a in alerts)
    rows = (ReturningResident.objects.filter(_asset_q(t_ids, l_ids, "household__"))
            .filter(arrival_date__lte=last).exclude(departure_date__lte=first)
            .values_list("household_id", "household__transformer_id", "household__line_id",
                         "household__village__name", "arrival_date", "departure_date").order_by())
    by_asset: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    for household, transformer_id, line_id, village, arrival, departure in rows:
        by_asset[("t", transformer_id)].append((household, village, arrival, departure))
        if line_id:
            by_asset[("l", line_id)].append((household, village, arrival, departure))
    result = {}
    for alert in alerts:
        households: dict[int, str] = {}
        for household, village, arrival, departure in by_asset.get(_asset_key(alert), []):
            if _present_on(alert.peak_date, arrival, departure):
                households[household] = village
        result[alert.pk] = Counter(households.values()).most_common()
    return result


@dataclass
class ReturningPerson:
    """One person coming home to an asset's households, whatever number of lists name them."""

    name: str
    phone_masked: str
    arrival: dt.date
    departure: dt.date | None
    persons: int
    entries: int
    resident_id: int


@dataclass
class VillageArrivals:
    village: str
    people: list[ReturningPerson]

    @property
    def count(self) -> int:
        return len(self.people)


def returning_people(user: AbstractBaseUser, *, transformer_id: int | None, line_id: int | None,
                     first: dt.date, last: dt.date) -> list[VillageArrivals]:
    """Who comes home to the households of an asset while they are there between `first`
    and `last` (inclusive), by village (most people first), each person by arrival day.

    One query, scoped by `for_user`. Each person once: entries with the same ID number (its
    HMAC, as the projection merges them), or else the same `match_key` (name + phone HMAC),
    are one person, listed at their earliest arrival (as the projection counts them) with
    their latest known departure; the page shows how many entries were merged. Phone
    numbers only in their masked form."""
    asset = Q(household__transformer_id=transformer_id) if transformer_id else Q(household__line_id=line_id)
    rows = (for_user(user, ReturningResident).filter(asset, arrival_date__lte=last)
            .exclude(departure_date__lte=first)
            .values_list("pk", "id_number_hmac", "match_key", "name", "phone_masked", "village_id",
                         "village__name", "arrival_date", "departure_date", "persons").order_by("arrival_date", "pk"))
    people: dict[str, tuple[tuple[int, str], ReturningPerson]] = {}
    for pk, id_hmac, match_key, name, phone, village_id, village, arrival, departure, persons in rows:
        if not _stays_between(first, last, arrival, departure):
            continue
        key = f"id:{id_hmac}" if id_hmac else f"key:{match_key or pk}"
        seen = people.get(key)
        if seen is None:
            people[key] = ((village_id, village), ReturningPerson(
                name=name, phone_masked=phone, arrival=arrival, departure=departure, persons=persons, entries=1,
                resident_id=pk))
            continue
        # Rows come by arrival: the first entry of a person is their earliest arrival.
        person = seen[1]
        person.entries += 1
        person.persons = max(person.persons, persons)
        if departure is not None and (person.departure is None or departure > person.departure):
            person.departure = departure
    by_village: dict[tuple[int, str], list[ReturningPerson]] = defaultdict(list)
    for village, person in people.values():
        by_village[village].append(person)
    return sorted((VillageArrivals(village=v[1], people=p) for v, p in by_village.items()),
                  key=lambda group: (-group.count, group.village))


def _stays_between(first: dt.date, last: dt.date, arrival: dt.date, departure: dt.date | None) -> bool:
    return arrival <= last and (departure or default_departure(arrival)) > first


def episode_hours(alerts: list[Alert]) -> dict[int, tuple[int, int]]:
    """Per alert: hours at or above heavy load and overload over its days, from the
    projections of the run that last updated it. One query for all the alerts of a page."""
    run_ids = {a.last_run_id for a in alerts if a.last_run_id}
    if not run_ids:
        return {}
    t_ids = {a.transformer_id for a in alerts if a.transformer_id}
    l_ids = {a.line_id for a in alerts if a.line_id}
    rows = (AssetProjection.objects.filter(run_id__in=run_ids).filter(_asset_q(t_ids, l_ids))
            .values_list("run_id", "transformer_id", "line_id", "date", "hours_ge_80", "hours_ge_100").order_by())
    days: dict[tuple, list[tuple]] = defaultdict(list)
    for run_id, transformer_id, line_id, day, h80, h100 in rows:
        key = (run_id, "t", transformer_id) if transformer_id else (run_id, "l", line_id)
        days[key].append((day, h80, h100))
    result = {}
    for alert in alerts:
        found = [(h80, h100) for day, h80, h100 in days.get((alert.last_run_id, *_asset_key(alert)), [])
                 if alert.first_date <= day <= alert.last_date]
        if found:
            result[alert.pk] = (sum(h for h, _ in found), sum(h for _, h in found))
    return result


def alert_horizon(alert: Alert) -> list[AssetProjection]:
    """The asset's projection by day in the run that last updated the alert."""
    if alert.last_run_id is None:
        return []
    asset_filter = Q(transformer_id=alert.transformer_id) if alert.transformer_id else Q(line_id=alert.line_id)
    return list(AssetProjection.objects.filter(asset_filter, run_id=alert.last_run_id).order_by("date"))


def alert_measures(alert: Alert) -> list[Measure]:
    return list(alert.measure_set.select_related("neighbour", "created_by", "done_by"))


def alert_history(alert: Alert) -> list[AlertHistory]:
    return list(AlertHistory.objects.filter(alert=alert).select_related("user").order_by("at", "pk"))


def latest_projections(asset_filter: Q) -> tuple[ProjectionRun | None, list[AssetProjection]]:
    """The projections by day of the latest run date that has results for the asset."""
    latest = (AssetProjection.objects.filter(asset_filter).select_related("run")
              .order_by("-run__run_date", "-run__created_at").first())
    if latest is None:
        return None, []
    return latest.run, list(AssetProjection.objects.filter(asset_filter, run_id=latest.run_id).order_by("date"))


def asset_alerts(user: AbstractBaseUser, asset_filter: Q, *, limit: int) -> tuple[list[Alert], list[Measure]]:
    """An asset's latest alerts the user may see, and their measures."""
    alerts = list(for_user(user, Alert).filter(asset_filter).order_by("-first_date", "-pk")[:limit])
    measures = list(Measure.objects.filter(alert__in=[a.pk for a in alerts])
                    .select_related("alert", "neighbour").order_by("-planned_date", "-pk"))
    return alerts, measures


def station_of(obj) -> Station:
    """The station of a transformer, an LV line, or a row with a grid."""
    if isinstance(obj, Transformer):
        return obj.grid.station
    if isinstance(obj, LVLine):
        return obj.transformer.grid.station
    return obj.grid.station


def heat_transformers(user: AbstractBaseUser, station: Station) -> list[Transformer]:
    return list(for_user(user, Transformer).filter(grid__station=station).order_by("code"))


def heat_projections(run: ProjectionRun, grid_ids: list[int], transformer_ids: list[int]):
    """(transformer, day, peak load rate, peak kW, level) of the run's transformers."""
    return (AssetProjection.objects.filter(run=run, grid_id__in=grid_ids, transformer_id__in=transformer_ids)
            .values_list("transformer_id", "date", "peak_load_rate", "peak_kw", "level").order_by())


# --- Settings --------------------------------------------------------------------------------


def county_settings_row(county: County, *, with_user: bool = False) -> ProjectionSettings | None:
    rows = ProjectionSettings.objects.filter(county=county, station__isnull=True)
    return (rows.select_related("updated_by") if with_user else rows).first()


def station_settings_row(station: Station) -> ProjectionSettings | None:
    return ProjectionSettings.objects.filter(station=station).select_related("updated_by").first()


def station_settings_layers(station: Station) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored values of the station's county and the station's own overrides."""
    rows = {row.station_id: row.values for row in ProjectionSettings.objects.filter(
        Q(county_id=station.county_id, station__isnull=True) | Q(station=station))}
    return rows.get(None, {}), rows.get(station.pk, {})


def station_overrides(stations: list[Station]) -> dict[int, ProjectionSettings]:
    return {row.station_id: row for row in ProjectionSettings.objects.filter(station__in=stations)}


# --- Home pages ---------------------------------------------------------------------------

HOME_ROWS = 20


def active_alerts(user: AbstractBaseUser, *, limit: int = HOME_ROWS) -> list[Alert]:
    """The user's active alerts, highest level and soonest peak first."""
    return list(alerts_of(user).filter(status__in=Alert.ACTIVE).order_by("-level", "peak_date", "pk")[:limit])


def active_alerts_by_level(user: AbstractBaseUser) -> list[tuple[int, str, int]]:
    """(level, its name, active alerts) for every alert level, highest first: one query."""
    counts = dict(for_user(user, Alert).filter(status__in=Alert.ACTIVE).order_by()
                  .values_list("level").annotate(n=Count("pk")))
    return [(level, label, counts.get(level, 0)) for level, label in reversed(Level.choices) if level > Level.NORMAL]
