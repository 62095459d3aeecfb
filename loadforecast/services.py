"""Projection runs: read a station's inputs set-based into numpy, call the engine, write
the projections and alerts (docs/domain.md §6.4–6.5), one transaction per station; and the
alert actions of station staff.

A run is started by `projection_enqueue` (the nightly task) or by a station's "run now"
(`projection_request`, the page and the API alike). Its station chunks
(`projection_chunk`) and its finishing step (`projection_try_finish`) run on the Celery
workers, whose tasks (tasks.py) take ids and call these functions; the messages are sent
by task name (`zhoukou_grid.core.queue.queue_send`), so this module does not import the
tasks. `projection_run` runs a date in this process (the `run_projection` command, tests).

When the queue (Redis) is down a run is kept QUEUED, waiting for it (`projection_send`);
`projection_watch` (the beat, every minute) sends it once the queue is back, and closes the
runs no station has reported to within the time limit (their worker was killed with their
finishing message).

Done measures change the inputs of the next run: a temporary capacity raises the rating
to its kVA, a transfer moves ΔP = kVA · cosφ of the baseline (at most the baseline of each
hour) from the asset to the named neighbour.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import struct
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings as django_settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Household, ReturningResident
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.queue import (
    QueueUnavailable,
    queue_send,
    queue_task,
    queue_waiting_mark,
    queue_waiting_q,
    queue_waiting_since,
)
from zhoukou_grid.core.scoping import for_user, get_writable_or_404, require_perm, writable_for_user
from zhoukou_grid.territory.models import LVLine, Station, Transformer

from . import engine
from .engine import HOURS, Level
from .models import (
    Alert,
    AlertHistory,
    AssetProjection,
    LoadReading,
    Measure,
    ProjectionRun,
    ProjectionSettings,
    WeatherForecast,
    unpack_curves,
)
from .notify import run_alerts_notify

logger = logging.getLogger(__name__)

SKIP_REASONS = {
    engine.AssetStatus.NO_LOAD_DATA: "no load data",
    engine.AssetStatus.INVALID_RATING: "invalid rating",
    engine.AssetStatus.NO_HOUSEHOLD_SHARE: "no households on the transformer to share its baseline",
}
PHASES = {"A": 0, "B": 1, "C": 2}


def _user_or_none(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """The user to store on a row: None for the system (nightly run, command) and anonymous."""
    return user if getattr(user, "is_authenticated", False) else None


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------


def settings_for_station(station: Station) -> engine.ProjectionSettings:
    """The county's settings with the station's overrides on top (defaults where unset)."""
    rows = {row.station_id: row.values for row in ProjectionSettings.objects.filter(
        Q(county_id=station.county_id, station__isnull=True) | Q(station_id=station.pk))}
    return engine.ProjectionSettings.from_dict(rows.get(None), rows.get(station.pk))


@transaction.atomic
def settings_update(*, county_id: int, station_id: int | None = None, values: dict[str, Any],
                    user: AbstractBaseUser | None = None) -> ProjectionSettings:
    """Replace the stored settings of a county (or a station's overrides) after validating
    them with the county's settings underneath; raises engine.SettingsError; audited."""
    county_values = {}
    if station_id is not None:
        county_row = ProjectionSettings.objects.filter(county_id=county_id, station__isnull=True).first()
        county_values = county_row.values if county_row else {}
    engine.ProjectionSettings.from_dict(county_values, values)  # raises with the reasons
    row, _ = ProjectionSettings.objects.select_for_update().get_or_create(
        county_id=county_id, station_id=station_id, defaults={"values": {}})
    before = row.values
    row.values = dict(values)
    row.updated_by = _user_or_none(user)
    row.save()
    audit_record(user=user, action="projection_settings", object_type="loadforecast.projectionsettings",
                 object_id=row.pk, detail={"before": before, "after": row.values})
    return row


# ---------------------------------------------------------------------------------------
# A station's inputs and the engine on them
# ---------------------------------------------------------------------------------------


def _index(ids: list[int]) -> dict[int, int]:
    return {pk: i for i, pk in enumerate(ids)}


@dataclass(eq=False)
class StationInputs:
    """Every input of one station's projection, as the engine takes them: transformers
    (index j, `t_…`), LV lines (`l_…`), households (`h_…`, the index of their transformer,
    line and phase, −1 where none) and returning residents (`r_household`, `arrival`,
    `departure`). Arrays are numpy; `rated` is raised in place by done measures."""

    t_ids: list[int]
    t_codes: list[str]
    t_grid: list[int]
    rated: np.ndarray  # kVA per transformer
    loss_ratio: np.ndarray  # Pk / P0 per transformer (NaN when unknown)
    l_ids: list[int]
    l_codes: list[str]
    l_grid: list[int]
    l_transformer: np.ndarray  # the index of each line's transformer
    ampacity: np.ndarray
    t_hourly: np.ndarray  # (transformers, baseline days, 24) kW, NaN where not metered
    t_daily: np.ndarray  # (transformers, baseline days) daily maxima where only those were read
    l_hourly: np.ndarray  # (lines, baseline days, 24)
    h_transformer: np.ndarray
    h_line: np.ndarray
    h_phase: np.ndarray
    r_household: np.ndarray
    arrival: np.ndarray  # datetime64[D]
    departure: np.ndarray  # datetime64[D], NaT when open
    unlinked: int  # residents of the station's villages linked to no household
    temps: list[float | None]  # the forecast minimum of each day of the horizon
    ties: np.ndarray  # (pairs, 2) transformer indices tied to each other
    done_measures: list[tuple[int, str, float | None, int | None]] = field(default_factory=list)

    @property
    def t_index(self) -> dict[int, int]:
        return _index(self.t_ids)

    @property
    def l_index(self) -> dict[int, int]:
        return _index(self.l_ids)


@dataclass(frozen=True)
class StationProjection:
    """What the engine made of one station's inputs."""

    transformers: engine.ProjectionResult
    lines: engine.ProjectionResult
    measures: engine.Measures
    line_measures: engine.Measures
    t_episodes: engine.Episodes
    l_episodes: engine.Episodes
    unlinked: int
    factors: engine.HorizonFactors


def _read_history(station: Station, first_day: dt.date, run_date: dt.date, t_index: dict[int, int],
                  l_index: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The metered load of the baseline days: one query, the curves unpacked at once."""
    history_days = (run_date - first_day).days
    t_hourly = np.full((len(t_index), history_days, HOURS), np.nan)
    t_daily = np.full((len(t_index), history_days), np.nan)
    l_hourly = np.full((len(l_index), history_days, HOURS), np.nan)
    readings = list(LoadReading.objects.filter(grid__station_id=station.pk, date__gte=first_day,
                                               date__lt=run_date).values_list(
        "transformer_id", "line_id", "date", "hourly_kw", "max_kw").order_by())
    if readings:
        curves = unpack_curves(r[3] for r in readings)
        for i, (transformer_id, line_id, day, blob, max_kw) in enumerate(readings):
            d = (day - first_day).days
            if transformer_id is not None:
                j = t_index[transformer_id]
                if blob is not None:
                    t_hourly[j, d] = curves[i]
                elif max_kw is not None:
                    t_daily[j, d] = max_kw
            elif blob is not None and line_id in l_index:
                l_hourly[l_index[line_id], d] = curves[i]
    return t_hourly, t_daily, l_hourly


def _resident_stays(residents: list[tuple], h_index: dict[int, int], in_horizon: Q, station: Station):
    """(household index, arrival, departure) arrays of the station's residents, one person
    (same ID number HMAC) counted at most once a day wherever they are listed: the same
    person on two villages' lists counts at the earliest arrival (engine.one_stay_per_person).
    Their records in other stations take part in the choice but are not counted here, so
    every station picks the same record."""
    elsewhere = list(ReturningResident.objects.filter(
        in_horizon, household__isnull=False,
        id_number_hmac__in=ReturningResident.objects.filter(
            in_horizon, household__transformer__grid__station_id=station.pk).exclude(id_number_hmac="").values(
            "id_number_hmac")).exclude(household__transformer__grid__station_id=station.pk).values_list(
        "arrival_date", "departure_date", "pk", "id_number_hmac").order_by())
    rows = [r[1:] for r in residents] + elsewhere
    codes: dict[str, int] = {}
    person = np.array([codes.setdefault(r[3], len(codes)) if r[3] else -1 for r in rows], dtype=np.int64)
    arrival, departure = engine.one_stay_per_person(
        person, np.array([r[0] for r in rows], dtype="datetime64[D]"),
        np.array([np.datetime64("NaT") if r[1] is None else r[1] for r in rows], dtype="datetime64[D]"),
        np.array([r[2] for r in rows], dtype=np.int64))
    here = len(residents)
    return np.array([h_index[r[0]] for r in residents], dtype=np.int64), arrival[:here], departure[:here]


def _read_households(station: Station, run_date: dt.date, horizon_end: dt.date, t_index: dict[int, int],
                     l_index: dict[int, int]) -> dict[str, Any]:
    """Households (their transformer, line and phase) and the residents returning to them."""
    households = list(Household.objects.filter(transformer__grid__station_id=station.pk).values_list(
        "pk", "transformer_id", "line_id", "phase").order_by("pk"))
    h_index = _index([h[0] for h in households])
    in_horizon = Q(arrival_date__lt=horizon_end) & (Q(departure_date__isnull=True) | Q(departure_date__gt=run_date))
    residents = list(ReturningResident.objects.filter(in_horizon, household__transformer__grid__station_id=station.pk)
                     .values_list("household_id", "arrival_date", "departure_date", "pk", "id_number_hmac")
                     .order_by())
    r_household, arrival, departure = _resident_stays(residents, h_index, in_horizon, station)
    return {
        "h_transformer": np.array([t_index.get(h[1], -1) for h in households], dtype=np.int64),
        "h_line": np.array([l_index.get(h[2], -1) if h[2] else -1 for h in households], dtype=np.int64),
        "h_phase": np.array([PHASES.get(h[3], -1) for h in households], dtype=np.int64),
        "r_household": r_household,
        "arrival": arrival,
        "departure": departure,
        "unlinked": ReturningResident.objects.filter(village__grid__station_id=station.pk, household__isnull=True,
                                                     arrival_date__lt=horizon_end).count(),
    }


def read_station_inputs(station: Station, run_date: dt.date, days: int,
                        settings: engine.ProjectionSettings) -> StationInputs:
    """Every input of one station's projection as numpy arrays, a fixed number of queries."""
    first_day = run_date - dt.timedelta(days=settings.baseline_days)
    horizon_end = run_date + dt.timedelta(days=days)
    t_rows = list(Transformer.objects.filter(grid__station_id=station.pk).order_by("pk").values_list(
        "pk", "code", "rated_kva", "p0_w", "pk_w", "grid_id"))
    l_rows = list(LVLine.objects.filter(transformer__grid__station_id=station.pk).order_by("pk").values_list(
        "pk", "code", "transformer_id", "ampacity_a", "transformer__grid_id"))
    t_ids = [r[0] for r in t_rows]
    t_index, l_index = _index(t_ids), _index([r[0] for r in l_rows])
    with np.errstate(invalid="ignore", divide="ignore"):
        loss_ratio = np.array([(r[4] / r[3]) if r[3] and r[4] else np.nan for r in t_rows], dtype=np.float64)
    t_hourly, t_daily, l_hourly = _read_history(station, first_day, run_date, t_index, l_index)
    temps = dict(WeatherForecast.objects.filter(county_id=station.county_id, date__gte=run_date,
                                                date__lt=horizon_end).values_list("date", "t_min"))
    Tie = Transformer.ties.through
    ties = [(t_index[a], t_index[b]) for a, b in Tie.objects.filter(
        from_transformer_id__in=t_ids, to_transformer_id__in=t_ids).values_list(
        "from_transformer_id", "to_transformer_id").order_by() if a < b]
    done = list(Measure.objects.filter(status=Measure.Status.DONE, alert__transformer__grid__station_id=station.pk)
                .exclude(alert__status=Alert.Status.DISMISSED)
                .values_list("alert__transformer_id", "kind", "kva", "neighbour_id").order_by())
    return StationInputs(
        t_ids=t_ids, t_codes=[r[1] for r in t_rows], t_grid=[r[5] for r in t_rows],
        rated=np.array([r[2] for r in t_rows], dtype=np.float64), loss_ratio=loss_ratio,
        l_ids=[r[0] for r in l_rows], l_codes=[r[1] for r in l_rows], l_grid=[r[4] for r in l_rows],
        l_transformer=np.array([t_index[r[2]] for r in l_rows], dtype=np.int64),
        ampacity=np.array([r[3] for r in l_rows], dtype=np.float64),
        t_hourly=t_hourly, t_daily=t_daily, l_hourly=l_hourly,
        **_read_households(station, run_date, horizon_end, t_index, l_index),
        temps=[temps.get(run_date + dt.timedelta(days=d)) for d in range(days)],
        ties=np.array(ties, dtype=np.int64).reshape(-1, 2), done_measures=done,
    )


def apply_done_measures(inputs: StationInputs, baseline_kw: np.ndarray, settings: engine.ProjectionSettings) -> None:
    """Temporary capacity raises the rating; a transfer moves kVA·cosφ of baseline to the neighbour."""
    t_index = inputs.t_index
    for transformer_id, kind, kva, neighbour_id in inputs.done_measures:
        j = t_index.get(transformer_id)
        if j is None or not kva:
            continue
        if kind == Measure.Kind.TEMP_CAPACITY:
            inputs.rated[j] = max(inputs.rated[j], kva)
        elif kind == Measure.Kind.TRANSFER and not np.isnan(baseline_kw[j]).any():
            moved = np.minimum(baseline_kw[j], kva * settings.cos_phi)
            baseline_kw[j] -= moved
            k = t_index.get(neighbour_id)
            if k is not None and not np.isnan(baseline_kw[k]).any():
                baseline_kw[k] += moved


def _returning_present(inputs: StationInputs, group: np.ndarray, groups: int, run_date: dt.date,
                       days: int) -> engine.ReturningHouseholds:
    return engine.returning_households_present(
        resident_household=inputs.r_household, arrival=inputs.arrival, departure=inputs.departure,
        household_group=group, groups=groups, run_date=run_date, days=days)


def compute_station(inputs: StationInputs, run_date: dt.date, days: int,
                    settings: engine.ProjectionSettings) -> StationProjection:
    """The engine on one station's arrays: projections, episodes and measures."""
    nt, nl = len(inputs.t_ids), len(inputs.l_ids)
    baseline = engine.baseline_from_history(inputs.t_hourly, inputs.t_daily, settings)
    baseline_kw = baseline.kw.copy()
    apply_done_measures(inputs, baseline_kw, settings)
    line_baseline = engine.baseline_from_history(inputs.l_hourly, None, settings)
    n_t = _returning_present(inputs, inputs.h_transformer, nt, run_date, days)
    n_l = _returning_present(inputs, inputs.h_line, nl, run_date, days)
    phase_group = np.where((inputs.h_phase >= 0) & (inputs.h_transformer >= 0),
                           inputs.h_transformer * 3 + inputs.h_phase, -1)
    n_p = _returning_present(inputs, phase_group, nt * 3, run_date, days).present.reshape(nt, 3, days).transpose(
        0, 2, 1)
    factors = engine.horizon_factors(run_date, inputs.temps, settings, days=days)
    transformers = engine.project_transformers(
        baseline_kw=baseline_kw, rated_kva=inputs.rated, returning_households=n_t.present, factors=factors,
        settings=settings, loss_ratio=inputs.loss_ratio, returning_by_phase=n_p)
    households_on_t = np.bincount(inputs.h_transformer[inputs.h_transformer >= 0], minlength=nt)
    households_on_l = np.bincount(inputs.h_line[inputs.h_line >= 0], minlength=nl)
    lines = engine.project_lines(
        line_transformer=inputs.l_transformer, line_households=households_on_l,
        transformer_households=households_on_t, transformer_baseline_kw=baseline_kw,
        ampacity_a=inputs.ampacity, returning_households=n_l.present, factors=factors, settings=settings,
        metered_baseline_kw=line_baseline.kw)
    measures = engine.size_measures(
        rated_kva=inputs.rated, peak_kw=transformers.run_peak_kw, peak_day=transformers.run_peak_day,
        settings=settings, ties=inputs.ties, phase_imbalance=transformers.phase_imbalance,
        phase_households_to_move=transformers.phase_households_to_move)
    line_measures = engine.size_line_measures(
        ampacity_a=inputs.ampacity, peak_kw=lines.run_peak_kw, peak_day=lines.run_peak_day, settings=settings)
    return StationProjection(
        transformers=transformers, lines=lines, measures=measures, line_measures=line_measures,
        t_episodes=engine.find_episodes(transformers), l_episodes=engine.find_episodes(lines),
        unlinked=n_t.unlinked_residents, factors=factors)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

_PG_EPOCH = dt.date(2000, 1, 1)


def _projection_arrays(result: engine.ProjectionResult, ids: list[int], grids: list[int], run_date: dt.date):
    ok = np.flatnonzero(result.status == engine.AssetStatus.OK)
    days = result.peak_kw.shape[1]
    asset = np.repeat(np.asarray(ids, dtype=np.int64)[ok], days) if len(ids) else np.zeros(0, dtype=np.int64)
    grid = np.repeat(np.asarray(grids, dtype=np.int64)[ok], days) if len(ids) else np.zeros(0, dtype=np.int64)
    day = np.tile(np.arange(days), ok.size)
    figures = {
        "peak_kw": result.peak_kw[ok].ravel(),
        "peak_load_rate": result.peak_load_rate[ok].ravel(),
        "hours_ge_80": result.hours_at_or_above_heavy[ok].ravel(),
        "hours_ge_100": result.hours_at_or_above_overload[ok].ravel(),
        "returning_households": result.returning_households[ok].ravel(),
        "level": result.daily_level[ok].ravel(),
        "peak_a": None if result.peak_current_a is None else result.peak_current_a[ok].ravel(),
    }
    return asset, grid, day, figures


def _copy_binary(table: str, columns: list[tuple[str, str]], data: dict[str, np.ndarray], rows: int,
                 nulls: set[str]) -> None:
    """COPY … FROM STDIN (FORMAT binary) built with one numpy structured array: every row has
    the same layout (NULL columns are a length of −1 with no bytes)."""
    fields = [("count", ">i2")]
    for name, pg_type in columns:
        fields.append((f"{name}_len", ">i4"))
        if name not in nulls:
            fields.append((name, {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float8": ">f8", "date": ">i4"}[pg_type]))
    record = np.zeros(rows, dtype=np.dtype(fields))
    record["count"] = len(columns)
    for name, _pg_type in columns:
        if name in nulls:
            record[f"{name}_len"] = -1
            continue
        record[f"{name}_len"] = record.dtype[name].itemsize
        record[name] = data[name]
    payload = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + record.tobytes() + struct.pack(">h", -1)
    names = ", ".join(connection.ops.quote_name(name) for name, _ in columns)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN WITH (FORMAT binary)",
                                  io.BytesIO(payload))


def write_projections(run: ProjectionRun, computed: StationProjection, inputs: StationInputs) -> int:
    """Insert the run's asset-days (COPY binary on PostgreSQL, bulk_create elsewhere)."""
    total = 0
    origin = (run.run_date - _PG_EPOCH).days
    for kind, ids, grids, result in (("transformer", inputs.t_ids, inputs.t_grid, computed.transformers),
                                     ("line", inputs.l_ids, inputs.l_grid, computed.lines)):
        asset, grid, day, figures = _projection_arrays(result, ids, grids, run.run_date)
        rows = asset.size
        total += rows
        if not rows:
            continue
        if connection.vendor == "postgresql":
            data = {kind + "_id": asset, "grid_id": grid, "run_id": np.full(rows, run.pk), "date": origin + day,
                    **{k: v for k, v in figures.items() if v is not None}}
            columns = [("transformer_id", "int8"), ("line_id", "int8"), ("grid_id", "int8"), ("run_id", "int8"),
                       ("date", "date"), ("peak_kw", "float8"), ("peak_a", "float8"), ("peak_load_rate", "float8"),
                       ("hours_ge_80", "int2"), ("hours_ge_100", "int2"), ("returning_households", "int4"),
                       ("level", "int2")]
            nulls = {"line_id", "peak_a"} if kind == "transformer" else {"transformer_id"}
            _copy_binary(AssetProjection._meta.db_table, columns, data, rows, nulls)
        else:
            dates = [run.run_date + dt.timedelta(days=int(d)) for d in range(int(day.max()) + 1)]
            peak_a = figures["peak_a"]
            AssetProjection.objects.bulk_create([
                AssetProjection(
                    **{kind + "_id": int(asset[i])}, grid_id=int(grid[i]), run_id=run.pk, date=dates[int(day[i])],
                    peak_kw=float(figures["peak_kw"][i]), peak_load_rate=float(figures["peak_load_rate"][i]),
                    peak_a=None if peak_a is None else float(peak_a[i]),
                    hours_ge_80=int(figures["hours_ge_80"][i]), hours_ge_100=int(figures["hours_ge_100"][i]),
                    returning_households=int(figures["returning_households"][i]), level=int(figures["level"][i]))
                for i in range(rows)], batch_size=2000)
    return total


def recommended_measures(j: int, measures: engine.Measures, inputs: StationInputs, first_day: dt.date,
                         line: bool) -> list[dict]:
    """The §6.5 measures sized for asset j (none when it needs none); the patrol's day counts
    from `first_day`, the projection's first day (the run date, or the outlook window's)."""
    if not measures.needed[j]:
        return []
    out: list[dict] = []
    if not line:
        k = int(measures.transfer_to[j])
        if k >= 0:
            out.append({"kind": "transfer", "kva": round(float(measures.transfer_kva[j]), 1),
                        "neighbour_id": inputs.t_ids[k], "neighbour_code": inputs.t_codes[k]})
        if measures.phase_balancing[j]:
            out.append({"kind": "phase_balance", "households": int(measures.phase_households_to_move[j])})
        if not np.isnan(measures.temporary_rating_kva[j]):
            out.append({"kind": "temp_capacity", "kva": float(measures.temporary_rating_kva[j])})
    out.append({"kind": "staggered", "kw": round(float(measures.staggered_use_kw[j]), 1)})
    patrol = first_day + dt.timedelta(days=int(measures.patrol_day[j]))
    out.append({"kind": "patrol", "date": patrol.isoformat()})
    return out


def _asset_key(alert: Alert) -> tuple[str, int]:
    return ("t", alert.transformer_id) if alert.transformer_id else ("l", alert.line_id)


@dataclass
class _AlertChanges:
    """What one run does to a station's alerts, written at the end in bulk."""

    new: list[Alert] = field(default_factory=list)
    changed: list[Alert] = field(default_factory=list)
    history: list[AlertHistory] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: {"alerts_new": 0, "alerts_updated": 0,
                                                            "alerts_mitigated": 0})

    def mitigate(self, alert: Alert, note: str) -> None:
        alert.status = Alert.Status.MITIGATED
        self.counts["alerts_mitigated"] += 1
        self.history.append(AlertHistory(alert=alert, action="mitigated", status=alert.status, level=alert.level,
                                         note=note))


def _episode_values(run: ProjectionRun, episodes: engine.Episodes, e: int, result: engine.ProjectionResult,
                    recommended: list[dict], thresholds: dict[str, Any]) -> dict[str, Any]:
    """The fields of the alert of episode `e` (of asset `episodes.asset[e]`)."""
    run_date = run.run_date
    peak_day = int(episodes.peak_day[e])
    return {
        "level": int(episodes.level[e]),
        "first_date": run_date + dt.timedelta(days=int(episodes.first_day[e])),
        "last_date": run_date + dt.timedelta(days=int(episodes.last_day[e])),
        "peak_date": run_date + dt.timedelta(days=peak_day), "peak_kw": float(episodes.peak_kw[e]),
        "peak_load_rate": float(episodes.peak_load_rate[e]),
        "returning_households": int(result.returning_households[int(episodes.asset[e]), peak_day]),
        "thresholds": thresholds, "measures": recommended, "last_run_id": run.pk, "runs_below_watch": 0,
    }


def _continued_alert(candidates: list[Alert], changes: _AlertChanges, values: dict[str, Any],
                     run_date: dt.date) -> Alert | None:
    """The alert an episode continues: same asset, not taken by another episode of this run,
    and days that touch the episode's (or run into the run date)."""
    first, last = values["first_date"], values["last_date"]
    return next((a for a in candidates if a.pk not in changes.seen
                 and a.first_date <= last + dt.timedelta(days=1)
                 and a.last_date >= min(first, run_date) - dt.timedelta(days=1)), None)


def _apply_episodes(run: ProjectionRun, computed: StationProjection, inputs: StationInputs,
                    thresholds: dict[str, Any], by_asset: dict[tuple[str, int], list[Alert]], with_done: set[int],
                    changes: _AlertChanges) -> None:
    """Each episode of this run updates the alert it continues, or opens a new one."""
    for prefix, episodes, ids, grids, result, measures in (
            ("t", computed.t_episodes, inputs.t_ids, inputs.t_grid, computed.transformers, computed.measures),
            ("l", computed.l_episodes, inputs.l_ids, inputs.l_grid, computed.lines, computed.line_measures)):
        for e in range(episodes.asset.size):
            j = int(episodes.asset[e])
            values = _episode_values(run, episodes, e, result,
                                     recommended_measures(j, measures, inputs, run.run_date, prefix == "l"), thresholds)
            match = _continued_alert(by_asset.get((prefix, ids[j]), []), changes, values, run.run_date)
            if match is None:
                changes.new.append(Alert(transformer_id=ids[j] if prefix == "t" else None,
                                         line_id=ids[j] if prefix == "l" else None, grid_id=grids[j], **values))
                continue
            changes.seen.add(match.pk)
            raised = values["level"] > match.level
            for name, value in values.items():
                setattr(match, name, value)
            if match.pk in with_done and values["level"] < Level.HEAVY and match.status != Alert.Status.DISMISSED:
                changes.mitigate(match, "below heavy load after a done measure")
            elif raised:
                changes.history.append(AlertHistory(alert=match, action="raised", status=match.status,
                                                    level=match.level))
            changes.changed.append(match)
            changes.counts["alerts_updated"] += 1


def _apply_quiet_assets(run: ProjectionRun, existing: list[Alert], projected: set[tuple[str, int]],
                        with_done: set[int], changes: _AlertChanges) -> None:
    """An active alert whose asset was projected with no episode this run: mitigated at once
    when a measure of it is done, otherwise after two consecutive runs below watch. An alert
    whose days all lie beyond the run's horizon is left alone."""
    horizon_end = run.run_date + dt.timedelta(days=run.days - 1)
    for alert in existing:
        if alert.pk in changes.seen or _asset_key(alert) not in projected or alert.status == Alert.Status.DISMISSED:
            continue
        if alert.first_date > horizon_end:
            # Days beyond this run's horizon (an alert planned from the season outlook): not judged.
            continue
        alert.runs_below_watch += 1
        alert.last_run_id = run.pk
        if alert.pk in with_done or alert.runs_below_watch >= 2:
            changes.mitigate(alert, "below watch")
        changes.changed.append(alert)


def upsert_alerts(run: ProjectionRun, computed: StationProjection, inputs: StationInputs,
                  settings: engine.ProjectionSettings, station_id: int) -> dict[str, int]:
    """Create, update and mitigate the station's alerts from this run's episodes.

    An episode continues an alert of the same asset that is not mitigated and whose days
    touch the episode's; the alert keeps its status (acknowledged, planned, dismissed…).
    An active alert with no episode this run: mitigated at once when a measure of it is
    done, otherwise after two consecutive runs below watch. An alert with a done measure
    whose asset is now below heavy load is mitigated at once too.
    """
    thresholds = {"watch": settings.watch_load_rate, "heavy": settings.heavy_load_rate,
                  "overload": settings.overload_load_rate, "thermal": settings.thermal_load_rate,
                  "heavy_hours": settings.heavy_duration_hours, "overload_hours": settings.overload_duration_hours}
    existing = list(Alert.objects.filter(grid__station_id=station_id).exclude(
        status__in=(Alert.Status.MITIGATED, Alert.Status.CLOSED)))
    with_done = set(Measure.objects.filter(alert__in=[a.pk for a in existing], status=Measure.Status.DONE)
                    .values_list("alert_id", flat=True))
    by_asset: dict[tuple[str, int], list[Alert]] = defaultdict(list)
    for alert in existing:
        by_asset[_asset_key(alert)].append(alert)
    projected = {("t", inputs.t_ids[j]) for j in np.flatnonzero(computed.transformers.status == 0)}
    projected |= {("l", inputs.l_ids[j]) for j in np.flatnonzero(computed.lines.status == 0)}

    changes = _AlertChanges()
    _apply_episodes(run, computed, inputs, thresholds, by_asset, with_done, changes)
    _apply_quiet_assets(run, existing, projected, with_done, changes)
    Alert.objects.bulk_create(changes.new, batch_size=1000)
    changes.history += [AlertHistory(alert=a, action="created", status=a.status, level=a.level) for a in changes.new]
    if changes.changed:
        Alert.objects.bulk_update(changes.changed, [
            "level", "first_date", "last_date", "peak_date", "peak_kw", "peak_load_rate", "returning_households",
            "thresholds", "measures", "last_run", "runs_below_watch", "status", "updated_at"], batch_size=1000)
    AlertHistory.objects.bulk_create(changes.history, batch_size=1000)
    changes.counts["alerts_new"] = len(changes.new)
    return changes.counts


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------


class StaleAttempt(Exception):
    """A station message or finishing step of an earlier start (attempt) of its run."""


def _hold_attempt(run_id: int, attempt: int) -> None:
    """Inside a station's write transaction: raise StaleAttempt unless the run is still
    running `attempt`. On PostgreSQL the run row is held FOR KEY SHARE until the write
    commits: that does not block the other stations' writes nor their reports (FOR NO KEY
    UPDATE), but projection_start (FOR UPDATE) waits for the writes in progress, and a write
    that begins after a new start sees the new attempt and rolls back."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT "attempt", "status" FROM "{ProjectionRun._meta.db_table}" '
                           'WHERE "id" = %s FOR KEY SHARE', [run_id])
            row = cursor.fetchone()
    else:
        row = ProjectionRun.objects.filter(pk=run_id).values_list("attempt", "status").first()
    if row is None or row[0] != attempt or row[1] != ProjectionRun.Status.RUNNING:
        raise StaleAttempt(f"run {run_id} is not running attempt {attempt}")


def projection_station(*, run_id: int, station_id: int, attempt: int | None = None) -> dict[str, Any]:
    """Project one station for a run and replace that station's results of the run date,
    in one transaction; returns counts, timings and the skipped assets (never raises for
    an asset it cannot project: it lists it with the reason). With `attempt`, raises
    StaleAttempt (writing nothing) when the run is no longer running that attempt."""
    run = ProjectionRun.objects.get(pk=run_id)
    station = Station.objects.get(pk=station_id)
    settings = settings_for_station(station)
    started = time.perf_counter()
    inputs = read_station_inputs(station, run.run_date, run.days, settings)
    read_s = time.perf_counter() - started
    computed = compute_station(inputs, run.run_date, run.days, settings)
    compute_s = time.perf_counter() - started - read_s
    with transaction.atomic():
        if attempt is not None:
            _hold_attempt(run_id, attempt)
        # Readers never see half a run: the old results of this date go in the same transaction.
        AssetProjection.objects.filter(grid__station_id=station.pk, run__run_date=run.run_date).delete()
        written = write_projections(run, computed, inputs)
        alert_counts = upsert_alerts(run, computed, inputs, settings, station.pk)
    write_s = time.perf_counter() - started - read_s - compute_s
    skipped = []
    for prefix, result, codes in (("transformer", computed.transformers, inputs.t_codes),
                                  ("lvline", computed.lines, inputs.l_codes)):
        for j in np.flatnonzero(result.status != engine.AssetStatus.OK):
            skipped.append({"asset_type": prefix, "code": codes[j], "reason": SKIP_REASONS[int(result.status[j])]})
    levels = np.bincount(computed.transformers.level + 1, minlength=6)
    return {
        "station": station.code, "transformers": len(inputs.t_ids), "lines": len(inputs.l_ids),
        "asset_days": written, "unlinked_residents": inputs.unlinked, "skipped": skipped,
        "transformer_levels": {name: int(levels[i + 1]) for i, name in enumerate(
            ["normal", "watch", "heavy", "overload", "thermal"])},
        **alert_counts,
        "timings": {"read": round(read_s, 3), "compute": round(compute_s, 3), "write": round(write_s, 3)},
    }


def _checked_days(days: int) -> int:
    if not 1 <= days <= engine.MAX_HORIZON_DAYS:
        raise ValueError(f"days must be between 1 and {engine.MAX_HORIZON_DAYS}")
    return days


def projection_start(*, run_date: dt.date, days: int | None = None, station_id: int | None = None,
                     user: AbstractBaseUser | None = None, new_attempt: bool = True) -> tuple[ProjectionRun, list[int]]:
    """The run row of this date and scope (created, or reset for a re-run) and its stations.

    Each start is a new attempt (`run.attempt` + 1): messages of an earlier attempt still
    queued do nothing (projection_chunk). `new_attempt=False` restarts the current attempt
    (a run that waited for the queue is sent again: its messages are the same attempt)."""
    if station_id is not None:
        station = Station.objects.get(pk=station_id)
        stations = [station.pk]
        settings = settings_for_station(station)
    else:
        stations = list(Station.objects.order_by("pk").values_list("pk", flat=True))
        settings = engine.ProjectionSettings()
    days = _checked_days(days or settings.horizon_days)
    with transaction.atomic():
        run, _ = ProjectionRun.objects.select_for_update().get_or_create(
            run_date=run_date, station_id=station_id, defaults={"days": days})
        run.days = days
        if new_attempt or not run.attempt:
            run.attempt += 1
        run.status = ProjectionRun.Status.RUNNING
        run.started_at, run.finished_at = timezone.now(), None
        run.chunks_total, run.chunks_done = len(stations), 0
        run.counts, run.timings, run.skipped, run.error = {"stations": {}}, {}, [], ""
        run.settings_snapshot = settings.to_dict()
        run.created_by = _user_or_none(user)
        run.save()
        audit_record(user=user, action="projection_run", object_type="loadforecast.projectionrun", object_id=run.pk,
                     detail={"run_date": run_date.isoformat(), "days": days, "station_id": station_id,
                             "attempt": run.attempt})
    return run, stations


def projection_record_station(*, run_id: int, outcome: dict[str, Any], attempt: int | None = None) -> bool:
    """Add one station's outcome to the run row (under a row lock: chunks finish in parallel).
    With `attempt`, only while the run is still running that attempt (False: nothing recorded,
    the outcome belongs to an earlier start)."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: does not wait for the other stations' writes (FOR KEY SHARE).
        run = ProjectionRun.objects.select_for_update(no_key=True).get(pk=run_id)
        if attempt is not None and (run.attempt != attempt or run.status != ProjectionRun.Status.RUNNING):
            logger.info("projection run %s: station %s of attempt %s not recorded (run at attempt %s, %s)",
                        run_id, outcome.get("station"), attempt, run.attempt, run.status)
            return False
        run.counts.setdefault("stations", {})[outcome["station"]] = {
            k: v for k, v in outcome.items() if k not in ("skipped", "timings", "station")}
        run.timings.setdefault("stations", {})[outcome["station"]] = outcome.get("timings", {})
        run.skipped = [s for s in run.skipped if s.get("station") != outcome["station"]] + [
            {**s, "station": outcome["station"]} for s in outcome.get("skipped", [])]
        if outcome.get("error"):
            run.error = (run.error + f"\n{outcome['station']}: {outcome['error']}").strip()
        # Counted by station, not by call: a redelivered chunk replaces its own record.
        run.chunks_done = len(run.counts["stations"])
        # The finishing step measures silence from here (see projection_fail_unreported).
        run.timings["last_report_at"] = timezone.now().isoformat()
        run.save(update_fields=["counts", "timings", "skipped", "error", "chunks_done"])
    return True


def projection_last_progress(run: ProjectionRun) -> dt.datetime | None:
    """When the run last heard from a station (or started)."""
    last = run.timings.get("last_report_at") if isinstance(run.timings, dict) else None
    return dt.datetime.fromisoformat(last) if last else run.started_at


def projection_fail_unreported(*, run_id: int, attempt: int | None = None) -> ProjectionRun:
    """Close a run whose missing stations will never report (their worker died): the error
    names them, the run is FAILED, and their previous results stay as they were (a
    station's results are replaced only in the transaction that completes it). With
    `attempt`, only that attempt (a newer start is left running)."""
    with transaction.atomic():
        run = ProjectionRun.objects.select_for_update(no_key=True).get(pk=run_id)
        if run.status != ProjectionRun.Status.RUNNING or (attempt is not None and run.attempt != attempt):
            return run
        stations = Station.objects.filter(pk=run.station_id) if run.station_id else Station.objects.all()
        expected = list(stations.order_by("code").values_list("code", flat=True))
        reported = set(run.counts.get("stations", {}))
        missing = [code for code in expected if code not in reported]
        if missing:
            run.error = (run.error + "\nstations that never reported before the time limit: "
                         + ", ".join(missing)).strip()
        else:
            run.error = (run.error + "\nstation chunks missing before the time limit").strip()
        run.save(update_fields=["error"])
        return projection_finish(run_id=run_id, attempt=run.attempt)


def projection_finish(*, run_id: int, attempt: int | None = None) -> ProjectionRun:
    """Total the stations' counts and close the run (idempotent). With `attempt`, only that
    attempt: the finishing step of an earlier start leaves a newer one running."""
    with transaction.atomic():
        run = ProjectionRun.objects.select_for_update(no_key=True).get(pk=run_id)
        if attempt is not None and run.attempt != attempt:
            logger.info("projection run %s: finishing step of attempt %s is stale (run at attempt %s)",
                        run_id, attempt, run.attempt)
            return run
        stations = run.counts.get("stations", {})
        totals: dict[str, int] = defaultdict(int)
        for outcome in stations.values():
            for key, value in outcome.items():
                if isinstance(value, int):
                    totals[key] += value
        run.counts = {**{k: v for k, v in run.counts.items() if k != "stations"}, **totals, "stations": stations}
        timings = run.timings.get("stations", {})
        for part in ("read", "compute", "write"):
            run.timings[part] = round(sum(t.get(part, 0) for t in timings.values()), 3)
        run.finished_at = timezone.now()
        run.timings["wall"] = round((run.finished_at - run.started_at).total_seconds(), 3) if run.started_at else None
        run.status = ProjectionRun.Status.FAILED if run.error else ProjectionRun.Status.DONE
        run.save()
        # The stations that reported have written their alerts: their staff hear of them
        # even when another station failed. Once per execution of the run (see notify.py).
        run_alerts_notify(run=run)
    return run


def projection_run(*, run_date: dt.date, days: int | None = None, station_id: int | None = None,
                   user: AbstractBaseUser | None = None) -> ProjectionRun:
    """Run the projection of a date for one station or all, in this process."""
    run, stations = projection_start(run_date=run_date, days=days, station_id=station_id, user=user)
    for station in stations:
        _project_and_record(run_id=run.pk, station_id=station, attempt=run.attempt, retry_transient=False)
    return projection_finish(run_id=run.pk, attempt=run.attempt)


# ---------------------------------------------------------------------------------------
# Running on the workers (tasks.py: each task takes ids and calls one of these)
# ---------------------------------------------------------------------------------------
#
# A plain group of station chunks, not a chord (docs/library-notes.md: chords on Redis lose
# their body): each chunk writes its own results and records itself on the run; the
# finishing step waits until every chunk has recorded itself (retrying), then closes the
# run. All take ids and are idempotent: a redelivered chunk replaces its own results.
# Each message also carries the run's attempt (one per start of the run row): a message of
# an earlier attempt, still queued when the run was started again, does nothing.

PROJECT_STATION_TASK = "loadforecast.tasks.project_station"
FINISH_RUN_TASK = "loadforecast.tasks.finish_run"
# Transient database errors (a restarted server, a dropped connection, a deadlock) are
# retried by the station task with backoff, a bounded number of times; anything else is
# recorded on the run.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
# How long the finishing step waits past the station time limit before it calls a silent
# station lost (a worker killed mid-task; its message comes back only after the broker's
# visibility timeout, hours later).
FINISH_GRACE_SECONDS = 60


def _stale(run_id: int, station_id: int, attempt: int, current: Any) -> dict[str, Any]:
    logger.info("projection run %s: station %s message of attempt %s is stale (run at attempt %s): nothing done",
                run_id, station_id, attempt, current)
    return {"station_id": station_id, "attempt": attempt, "skipped": "stale"}


def _project_and_record(*, run_id: int, station_id: int, attempt: int, retry_transient: bool) -> dict[str, Any]:
    """Project one station and record its outcome on the run's `attempt`; a station that
    fails is recorded with its error (the other stations still run). With `retry_transient`
    a transient database error is raised instead, for the task to retry. A run that has
    moved on to another attempt (or closed) meanwhile gets nothing: the stale outcome."""
    try:
        outcome = projection_station(run_id=run_id, station_id=station_id, attempt=attempt)
    except StaleAttempt:
        return _stale(run_id, station_id, attempt, "another")
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        if retry_transient and isinstance(exc, TRANSIENT_DB_ERRORS):
            raise
        code = Station.objects.filter(pk=station_id).values_list("code", flat=True).first()
        outcome = {"station": code, "error": f"{type(exc).__name__}: {exc}"}
    if not projection_record_station(run_id=run_id, outcome=outcome, attempt=attempt):
        return _stale(run_id, station_id, attempt, "another")
    return outcome


def projection_chunk(*, run_id: int, station_id: int, attempt: int | None = None) -> dict[str, Any]:
    """A worker's station chunk of the run's `attempt`: project the station and record it on
    the run. Raises the transient database errors (the task retries them). A chunk of an
    earlier attempt does nothing and returns the "stale" outcome (`skipped`); a message
    without an attempt (sent before attempts existed) is taken as the current one."""
    current = ProjectionRun.objects.filter(pk=run_id).values_list("status", "attempt").first()
    if current is not None and attempt is not None and attempt != current[1]:
        return _stale(run_id, station_id, attempt, current[1])
    if current is None or current[0] != ProjectionRun.Status.RUNNING:
        # A message redelivered after its run was closed (failed for want of it): the next
        # run projects the station; writing now would change a closed run's results.
        return {"station_id": station_id, "skipped": "run not running"}
    outcome = _project_and_record(run_id=run_id, station_id=station_id,
                                  attempt=current[1] if attempt is None else attempt, retry_transient=True)
    if outcome.get("skipped") == "stale":
        return outcome
    return {k: v for k, v in outcome.items() if k != "skipped"}


def station_time_limit() -> float:
    """The station task's hard time limit (its own, else the app's), in seconds."""
    task = queue_task(PROJECT_STATION_TASK)
    return float(task.time_limit or task.app.conf.task_time_limit or 3600)


def _silent_too_long(run: ProjectionRun) -> bool:
    """No station has reported for longer than the station time limit plus the grace: a
    station task still alive would have ended by then, so the missing ones are lost."""
    grace = getattr(django_settings, "LOADFORECAST_FINISH_GRACE_SECONDS", FINISH_GRACE_SECONDS)
    last = projection_last_progress(run)
    return last is not None and (timezone.now() - last).total_seconds() > station_time_limit() + grace


STALE = "stale"


def projection_try_finish(*, run_id: int, attempt: int | None = None) -> str | None:
    """The finishing step of the run's `attempt` (None: the current one): close the run once
    every station has reported, or FAILED once the stations have been silent too long. None
    while it must wait (the task retries); "stale" when the run has been started again since
    (the newer attempt's own finishing step closes it); otherwise the run's status."""
    run = ProjectionRun.objects.get(pk=run_id)
    attempt = run.attempt if attempt is None else attempt
    if run.attempt != attempt:
        logger.info("projection run %s: finishing step of attempt %s is stale (run at attempt %s)",
                    run_id, attempt, run.attempt)
        return STALE
    if run.status != ProjectionRun.Status.RUNNING:
        return run.status  # already closed (a second finishing message)
    if run.chunks_done < run.chunks_total:
        if _silent_too_long(run):
            closed = projection_fail_unreported(run_id=run_id, attempt=attempt)
        else:
            return None
    else:
        closed = projection_finish(run_id=run_id, attempt=attempt)
    return STALE if closed.attempt != attempt else closed.status


def projection_fail_silent() -> int:
    """Close the running runs that no station has reported to for longer than the station
    time limit plus the grace (their worker was killed and their finishing message went down
    with it, to come back only after the broker's visibility timeout). Returns how many."""
    closed = 0
    for run in ProjectionRun.objects.filter(status=ProjectionRun.Status.RUNNING):
        if _silent_too_long(run):
            if projection_fail_unreported(run_id=run.pk, attempt=run.attempt).status == ProjectionRun.Status.FAILED:
                closed += 1
    return closed


def run_waits_for_queue(run: ProjectionRun) -> bool:
    """A queued run whose messages the queue could not take: sent again once it is back."""
    return run.status == ProjectionRun.Status.QUEUED and queue_waiting_since(run.timings) is not None


def projection_send(*, run_id: int, stations: list[int], attempt: int | None = None) -> bool:
    """Send a started run's station chunks and its finishing step, each with the run's
    attempt (default: the row's current one), in a plain loop: the first message checks that
    the broker answers. When the queue is unavailable the run goes back to QUEUED, marked as
    waiting (its previous results stay: they are replaced only by a station that completes);
    `projection_watch` sends it again as the same attempt."""
    if attempt is None:
        attempt = ProjectionRun.objects.values_list("attempt", flat=True).get(pk=run_id)
    try:
        for index, station_id in enumerate(stations):
            queue_send(PROJECT_STATION_TASK, (run_id, station_id, attempt), check=index == 0)
        queue_send(FINISH_RUN_TASK, (run_id, attempt), countdown=1, check=not stations)
    except QueueUnavailable as error:
        logger.warning("projection run %s waits for the task queue (%s)", run_id, error)
        ProjectionRun.objects.filter(pk=run_id, attempt=attempt).update(
            status=ProjectionRun.Status.QUEUED, chunks_done=0, timings=queue_waiting_mark())
        return False
    return True


def projection_enqueue(*, run_date: dt.date, days: int | None = None, station_id: int | None = None,
                       user: AbstractBaseUser | None = None) -> int:
    """Start a run: the run row now, the station chunks and the finishing step on the workers.
    When the task queue is unavailable the run is left queued and waiting for it."""
    run, stations = projection_start(run_date=run_date, days=days, station_id=station_id, user=user)
    projection_send(run_id=run.pk, stations=stations, attempt=run.attempt)
    return run.pk


def projection_redispatch(*, run_id: int) -> bool:
    """Start a run that waits for the queue, once: the row is locked and must still be waiting
    (of two re-dispatchers one only sends it). False when it does not wait any more or the
    queue is still unavailable."""
    with transaction.atomic():
        waiting = ProjectionRun.objects.select_for_update().filter(
            queue_waiting_q(), pk=run_id, status=ProjectionRun.Status.QUEUED).first()
        if waiting is None:
            return False
        # projection_start takes the run off the waiting list (RUNNING, timings reset); the
        # same attempt: messages of it that did leave before the queue went down are its own.
        started, stations = projection_start(run_date=waiting.run_date, days=waiting.days,
                                             station_id=waiting.station_id, user=waiting.created_by,
                                             new_attempt=False)
    return projection_send(run_id=started.pk, stations=stations, attempt=started.attempt)


def projection_redispatch_waiting(*, limit: int = 100) -> int:
    """Send the runs that wait for the queue, oldest first; stops at the first refusal."""
    sent = 0
    waiting = ProjectionRun.objects.filter(queue_waiting_q(), status=ProjectionRun.Status.QUEUED)
    for run in waiting.order_by("created_at")[:limit]:
        if projection_redispatch(run_id=run.pk):
            sent += 1
        elif run_waits_for_queue(ProjectionRun.objects.get(pk=run.pk)):
            break
    return sent


def projection_watch() -> dict[str, int]:
    """The beat's minute: send the runs that wait for the queue, fail the silent ones."""
    return {"sent": projection_redispatch_waiting(), "failed": projection_fail_silent()}


# ---------------------------------------------------------------------------------------
# "Run now" (the runs page and POST /api/v1/projection-runs/)
# ---------------------------------------------------------------------------------------


class RunRequest(NamedTuple):
    run: ProjectionRun
    started: bool  # False: the click joined the run already in flight


def run_in_flight(run: ProjectionRun) -> bool:
    """Whether a "run now" joins this run instead of starting it again.

    In flight: queued or running, not waiting for the queue (a click then sends it again:
    the queue may be back), and younger than the task time limit, counted from its start or,
    for a run that never started, its creation (an older one is taken as stuck, its worker
    died, and a click starts it again). A run with no start time is young while it was
    created recently: taking it as stuck would start the station twice.
    """
    if run.status not in (ProjectionRun.Status.QUEUED, ProjectionRun.Status.RUNNING) or run_waits_for_queue(run):
        return False
    patience = dt.timedelta(seconds=getattr(django_settings, "CELERY_TASK_TIME_LIMIT", 3600))
    return timezone.now() - (run.started_at or run.created_at) < patience


def projection_request(*, user: AbstractBaseUser, station_id: int, run_date: dt.date | None = None,
                       days: int | None = None) -> RunRequest:
    """Station staff's "run now" of one station (default: today, the station's horizon).

    A run of that station and date still in flight (`run_in_flight`) is answered instead
    and nothing starts; otherwise the run row is (re)started now, audited, and its messages
    go to the workers once the transaction commits. Raises PermissionDenied without the
    verb, Http404 for a station outside the user's own territory, ValueError for `days`
    outside the horizon's bounds.
    """
    require_perm(user, "loadforecast.add_projectionrun")
    station = writable_for_user(user, Station).filter(pk=station_id).first()
    if station is None:
        raise Http404
    run_date = run_date or timezone.localdate()
    days = _checked_days(days) if days is not None else None
    with transaction.atomic():
        current = ProjectionRun.objects.select_for_update().filter(run_date=run_date, station_id=station_id).first()
        if current is None:
            try:
                with transaction.atomic():
                    current = ProjectionRun.objects.create(
                        run_date=run_date, station_id=station_id, status=ProjectionRun.Status.QUEUED,
                        days=days or settings_for_station(station).horizon_days, created_by=_user_or_none(user))
            except IntegrityError:
                # Two first clicks at once: the other one created the run (and is starting it).
                current = ProjectionRun.objects.select_for_update().get(run_date=run_date, station_id=station_id)
                if run_in_flight(current):
                    return RunRequest(current, False)
        elif run_in_flight(current):
            return RunRequest(current, False)
        run, stations = projection_start(run_date=run_date, days=days, station_id=station_id, user=user)
        audit_record(user=user, action="projection.requested", object_type="loadforecast.projectionrun",
                     object_id=run.pk, detail={"station_id": station_id, "run_date": run_date.isoformat()})
        transaction.on_commit(lambda: projection_send(run_id=run.pk, stations=stations, attempt=run.attempt))
    return RunRequest(run, True)


# ---------------------------------------------------------------------------------------
# Alert actions (station staff): acknowledge, plan a measure, mark it done, dismiss, close
# ---------------------------------------------------------------------------------------
#
# Each is keyword-only, checks the verb and the user's territory (another station's alert
# answers like a missing one), locks the alert row, and writes one audit row and one
# AlertHistory row. Bad requests raise django.core.exceptions.ValidationError with a
# message for the person (a dict keyed by field where one field is at fault).

ACTIVE_STATUSES = frozenset(Alert.ACTIVE)
# The measures that make sense on an LV line (the rest change a transformer's rating or load).
LINE_MEASURE_KINDS = frozenset({Measure.Kind.PHASE_BALANCE, Measure.Kind.STAGGERED, Measure.Kind.PATROL})


def _alert_for_update(user: AbstractBaseUser, alert_id: int) -> Alert:
    return get_writable_or_404(user, Alert, pk=alert_id, lock=True)


def _alert_history(alert: Alert, *, user: AbstractBaseUser, action: str, note: str = "") -> AlertHistory:
    return AlertHistory.objects.create(alert=alert, user=_user_or_none(user),
                                       action=action, status=alert.status, level=alert.level, note=note[:500])


def _set_alert_status(alert: Alert, status: str) -> None:
    alert.status = status
    alert.save(update_fields=["status", "updated_at"])


@transaction.atomic
def alert_acknowledge(*, user: AbstractBaseUser, alert_id: int) -> Alert:
    """Open → acknowledged: someone at the station has seen the alert."""
    require_perm(user, "loadforecast.change_alert")
    alert = _alert_for_update(user, alert_id)
    if alert.status != Alert.Status.OPEN:
        raise ValidationError(_("Only an open alert can be acknowledged (this one is %(status)s).")
                              % {"status": alert.get_status_display()})
    _set_alert_status(alert, Alert.Status.ACKNOWLEDGED)
    _alert_history(alert, user=user, action="acknowledged")
    audit_record(user=user, action="alert.acknowledged", object_type="loadforecast.alert", object_id=alert.pk)
    return alert


@transaction.atomic
def measure_plan(*, user: AbstractBaseUser, alert_id: int, kind: str, planned_date: dt.date, kva: float | None = None,
                 kw: float | None = None, neighbour_id: int | None = None, note: str = "") -> Measure:
    """Plan a measure against an active alert; the alert becomes "measure planned".

    A load transfer names a neighbour tied to the alert's transformer (and visible to the
    user) and the kVA moved; temporary capacity gives the temporary rating in kVA, above
    the transformer's own (a smaller one changes nothing). On an LV line only phase
    balancing, a staggered-use notice and a patrol apply.
    """
    require_perm(user, "loadforecast.add_measure")
    alert = _alert_for_update(user, alert_id)
    if alert.status not in ACTIVE_STATUSES:
        raise ValidationError(_("A measure cannot be planned on an alert that is %(status)s.")
                              % {"status": alert.get_status_display()})
    if kind not in Measure.Kind.values:
        raise ValidationError({"kind": _("Choose a measure.")})
    errors: dict[str, str] = {}
    if alert.line_id and kind not in LINE_MEASURE_KINDS:
        errors["kind"] = _("On an LV line only phase balancing, a staggered-use notice or a patrol can be planned.")
    if planned_date is None:
        errors["planned_date"] = _("Give the date of the measure.")
    for name, value in (("kva", kva), ("kw", kw)):
        if value is not None and not (0 < value <= 100_000):
            errors[name] = _("Enter a positive number.")
    neighbour = None
    if kind == Measure.Kind.TRANSFER and "kind" not in errors:
        if neighbour_id is None:
            errors["neighbour"] = _("Name the tied neighbour that takes the load.")
        else:
            neighbour = (for_user(user, Transformer).filter(pk=neighbour_id, ties=alert.transformer_id).first())
            if neighbour is None:
                errors["neighbour"] = _("The neighbour must be a transformer tied to this one.")
        if kva is None and "kva" not in errors:
            errors["kva"] = _("Give the load to transfer in kVA.")
    if kind == Measure.Kind.TEMP_CAPACITY and "kind" not in errors:
        if kva is None and "kva" not in errors:
            errors["kva"] = _("Give the rating of the temporary transformer in kVA.")
        elif kva is not None and "kva" not in errors:
            rated = alert.transformer.rated_kva
            if kva <= rated:
                errors["kva"] = _("The temporary rating must be above the transformer's own %(rated)s kVA.") % {
                    "rated": rated}
    if errors:
        raise ValidationError(errors)
    measure = Measure.objects.create(
        alert=alert, kind=kind, planned_date=planned_date, neighbour=neighbour,
        kva=kva if kind in (Measure.Kind.TRANSFER, Measure.Kind.TEMP_CAPACITY) else None,
        kw=kw, note=(note or "").strip()[:500], created_by=_user_or_none(user))
    _set_alert_status(alert, Alert.Status.MEASURE_PLANNED)
    _alert_history(alert, user=user, action="measure_planned",
                   note=f"{measure.get_kind_display()} {planned_date.isoformat()}")
    audit_record(user=user, action="measure.planned", object_type="loadforecast.measure", object_id=measure.pk,
                 detail={"alert": alert.pk, "kind": kind, "planned_date": planned_date.isoformat(), "kva": kva,
                         "kw": kw, "neighbour": neighbour.pk if neighbour else None})
    return measure


@transaction.atomic
def measure_done(*, user: AbstractBaseUser, measure_id: int, done_at: dt.datetime | None = None) -> Measure:
    """Planned → done. The alert becomes "measure done" once none of its measures is still
    planned; the next run takes the measure into account (and mitigates the alert when
    it is enough)."""
    require_perm(user, "loadforecast.change_measure")
    alert_id = get_writable_or_404(user, Measure.objects.only("alert"), pk=measure_id).alert_id
    alert = _alert_for_update(user, alert_id)  # the alert first, as every action locks it
    measure = Measure.objects.select_for_update().get(pk=measure_id)
    if measure.status != Measure.Status.PLANNED:
        raise ValidationError(_("This measure is already done."))
    if alert.status == Alert.Status.DISMISSED:
        raise ValidationError(_("The alert was dismissed: its measures cannot be marked done."))
    measure.status = Measure.Status.DONE
    measure.done_at = done_at or timezone.now()
    measure.done_by = _user_or_none(user)
    measure.save(update_fields=["status", "done_at", "done_by"])
    if alert.status in ACTIVE_STATUSES and not alert.measure_set.filter(status=Measure.Status.PLANNED).exists():
        _set_alert_status(alert, Alert.Status.DONE)
    _alert_history(alert, user=user, action="measure_done", note=measure.get_kind_display())
    audit_record(user=user, action="measure.done", object_type="loadforecast.measure", object_id=measure.pk,
                 detail={"alert": alert.pk, "kind": measure.kind})
    return measure


@transaction.atomic
def alert_dismiss(*, user: AbstractBaseUser, alert_id: int, reason: str) -> Alert:
    """Dismiss an active alert; the reason is required and kept in the history. Runs keep
    a dismissed alert dismissed, and its done measures no longer change the projection."""
    require_perm(user, "loadforecast.change_alert")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for dismissing the alert.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("Keep the reason under 500 characters.")})
    alert = _alert_for_update(user, alert_id)
    if alert.status not in ACTIVE_STATUSES:
        raise ValidationError(_("Only an active alert can be dismissed (this one is %(status)s).")
                              % {"status": alert.get_status_display()})
    _set_alert_status(alert, Alert.Status.DISMISSED)
    _alert_history(alert, user=user, action="dismissed", note=reason)
    audit_record(user=user, action="alert.dismissed", object_type="loadforecast.alert", object_id=alert.pk,
                 detail={"reason_length": len(reason)})
    return alert


@transaction.atomic
def alert_close(*, user: AbstractBaseUser, alert_id: int, note: str = "") -> Alert:
    """Mitigated → closed: station staff end the alert's path once its episode is handled.
    Runs never reopen a closed alert (a new episode of the asset opens a new alert)."""
    require_perm(user, "loadforecast.change_alert")
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError({"note": _("Keep the note under 500 characters.")})
    alert = _alert_for_update(user, alert_id)
    if alert.status != Alert.Status.MITIGATED:
        raise ValidationError(_("Only a mitigated alert can be closed (this one is %(status)s).")
                              % {"status": alert.get_status_display()})
    _set_alert_status(alert, Alert.Status.CLOSED)
    _alert_history(alert, user=user, action="closed", note=note)
    audit_record(user=user, action="alert.closed", object_type="loadforecast.alert", object_id=alert.pk,
                 detail={"note_length": len(note)})
    return alert


# ---------------------------------------------------------------------------------------
# The hourly series of one asset (the pages' chart)
# ---------------------------------------------------------------------------------------


def asset_hourly_projection(*, station: Station, run_date: dt.date, days: int, transformer_id: int | None = None,
                            line_id: int | None = None) -> dict[str, Any] | None:
    """The projected hourly load of one transformer or LV line, recomputed with the engine
    on the station's inputs for `run_date` (the runs store only the daily figures).

    Returns the hourly baseline and returning increment (kW, days × 24), the capacity in kW
    (after a done temporary-capacity measure) and the daily peaks, or None when the asset
    has no projection (no load data, no rating)."""
    settings = settings_for_station(station)
    inputs = read_station_inputs(station, run_date, days, settings)
    nt, nl = len(inputs.t_ids), len(inputs.l_ids)
    baseline = engine.baseline_from_history(inputs.t_hourly, inputs.t_daily, settings)
    baseline_kw = baseline.kw.copy()
    apply_done_measures(inputs, baseline_kw, settings)
    factors = engine.horizon_factors(run_date, inputs.temps, settings, days=days)

    if transformer_id is not None:
        j = inputs.t_index.get(transformer_id)
        if j is None:
            return None
        n = _returning_present(inputs, inputs.h_transformer, nt, run_date, days).present[j:j + 1]

        def project(returning):
            return engine.project_transformers(
                baseline_kw=baseline_kw[j:j + 1], rated_kva=inputs.rated[j:j + 1], returning_households=returning,
                factors=factors, settings=settings, keep_hourly=True)

        capacity_kw = float(inputs.rated[j]) * settings.cos_phi
        rating = {"kva": float(inputs.rated[j])}
    else:
        i = inputs.l_index.get(line_id)
        if i is None:
            return None
        n = _returning_present(inputs, inputs.h_line, nl, run_date, days).present[i:i + 1]
        line_baseline = engine.baseline_from_history(inputs.l_hourly, None, settings)
        households_on_t = np.bincount(inputs.h_transformer[inputs.h_transformer >= 0], minlength=nt)
        households_on_l = np.bincount(inputs.h_line[inputs.h_line >= 0], minlength=nl)

        def project(returning):
            return engine.project_lines(
                line_transformer=inputs.l_transformer[i:i + 1], line_households=households_on_l[i:i + 1],
                transformer_households=households_on_t, transformer_baseline_kw=baseline_kw,
                ampacity_a=inputs.ampacity[i:i + 1], returning_households=returning, factors=factors,
                settings=settings, metered_baseline_kw=line_baseline.kw[i:i + 1], keep_hourly=True)

        ampacity = float(inputs.ampacity[i])
        capacity_kw = ampacity * math.sqrt(3) * settings.line_voltage_kv * settings.cos_phi
        rating = {"ampacity_a": ampacity}
    with_returning, without = project(n), project(np.zeros_like(n))
    if with_returning.status[0] != engine.AssetStatus.OK:
        return None
    total = with_returning.hourly_kw[0]
    base = without.hourly_kw[0]
    return {
        "dates": [run_date + dt.timedelta(days=d) for d in range(days)],
        "baseline_kw": base, "increment_kw": total - base, "total_kw": total,
        "peak_kw": with_returning.peak_kw[0], "returning_households": n[0],
        "capacity_kw": capacity_kw, **rating,
        "thresholds": {"watch": settings.watch_load_rate, "heavy": settings.heavy_load_rate,
                       "overload": settings.overload_load_rate},
    }
