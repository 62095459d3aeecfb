"""The after-festival back-test (docs/domain.md 6.6): projected against metered peaks per
transformer, hits, misses and false alarms per alert level, and a calibrated p_hh.

`backtest_compute` and `backtest_summary` are plain numpy on arrays (no Django);
`backtest_report` reads a period's projections and meter readings for a user (every read
from `for_user`) and answers the county and each station.

Definitions, per transformer, over the days of the period that have both a projection
and a metered reading ("compared days"):
- projected peak = the highest projected daily peak; metered peak = the highest metered
  daily peak (the hourly curve's maximum, or the daily maximum when only that was read);
  error = projected − metered in kW, and in % of the metered peak.
- projected level = the highest projected daily level; observed level = the highest
  level of the metered days by the same rules (docs/domain.md 6.2, the run's thresholds and
  durations) on the metered hourly load rate; a day with only its daily maximum is
  judged on that maximum alone (its duration cannot be seen). Thermal critical is
  observed only as β ≥ the thermal load rate (no temperatures are metered).
- for each level L (watch, heavy, overload, thermal): a hit when both are ≥ L, a miss
  when only the observed one is, a false alarm when only the projected one is.
- calibration (docs/domain.md 6.4): p_hh = (metered peak − baseline peak) / (n · k_c(n)) with
  n the returning households of the metered peak day and the baseline peak max_h B(h)
  of the run; the suggested p_hh of a station or county is the median over its
  transformers with n > 0 (robust to the odd transformer whose load had another cause).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import engine
from .engine import HOURS, Level

if TYPE_CHECKING:  # the module imports Django only where it reads the database
    from django.contrib.auth.base_user import AbstractBaseUser

ALERT_LEVELS = (Level.WATCH, Level.HEAVY, Level.OVERLOAD, Level.THERMAL)
LEVEL_NAMES = {Level.WATCH: "watch", Level.HEAVY: "heavy", Level.OVERLOAD: "overload", Level.THERMAL: "thermal"}


@dataclass(frozen=True)
class BacktestResult:
    """Per transformer (arrays of the same length); NaN / −1 where not compared."""

    compared: NDArray[np.bool_]
    projected_peak_kw: NDArray[np.float64]
    metered_peak_kw: NDArray[np.float64]
    error_kw: NDArray[np.float64]
    error_pct: NDArray[np.float64]
    projected_level: NDArray[np.int8]
    observed_level: NDArray[np.int8]
    returning_at_peak: NDArray[np.int64]
    p_hh_observed: NDArray[np.float64]


def observed_daily_levels(metered_hourly_kw: NDArray[Any], metered_max_kw: NDArray[Any], rated_kva: NDArray[Any],
                          settings: engine.ProjectionSettings) -> NDArray[np.int8]:
    """Level of each metered (transformer, day); −1 where the day was not metered."""
    hourly = np.asarray(metered_hourly_kw, dtype=np.float64)
    daily_max = np.asarray(metered_max_kw, dtype=np.float64)
    capacity_kw = np.asarray(rated_kva, dtype=np.float64)[:, None] * settings.cos_phi
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = hourly / capacity_kw[:, :, None]
        complete = ~np.isnan(hourly).any(axis=2)
        levels = engine.daily_levels(np.where(complete[..., None], rate, 0.0), settings)
        # A day known by its maximum only: every threshold judged on that one value.
        peak_rate = daily_max / capacity_kw
        peak_only = engine.daily_levels(np.repeat(np.nan_to_num(peak_rate)[..., None], HOURS, axis=2), settings)
    levels = np.where(complete, levels, np.where(~np.isnan(daily_max), peak_only, -1))
    return levels.astype(np.int8)


def backtest_compute(*, projected_peak_kw: NDArray[Any], projected_level: NDArray[Any], returning: NDArray[Any],
                     metered_hourly_kw: NDArray[Any], metered_max_kw: NDArray[Any], rated_kva: NDArray[Any],
                     baseline_peak_kw: NDArray[Any], settings: engine.ProjectionSettings) -> BacktestResult:
    """Compare per transformer. Shapes: (A, D) per day (NaN / −1 where missing),
    metered_hourly_kw (A, D, 24), rated_kva and baseline_peak_kw (A,)."""
    projected_peak_kw = np.asarray(projected_peak_kw, dtype=np.float64)
    projected_level = np.asarray(projected_level, dtype=np.int64)
    hourly = np.asarray(metered_hourly_kw, dtype=np.float64)
    daily_max = np.asarray(metered_max_kw, dtype=np.float64)
    complete = ~np.isnan(hourly).any(axis=2)
    metered_day_peak = np.where(complete, np.nan_to_num(hourly, nan=-np.inf).max(axis=2), daily_max)
    both = ~np.isnan(projected_peak_kw) & ~np.isnan(metered_day_peak) & (projected_level >= 0)
    compared = both.any(axis=1)
    projected_peak = np.where(both, projected_peak_kw, -np.inf).max(axis=1, initial=-np.inf)
    metered_masked = np.where(both, metered_day_peak, -np.inf)
    metered_peak = metered_masked.max(axis=1, initial=-np.inf)
    peak_day = metered_masked.argmax(axis=1) if metered_masked.shape[1] else np.zeros(len(compared), dtype=np.int64)
    observed = observed_daily_levels(hourly, daily_max, rated_kva, settings)
    projected_lvl = np.where(both, projected_level, -1).max(axis=1, initial=-1)
    observed_lvl = np.where(both, observed, -1).max(axis=1, initial=-1)
    n = np.take_along_axis(np.asarray(returning, dtype=np.int64), peak_day[:, None], axis=1)[:, 0] \
        if metered_masked.shape[1] else np.zeros(len(compared), dtype=np.int64)
    projected_peak = np.where(compared, projected_peak, np.nan)
    metered_peak = np.where(compared, metered_peak, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_kw = projected_peak - metered_peak
        error_pct = np.where(metered_peak > 0, error_kw / metered_peak * 100.0, np.nan)
        k_c = engine.coincidence_factor(n.astype(np.float64), settings)
        p_hh = (metered_peak - np.asarray(baseline_peak_kw, dtype=np.float64)) / (n * k_c)
    p_hh = np.where(compared & (n > 0) & np.isfinite(p_hh), p_hh, np.nan)
    return BacktestResult(
        compared=compared, projected_peak_kw=projected_peak, metered_peak_kw=metered_peak, error_kw=error_kw,
        error_pct=error_pct, projected_level=np.where(compared, projected_lvl, -1).astype(np.int8),
        observed_level=np.where(compared, observed_lvl, -1).astype(np.int8),
        returning_at_peak=np.where(compared, n, 0), p_hh_observed=p_hh)


def _round(value: float, digits: int = 2) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def backtest_summary(result: BacktestResult, rows: NDArray[Any] | None = None) -> dict[str, Any]:
    """Totals over `rows` (indices or a mask; all by default): errors, the confusion counts
    per level, and the suggested p_hh (median over transformers with n > 0)."""
    select = np.arange(result.compared.size) if rows is None else np.asarray(rows)
    compared = result.compared[select]
    error_kw = result.error_kw[select][compared]
    error_pct = result.error_pct[select][compared]
    projected = result.projected_level[select][compared]
    observed = result.observed_level[select][compared]
    levels = {}
    for level in ALERT_LEVELS:
        p, o = projected >= level, observed >= level
        levels[LEVEL_NAMES[level]] = {"hits": int((p & o).sum()), "misses": int((~p & o).sum()),
                                      "false_alarms": int((p & ~o).sum())}
    p_hh = result.p_hh_observed[select]
    p_hh = p_hh[np.isfinite(p_hh)]
    finite_pct = error_pct[np.isfinite(error_pct)]
    return {
        "transformers": int(compared.sum()),
        "mean_abs_error_kw": _round(np.abs(error_kw).mean()) if error_kw.size else None,
        "mean_error_kw": _round(error_kw.mean()) if error_kw.size else None,
        "mean_abs_error_pct": _round(np.abs(finite_pct).mean(), 1) if finite_pct.size else None,
        "levels": levels,
        "p_hh_suggested": _round(np.median(p_hh), 3) if p_hh.size else None,
        "p_hh_transformers": int(p_hh.size),
    }


# ---------------------------------------------------------------------------------------
# Reading a period for a user
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    first_date: dt.date
    last_date: dt.date
    run_date: dt.date

    @property
    def days(self) -> int:
        return (self.last_date - self.first_date).days + 1


def _projected(period: _Period, rows: list[tuple], index: dict[int, int]):
    """Projected daily peak, level and returning households per (transformer, day)."""
    shape = (len(index), period.days)
    projected_peak = np.full(shape, np.nan)
    projected_level = np.full(shape, -1, dtype=np.int64)
    returning = np.zeros(shape, dtype=np.int64)
    for transformer_id, day, peak_kw, level, n, _run in rows:
        i = index.get(transformer_id)
        if i is not None:
            d = (day - period.first_date).days
            projected_peak[i, d], projected_level[i, d], returning[i, d] = peak_kw, level, n
    return projected_peak, projected_level, returning


def _metered(user: AbstractBaseUser, period: _Period, index: dict[int, int], settings: engine.ProjectionSettings):
    """The metered hourly load and daily maxima of the period, and the baseline peak of each
    transformer from the history before the run date (one query for both)."""
    from zhoukou_grid.core.scoping import for_user

    from .models import LoadReading, unpack_curves

    shape = (len(index), period.days)
    history_first = period.run_date - dt.timedelta(days=settings.baseline_days)
    readings = list(for_user(user, LoadReading).filter(transformer_id__in=list(index)).filter(
        date__gte=min(history_first, period.first_date), date__lte=period.last_date).values_list(
        "transformer_id", "date", "hourly_kw", "max_kw").order_by())
    metered_hourly = np.full(shape + (HOURS,), np.nan)
    metered_max = np.full(shape, np.nan)
    history_hourly = np.full((len(index), settings.baseline_days, HOURS), np.nan)
    history_max = np.full((len(index), settings.baseline_days), np.nan)
    curves = unpack_curves(r[2] for r in readings) if readings else np.zeros((0, HOURS))
    for k, (transformer_id, day, blob, max_kw) in enumerate(readings):
        i = index[transformer_id]
        if period.first_date <= day <= period.last_date:
            d = (day - period.first_date).days
            if blob is not None:
                metered_hourly[i, d] = curves[k]
            metered_max[i, d] = max_kw if max_kw is not None else np.nan
        if history_first <= day < period.run_date:
            h = (day - history_first).days
            if blob is not None:
                history_hourly[i, h] = curves[k]
            elif max_kw is not None:
                history_max[i, h] = max_kw
    baseline = engine.baseline_from_history(history_hourly, history_max, settings)
    with np.errstate(invalid="ignore"):
        baseline_peak = np.where(np.isnan(baseline.kw).all(axis=1), np.nan,
                                 np.nan_to_num(baseline.kw, nan=-np.inf).max(axis=1))
    return metered_hourly, metered_max, baseline_peak


def _station_summaries(result: BacktestResult, assets: list[tuple]) -> list[dict[str, Any]]:
    station_of = np.array([a[4] for a in assets], dtype=np.int64)
    stations = []
    for station_id in sorted(set(station_of.tolist()), key=lambda s: next(a[5] for a in assets if a[4] == s)):
        first = next(a for a in assets if a[4] == station_id)
        stations.append({"station_id": station_id, "code": first[5], "name": first[6],
                         **backtest_summary(result, np.flatnonzero(station_of == station_id))})
    return stations


def _transformer_rows(result: BacktestResult, assets: list[tuple]) -> list[dict[str, Any]]:
    return [
        {"id": a[0], "code": a[1], "name": a[2], "station": a[5], "rated_kva": a[3],
         "projected_peak_kw": _round(result.projected_peak_kw[i]), "metered_peak_kw": _round(result.metered_peak_kw[i]),
         "error_kw": _round(result.error_kw[i]), "error_pct": _round(result.error_pct[i], 1),
         "projected_level": int(result.projected_level[i]), "observed_level": int(result.observed_level[i]),
         "returning_at_peak": int(result.returning_at_peak[i]), "p_hh_observed": _round(result.p_hh_observed[i], 3)}
        for i, a in enumerate(assets) if result.compared[i]]


def backtest_report(*, user: AbstractBaseUser, first_date: dt.date, last_date: dt.date,
                    run_date: dt.date | None = None, county_id: int | None = None) -> dict[str, Any]:
    """The back-test of the transformers the user may see, over [first_date, last_date].

    The projections compared are those of `run_date` (default: the latest run date on or
    before `first_date` among the user's projections: what was forecast before the
    festival). Answers the run date used, the settings of that run, a summary for all the
    user's transformers and one per station, and the per-transformer rows. A fixed number
    of queries whatever the size of the territory.
    """
    from django.db.models import Max

    from zhoukou_grid.core.scoping import for_user
    from zhoukou_grid.territory.models import Transformer

    from .models import AssetProjection, ProjectionRun

    if last_date < first_date:
        raise ValueError("the period ends before it starts")
    projections = for_user(user, AssetProjection).filter(transformer__isnull=False)
    if run_date is None:
        run_date = projections.filter(run__run_date__lte=first_date).aggregate(d=Max("run__run_date"))["d"]
    empty = {"run_date": run_date, "first_date": first_date, "last_date": last_date, "summary": None,
             "stations": [], "transformers": []}
    if run_date is None:
        return empty
    rows = list(projections.filter(run__run_date=run_date, date__gte=first_date, date__lte=last_date).values_list(
        "transformer_id", "date", "peak_kw", "level", "returning_households", "run_id").order_by())
    if not rows:
        return empty
    snapshot = (ProjectionRun.objects.filter(pk__in={r[5] for r in rows}).values_list("settings_snapshot", flat=True)
                .order_by("-station_id").first()) or {}
    settings = engine.ProjectionSettings.from_dict(snapshot)
    assets = list(for_user(user, Transformer).filter(pk__in=sorted({r[0] for r in rows})).order_by("pk").values_list(
        "pk", "code", "name", "rated_kva", "grid__station_id", "grid__station__code", "grid__station__name",
        "grid__station__county_id"))
    if county_id is not None:
        assets = [a for a in assets if a[7] == county_id]
    index = {a[0]: i for i, a in enumerate(assets)}
    period = _Period(first_date, last_date, run_date)
    projected_peak, projected_level, returning = _projected(period, rows, index)
    metered_hourly, metered_max, baseline_peak = _metered(user, period, index, settings)
    result = backtest_compute(
        projected_peak_kw=projected_peak, projected_level=projected_level, returning=returning,
        metered_hourly_kw=metered_hourly, metered_max_kw=metered_max,
        rated_kva=np.array([a[3] for a in assets], dtype=np.float64), baseline_peak_kw=baseline_peak,
        settings=settings)
    return {**empty, "summary": backtest_summary(result), "stations": _station_summaries(result, assets),
            "transformers": _transformer_rows(result, assets),
            "settings": {"p_hh": settings.household_extra_peak_kw, "heavy_load_rate": settings.heavy_load_rate,
                         "overload_load_rate": settings.overload_load_rate}}
