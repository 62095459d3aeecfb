"""Season outlook runs (docs/domain.md §6.7): a station's inputs over the festival window,
the §6.4/6.5 engine on them (`services.compute_station`), and the outlook rows.

The outlook is kept apart from the 21-day projection: its own runs (`OutlookRun`, one per
station and run date, a re-run replaces it) and items (`OutlookItem`), never alerts.
Estimated households are last season's lists of the villages that have sent none this
season, shifted by the days between the two New Years (`outlook_engine.estimated_stays`).
A resident's season is the one stored with its entry (`ReturningResident.season`: the
season its list was imported for, or the New Year nearest to its arrival date), so a
village's list of last season and its list of this season never mix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.http import Http404

from customers.models import ReturningResident
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.lunar_calendar import lunar_new_year
from zhoukou_grid.core.queue import QueueUnavailable, queue_send
from zhoukou_grid.core.scoping import get_for_user_or_404, require_perm
from zhoukou_grid.territory.models import Role, RoleAssignment, Station, Village

from . import engine, outlook_engine
from .models import (
    LEVEL_CODES,
    Alert,
    AlertHistory,
    Level,
    Measure,
    OutlookItem,
    OutlookRun,
    OutlookSettings,
    WeatherForecast,
)
from .outlook_notify import outlook_notify, said_before
from .services import (
    StationInputs,
    _user_or_none,
    compute_station,
    measure_plan,
    read_station_inputs,
    recommended_measures,
    settings_for_station,
)

logger = logging.getLogger(__name__)

LEVEL_NAMES = ["normal", "watch", "heavy", "overload", "thermal"]


def outlook_settings_for_station(station: Station) -> outlook_engine.OutlookSettings:
    """The county's outlook settings with the station's overrides on top (defaults where unset)."""
    rows = {row.station_id: row.values for row in OutlookSettings.objects.filter(
        Q(county_id=station.county_id, station__isnull=True) | Q(station_id=station.pk))}
    return outlook_engine.OutlookSettings.from_dict(rows.get(None), rows.get(station.pk))


@transaction.atomic
def outlook_settings_update(*, county_id: int, station_id: int | None = None, values: dict[str, Any],
                            user: AbstractBaseUser | None = None) -> OutlookSettings:
    """Replace a county's outlook settings (or a station's overrides) after validating them
    over the county's; raises engine.SettingsError with the reasons and writes nothing; audited."""
    county_values: dict[str, Any] = {}
    if station_id is not None:
        county_row = OutlookSettings.objects.filter(county_id=county_id, station__isnull=True).first()
        county_values = county_row.values if county_row else {}
    outlook_engine.OutlookSettings.from_dict(county_values, values)
    row, _ = OutlookSettings.objects.select_for_update().get_or_create(
        county_id=county_id, station_id=station_id, defaults={"values": {}})
    before = row.values
    row.values = dict(values)
    row.updated_by = _user_or_none(user)
    row.save()
    audit_record(user=user, action="outlook_settings", object_type="loadforecast.outlooksettings",
                 object_id=row.pk, detail={"before": before, "after": row.values})
    return row


@dataclasses.dataclass(frozen=True)
class OutlookInputs:
    """A station's inputs over the window: the registered residents first, then the estimated."""

    inputs: StationInputs  # residents: registered + estimated, temps: the window's T_min
    registered: int  # the first `registered` residents are this season's lists
    from_forecast: np.ndarray  # per window day
    villages: list[tuple[int, str, str]]  # (id, code, name) of the station's villages
    reported: set[int]  # villages with at least one resident of this season


def read_outlook_inputs(station: Station, window: outlook_engine.SeasonWindow,
                        settings: engine.ProjectionSettings,
                        outlook_settings: outlook_engine.OutlookSettings) -> OutlookInputs:
    """The §6.4 inputs of the station (baseline before D) with the residents up to the
    window's end, T_min from forecast or normals, and last season's estimates."""
    D = window.run_date
    reach = (window.end - D).days + 1
    inputs = read_station_inputs(station, D, reach, settings)
    forecast = dict(WeatherForecast.objects.filter(
        county_id=station.county_id, date__gte=window.first_day, date__lte=window.end).values_list("date", "t_min"))
    temps, from_forecast = outlook_engine.window_temperatures(window.dates, forecast, outlook_settings)

    villages = list(Village.objects.filter(grid__station_id=station.pk).order_by("code").values_list(
        "pk", "code", "name"))
    reported = set(ReturningResident.objects.filter(
        village__grid__station_id=station.pk, season=window.season,
    ).values_list("village_id", flat=True).distinct().order_by())

    e_household = np.zeros(0, dtype=np.int64)
    e_arrival = np.zeros(0, dtype="datetime64[D]")
    e_departure = np.zeros(0, dtype="datetime64[D]")
    if outlook_settings.use_estimates:
        rows = list(ReturningResident.objects.filter(
            household__transformer__grid__station_id=station.pk, season=window.season - 1,
        ).exclude(village_id__in=reported).values_list(
            "household_id", "village_id", "arrival_date", "departure_date").order_by())
        if rows:
            h_index = _household_index(station)
            kept, e_arrival, e_departure = outlook_engine.estimated_stays(
                arrival=np.array([r[2] for r in rows], dtype="datetime64[D]"),
                departure=np.array([np.datetime64("NaT") if r[3] is None else r[3] for r in rows],
                                   dtype="datetime64[D]"),
                village=np.array([r[1] for r in rows]), reported_villages=sorted(reported),
                previous_new_year=lunar_new_year(window.season - 1), new_year=window.new_year)
            e_household = np.array([h_index.get(r[0], -1) for r in rows], dtype=np.int64)[kept]
            e_arrival, e_departure = e_arrival[kept], e_departure[kept]
    registered = inputs.r_household.size
    inputs = dataclasses.replace(
        inputs, temps=list(temps),
        r_household=np.concatenate([inputs.r_household, e_household]),
        arrival=np.concatenate([inputs.arrival, e_arrival]),
        departure=np.concatenate([inputs.departure, e_departure]))
    return OutlookInputs(inputs=inputs, registered=registered, from_forecast=from_forecast, villages=villages,
                         reported=reported)


def _household_index(station: Station) -> dict[int, int]:
    """The index `read_station_inputs` gives each household of the station (same order)."""
    from customers.models import Household

    ids = Household.objects.filter(transformer__grid__station_id=station.pk).values_list("pk", flat=True).order_by("pk")
    return {pk: i for i, pk in enumerate(ids)}


def _split(data: OutlookInputs, group: np.ndarray, groups: int,
           window: outlook_engine.SeasonWindow) -> outlook_engine.HouseholdCounts:
    inputs, r = data.inputs, data.registered
    return outlook_engine.registered_and_estimated(
        registered_household=inputs.r_household[:r], registered_arrival=inputs.arrival[:r],
        registered_departure=inputs.departure[:r], estimated_household=inputs.r_household[r:],
        estimated_arrival=inputs.arrival[r:], estimated_departure=inputs.departure[r:],
        household_group=group, groups=groups, first_day=window.first_day, days=window.days)


def _measures_with_order_by(j: int, measures: engine.Measures, inputs: StationInputs,
                            window: outlook_engine.SeasonWindow, first_heavy: dt.date | None,
                            outlook_settings: outlook_engine.OutlookSettings, line: bool) -> list[dict]:
    """The §6.5 measures of asset j, each with its order-by date (first heavy day − lead time)."""
    out = recommended_measures(j, measures, inputs, window.first_day, line)
    for measure in out:
        if first_heavy is not None:
            order_by = outlook_engine.order_by_date(first_heavy, measure["kind"], outlook_settings)
            measure["order_by"] = order_by.isoformat()
            measure["late"] = order_by < window.run_date
    return out


def outlook_station(*, station_id: int, run_date: dt.date, user: AbstractBaseUser | None = None) -> OutlookRun:
    """Make (or remake) a station's outlook of `run_date`; one transaction; audited."""
    station = Station.objects.get(pk=station_id)
    settings = settings_for_station(station)
    outlook_settings = outlook_settings_for_station(station)
    window = outlook_engine.season_window(run_date, outlook_settings)
    started = time.perf_counter()
    items: list[OutlookItem] = []
    days_json: list[dict] = []
    headline: dict[str, Any] = {}
    message = ""
    if not window.in_reach:
        message = (f"New Year {window.new_year.isoformat()} is {window.days_to_new_year} days away, "
                   f"more than {outlook_settings.reach_days}: nothing projected")
    else:
        data = read_outlook_inputs(station, window, settings, outlook_settings)
        inputs = data.inputs
        computed = compute_station(inputs, window.first_day, window.days, settings)
        nt, nl = len(inputs.t_ids), len(inputs.l_ids)
        t_counts = _split(data, inputs.h_transformer, nt, window)
        l_counts = _split(data, inputs.h_line, nl, window)
        for i, day in enumerate(window.dates):
            days_json.append({"date": day.isoformat(), "t_min": float(inputs.temps[i]),
                              "source": "forecast" if data.from_forecast[i] else "normal",
                              "festival": float(computed.factors.festival[i])})
        shape = np.asarray(settings.extra_demand_shape)
        for line, result, counts, measures, ids, grids in (
                (False, computed.transformers, t_counts, computed.measures, inputs.t_ids, inputs.t_grid),
                (True, computed.lines, l_counts, computed.line_measures, inputs.l_ids, inputs.l_grid)):
            # The increase at each day's peak hour, n·p_hh·k_c(n)·e·g·s(h), shared between the
            # registered and estimated households in proportion (for the chart).
            increase = engine._extra_load_per_day(counts.total, computed.factors, settings) * shape[
                result.peak_hour.astype(np.int64)]
            with np.errstate(invalid="ignore", divide="ignore"):
                estimated_part = np.where(counts.total > 0, counts.estimated / np.maximum(counts.total, 1), 0.0)
            first_heavy = outlook_engine.first_heavy_day(result.daily_level)
            peak_day = result.run_peak_day
            for j in np.flatnonzero(result.level >= engine.Level.WATCH):
                p = int(peak_day[j])
                fh = None if first_heavy[j] < 0 else window.dates[int(first_heavy[j])]
                recommended = _measures_with_order_by(j, measures, inputs, window, fh, outlook_settings, line)
                order_dates = [m["order_by"] for m in recommended if "order_by" in m]
                order_by = dt.date.fromisoformat(min(order_dates)) if order_dates else None
                items.append(OutlookItem(
                    **{("line_id" if line else "transformer_id"): ids[j]}, grid_id=grids[j],
                    level=int(result.level[j]), peak_date=window.dates[p], peak_kw=float(result.peak_kw[j, p]),
                    peak_load_rate=float(result.peak_load_rate[j, p]), first_heavy_date=fh,
                    registered_households=int(counts.registered[j, p]),
                    estimated_households=int(counts.estimated[j, p]),
                    order_by=order_by, late=bool(order_by and order_by < run_date),
                    daily=[[int(result.daily_level[j, d]), round(float(result.peak_load_rate[j, d]), 4),
                            round(float(result.peak_kw[j, d]), 2), int(counts.registered[j, d]),
                            int(counts.estimated[j, d]),
                            round(float(increase[j, d] * (1 - estimated_part[j, d])), 2),
                            round(float(increase[j, d] * estimated_part[j, d]), 2)] for d in range(window.days)],
                    measures=recommended))
        headline = _headline(computed, t_counts, window, data, settings)
    with transaction.atomic():
        before = said_before(station_id=station.pk, season=window.season, run_date=run_date)
        OutlookRun.objects.filter(station_id=station.pk, run_date=run_date).delete()
        run = OutlookRun.objects.create(
            station=station, run_date=run_date, season=window.season, new_year=window.new_year,
            window_start=window.start, window_end=window.end, first_day=window.first_day,
            days_projected=window.days, days=days_json, headline=headline, message=message,
            settings_snapshot={"projection": settings.to_dict(), "outlook": outlook_settings.to_dict()},
            created_by=_user_or_none(user))
        for item in items:
            item.run = run
        OutlookItem.objects.bulk_create(items, batch_size=1000)
        notified = outlook_notify(run=run, items=items, notice_days=outlook_settings.notice_days_before_order_by,
                                  before=before)
        audit_record(user=user, action="outlook_run", object_type="loadforecast.outlookrun", object_id=run.pk,
                     detail={"run_date": run_date.isoformat(), "station_id": station.pk, "season": window.season,
                             "items": len(items), "notified": notified,
                             "seconds": round(time.perf_counter() - started, 3)})
    return run


def _headline(computed, t_counts: outlook_engine.HouseholdCounts, window: outlook_engine.SeasonWindow,
              data: OutlookInputs, settings: engine.ProjectionSettings) -> dict[str, Any]:
    """Counts per level (transformers and lines), the peak day, the temporary kVA, list coverage."""
    def levels(result: engine.ProjectionResult) -> dict[str, int]:
        counts = np.bincount(result.level[result.level >= 0], minlength=5)
        return {name: int(counts[i]) for i, name in enumerate(LEVEL_NAMES)}

    t = computed.transformers
    overloaded = (t.daily_level >= engine.Level.OVERLOAD).sum(axis=0)
    heavy = (t.daily_level >= engine.Level.HEAVY).sum(axis=0)
    peak_day = None
    if heavy.any():
        peak_day = window.dates[int(np.lexsort((-heavy, -overloaded))[0])]
    temp_kva = computed.measures.temporary_rating_kva
    # The increase n·p_hh·k_c(n)·e(d)·g(T) of each transformer-day, shared between the
    # registered and estimated households in proportion to their numbers.
    increase = engine._extra_load_per_day(t_counts.total, computed.factors, settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimated_part = np.where(t_counts.total > 0, t_counts.estimated / t_counts.total, 0.0)
    total_increase = float(increase.sum())
    return {
        "transformers": levels(t), "lines": levels(computed.lines),
        "peak_day": peak_day.isoformat() if peak_day else None,
        "temporary_kva": float(np.nansum(temp_kva[computed.measures.needed & (t.level >= engine.Level.HEAVY)])),
        "villages": len(data.villages), "villages_reported": len(data.reported & {v[0] for v in data.villages}),
        "villages_missing": [{"id": v[0], "code": v[1], "name": v[2]} for v in data.villages
                             if v[0] not in data.reported],
        "estimated_share": round(float((increase * estimated_part).sum()) / total_increase, 4)
        if total_increase > 0 else 0.0,
        "forecast_days": int(data.from_forecast.sum()), "normal_days": int((~data.from_forecast).sum()),
    }


def outlook_run(*, run_date: dt.date, station_id: int | None = None,
                user: AbstractBaseUser | None = None) -> list[OutlookRun]:
    """The outlook of `run_date` for one station or all, in this process (command, nightly)."""
    stations = [station_id] if station_id is not None else list(
        Station.objects.order_by("pk").values_list("pk", flat=True))
    return [outlook_station(station_id=pk, run_date=run_date, user=user) for pk in stations]


def outlook_in_reach(run_date: dt.date) -> bool:
    """Whether the default window of a season is in reach on `run_date` (the nightly run's test);
    a county with other settings is judged station by station by `outlook_station`."""
    return outlook_engine.season_window(run_date, outlook_engine.OutlookSettings()).in_reach or any(
        outlook_engine.season_window(run_date, outlook_engine.OutlookSettings.from_dict(values)).in_reach
        for values in OutlookSettings.objects.values_list("values", flat=True))


__all__ = ["LEVEL_CODES", "outlook_in_reach", "outlook_run", "outlook_settings_for_station",
           "outlook_settings_update", "outlook_station", "read_outlook_inputs"]


OUTLOOK_STATION_TASK = "loadforecast.tasks.outlook_station"


def outlook_enqueue(*, run_date: dt.date) -> int:
    """The nightly outlook: one station task each while a season's window is in reach;
    returns the number of stations sent (0 out of season). A queue that is down raises
    QueueUnavailable: the next night makes the outlook again."""
    if not outlook_in_reach(run_date):
        return 0
    stations = list(Station.objects.order_by("pk").values_list("pk", flat=True))
    try:
        for index, station_id in enumerate(stations):
            queue_send(OUTLOOK_STATION_TASK, (run_date.isoformat(), station_id), check=index == 0)
    except QueueUnavailable:
        logger.warning("outlook of %s not sent: the task queue is unavailable", run_date)
        return index
    return len(stations)


# ---------------------------------------------------------------------------------------
# Planning a measure from an outlook item
# ---------------------------------------------------------------------------------------


def outlook_item_for_planning(user: AbstractBaseUser, item_id: int) -> OutlookItem:
    """The item, if `user` is station staff of its station (the people who order transformers
    and send notices); anyone else gets a 404, exactly like a missing item."""
    item = get_for_user_or_404(user, OutlookItem.objects.select_related("run", "transformer", "line"), pk=item_id)
    if not RoleAssignment.objects.filter(user_id=user.pk, role=Role.STATION_STAFF,
                                         station_id=item.run.station_id).exists():
        raise Http404
    return item


def _outlook_thresholds(run: OutlookRun) -> dict[str, Any]:
    settings = engine.ProjectionSettings.from_dict(run.settings_snapshot.get("projection") or {})
    return {"watch": settings.watch_load_rate, "heavy": settings.heavy_load_rate,
            "overload": settings.overload_load_rate, "thermal": settings.thermal_load_rate,
            "heavy_hours": settings.heavy_duration_hours, "overload_hours": settings.overload_duration_hours}


def _alert_for_item(user: AbstractBaseUser, item: OutlookItem) -> Alert:
    """The asset's active alert over the item's window, or a new one made from the item (the
    21-day runs continue it once its days come inside their horizon)."""
    run = item.run
    asset = Q(transformer_id=item.transformer_id) if item.transformer_id else Q(line_id=item.line_id)
    alert = (Alert.objects.select_for_update().filter(asset, status__in=Alert.ACTIVE, first_date__lte=run.window_end,
                                                      last_date__gte=run.first_day).order_by("-level", "pk").first())
    if alert is not None:
        return alert
    dates = [dt.date.fromisoformat(day["date"]) for day in run.days]
    flagged = [dates[d] for d, day in enumerate(item.daily) if day[0] >= Level.WATCH and d < len(dates)]
    alert = Alert.objects.create(
        transformer_id=item.transformer_id, line_id=item.line_id, grid_id=item.grid_id, level=item.level,
        first_date=min(flagged, default=item.peak_date), last_date=max(flagged, default=item.peak_date),
        peak_date=item.peak_date, peak_kw=item.peak_kw, peak_load_rate=item.peak_load_rate,
        returning_households=item.registered_households + item.estimated_households,
        thresholds=_outlook_thresholds(run), measures=item.measures)
    AlertHistory.objects.create(alert=alert, user=_user_or_none(user), action="created", status=alert.status,
                                level=alert.level, note=f"season outlook of {run.run_date.isoformat()}")
    audit_record(user=user, action="alert.from_outlook", object_type="loadforecast.alert", object_id=alert.pk,
                 detail={"outlook_item": item.pk, "outlook_run": run.pk})
    return alert


@transaction.atomic
def outlook_measure_plan(*, user: AbstractBaseUser, item_id: int, kind: str, planned_date: dt.date,
                         kva: float | None = None, kw: float | None = None, neighbour_id: int | None = None,
                         note: str = "") -> Measure:
    """Plan the measure of an outlook item (station staff of its station only).

    Measures belong to alerts: the item's asset gets its active alert over the window, or one
    made from the item, and the measure is planned on it by `measure_plan` (same checks, the
    alert becomes "measure planned", audited). The item then counts as planned and its
    order-by notice is not sent (outlook_notify)."""
    item = outlook_item_for_planning(user, item_id)
    require_perm(user, "loadforecast.add_measure")
    alert = _alert_for_item(user, item)
    measure = measure_plan(user=user, alert_id=alert.pk, kind=kind, planned_date=planned_date, kva=kva, kw=kw,
                           neighbour_id=neighbour_id, note=note)
    audit_record(user=user, action="outlook.measure_planned", object_type="loadforecast.outlookitem",
                 object_id=item.pk, detail={"measure": measure.pk, "alert": alert.pk, "kind": kind,
                                            "planned_date": planned_date.isoformat(), "order_by": (
                                                item.order_by.isoformat() if item.order_by else None)})
    return measure
