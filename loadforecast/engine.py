"""The load-projection engine (docs/domain.md 6.1–6.5): plain Python and numpy, no Django.

A run on date D projects the days D, D+1, … of the horizon for a batch of assets at once.
Arrays are indexed (asset, day, hour): day 0 is the run date, hour h covers h:00–h+1:00.

    P_j(d,h) = B_j(h) + n_j(d) · p_hh · k_c(n_j(d)) · s(h) · e(d) · g(T_d)
    β_j      = P / (S_N · cosφ)                       transformers
    I_ℓ      = P / (√3 · 0.38 kV · cosφ), β_ℓ = I_ℓ / I_z   LV lines

Pieces, each usable on its own:
- `ProjectionSettings`: every default of docs/domain.md 6.2–6.5, from/to a plain dict.
- `hourly_from_quarter_hours`, `baseline_from_history`: the baseline B(h).
- `returning_households_present`: n(d) per asset from the residents' arrival/departure dates.
- `coincidence_factor`, `temperature_factor`, `festival_factors`: k_c(n), g(T), e(d).
- `project_transformers`, `project_lines`: hourly load, load rate, levels, per-day figures
  and (transformers) the IEC 60076-7 thermal check.
- `find_episodes`: consecutive days at watch or above, for alerts.
- `size_measures`: load transfer, temporary capacity, staggered use, phase balancing, patrol.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loadforecast import thermal
from zhoukou_grid.core.lunar_calendar import FestivalDay, default_departure, festival_day_kind

__all__ = [
    "AssetStatus",
    "Baseline",
    "BaselineSource",
    "Episodes",
    "HorizonFactors",
    "Level",
    "Measures",
    "ProjectionResult",
    "ProjectionSettings",
    "ReturningHouseholds",
    "SettingsError",
    "baseline_from_history",
    "coincidence_factor",
    "daily_levels",
    "default_departures",
    "festival_factors",
    "find_episodes",
    "horizon_factors",
    "hourly_from_quarter_hours",
    "one_stay_per_person",
    "project_lines",
    "project_transformers",
    "rated_current_a",
    "returning_households_present",
    "size_line_measures",
    "size_measures",
    "temperature_factor",
]

HOURS = 24
MAX_HORIZON_DAYS = 45
SQRT3 = math.sqrt(3.0)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int_]


class SettingsError(ValueError):
    """Projection settings that cannot be used (unknown key, wrong shape, out of order)."""


class Level(IntEnum):
    """Alert level of an asset-day; NOT_PROJECTED marks assets the run skipped (see AssetStatus)."""

    NOT_PROJECTED = -1
    NORMAL = 0
    WATCH = 1
    HEAVY = 2
    OVERLOAD = 3
    THERMAL = 4


class AssetStatus(IntEnum):
    """Why an asset has (or has not) a projection."""

    OK = 0
    NO_LOAD_DATA = 1  # no metered history, and (lines) no transformer baseline to share
    INVALID_RATING = 2  # S_N or I_z missing, zero or negative
    NO_HOUSEHOLD_SHARE = 3  # line without metering whose transformer has no households on record


class BaselineSource(IntEnum):
    """Where an asset's baseline came from."""

    NONE = 0
    HOURLY = 1  # median of metered hourly curves
    DAILY_MAX = 2  # median daily maximum × w(h)


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------

_DEFAULT_COINCIDENCE_POINTS: tuple[tuple[float, float], ...] = (
    (3.0, 1.00),
    (9.0, 0.90),
    (24.0, 0.65),
    (36.0, 0.50),
    (72.0, 0.45),
    (372.0, 0.40),
    (777.0, 0.30),
    (900.0, 0.26),
)
# fmt: off
_DEFAULT_EXTRA_DEMAND_SHAPE: tuple[float, ...] = (
    0.35, 0.30, 0.30, 0.30, 0.30, 0.35, 0.50, 0.65, 0.60, 0.55, 0.55, 0.65,
    0.70, 0.60, 0.55, 0.55, 0.60, 0.75, 0.90, 1.00, 1.00, 0.95, 0.80, 0.55,
)
_DEFAULT_RURAL_WINTER_SHAPE: tuple[float, ...] = (
    0.45, 0.40, 0.38, 0.38, 0.40, 0.45, 0.60, 0.75, 0.70, 0.65, 0.65, 0.75,
    0.80, 0.70, 0.65, 0.65, 0.70, 0.85, 0.95, 1.00, 1.00, 0.95, 0.80, 0.60,
)
_DEFAULT_STANDARD_RATINGS_KVA: tuple[float, ...] = (
    50, 100, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600,
)
# fmt: on


@dataclass(frozen=True)
class ProjectionSettings:
    """All settings of a projection (docs/domain.md 6.2–6.5); the defaults are the documented ones.

    Load rates are fractions (0.8 = 80 %). Build one from stored settings with `from_dict`
    (a county's settings with a station's overrides merged on top), keep `to_dict()` with
    the run as its snapshot.
    """

    # 6.1 / 6.4: load and load rate
    cos_phi: float = 0.9
    household_extra_peak_kw: float = 2.5  # p_hh
    coincidence_points: tuple[tuple[float, float], ...] = _DEFAULT_COINCIDENCE_POINTS  # (n, k_c)
    extra_demand_shape: tuple[float, ...] = _DEFAULT_EXTRA_DEMAND_SHAPE  # s(h)
    rural_winter_shape: tuple[float, ...] = _DEFAULT_RURAL_WINTER_SHAPE  # w(h)
    festival_factor_new_years_eve: float = 1.3
    festival_factor_first_day: float = 1.2
    festival_factor_second_to_fifth_day: float = 1.1
    temperature_reference_c: float = 5.0
    temperature_factor_per_degree: float = 0.03
    baseline_days: int = 14
    rating_voltage_kv: float = 0.4
    line_voltage_kv: float = 0.38
    horizon_days: int = 21
    # 6.2: levels
    watch_load_rate: float = 0.70
    heavy_load_rate: float = 0.80
    overload_load_rate: float = 1.00
    thermal_load_rate: float = 1.50
    heavy_duration_hours: int = 2
    overload_duration_hours: int = 2
    # 6.3: thermal check
    hot_spot_limit_c: float = 120.0
    top_oil_limit_c: float = 105.0
    thermal_oil_exponent_x: float = 0.8
    thermal_winding_exponent_y: float = 1.6
    thermal_k11: float = 1.0
    thermal_k21: float = 1.0
    thermal_k22: float = 2.0
    thermal_oil_time_constant_min: float = 180.0
    thermal_winding_time_constant_min: float = 4.0
    thermal_top_oil_rise_k: float = 60.0
    thermal_winding_oil_gradient_k: float = 23.0
    thermal_hot_spot_factor: float = 1.2
    thermal_ambient_surcharge_k: float = 10.0
    # Assumed when neither the transformer's P0/Pk nor anything better is known.
    thermal_default_loss_ratio: float = 5.0
    # Ambient used for a day without a temperature forecast (g(T) = 1 treats it as ≥ 5 °C too).
    thermal_ambient_without_forecast_c: float = 5.0
    # 6.5: measures
    measure_target_load_rate: float = 0.80
    phase_imbalance_share: float = 0.15
    standard_ratings_kva: tuple[float, ...] = _DEFAULT_STANDARD_RATINGS_KVA

    def __post_init__(self) -> None:
        errors = self._errors()
        if errors:
            raise SettingsError("; ".join(errors))

    def _errors(self) -> list[str]:
        errors: list[str] = []
        if not 0 < self.cos_phi <= 1:
            errors.append("cos_phi must be in (0, 1]")
        if self.household_extra_peak_kw <= 0:
            errors.append("household_extra_peak_kw (p_hh) must be positive")
        if not 1 <= self.horizon_days <= MAX_HORIZON_DAYS:
            errors.append(f"horizon_days must be between 1 and {MAX_HORIZON_DAYS}")
        if self.baseline_days < 1:
            errors.append("baseline_days must be at least 1")
        rates = (self.watch_load_rate, self.heavy_load_rate, self.overload_load_rate, self.thermal_load_rate)
        if not (0 < rates[0] < rates[1] < rates[2] < rates[3]):
            errors.append("thresholds must increase: watch < heavy < overload < thermal load rate")
        for name in ("heavy_duration_hours", "overload_duration_hours"):
            if not 1 <= getattr(self, name) <= HOURS:
                errors.append(f"{name} must be between 1 and 24")
        for name in ("extra_demand_shape", "rural_winter_shape"):
            shape = getattr(self, name)
            if len(shape) != HOURS or any(not math.isfinite(v) or v < 0 for v in shape):
                errors.append(f"{name} must have 24 non-negative values")
        points = self.coincidence_points
        if len(points) < 1 or any(len(point) != 2 for point in points):
            errors.append("coincidence_points must be (n, k) pairs")
        else:
            ns = [point[0] for point in points]
            if any(b <= a for a, b in zip(ns, ns[1:], strict=False)):
                errors.append("coincidence_points must have increasing n")
            if any(not 0 < point[1] <= 1 for point in points):
                errors.append("coincidence factors must be in (0, 1]")
        ratings = self.standard_ratings_kva
        if (
            not ratings
            or any(r <= 0 for r in ratings)
            or any(b <= a for a, b in zip(ratings, ratings[1:], strict=False))
        ):
            errors.append("standard_ratings_kva must be positive and increasing")
        for name in (
            "festival_factor_new_years_eve",
            "festival_factor_first_day",
            "festival_factor_second_to_fifth_day",
            "rating_voltage_kv",
            "line_voltage_kv",
            "hot_spot_limit_c",
            "top_oil_limit_c",
            "measure_target_load_rate",
            "thermal_oil_time_constant_min",
            "thermal_winding_time_constant_min",
            "thermal_k11",
            "thermal_k22",
        ):
            if not getattr(self, name) > 0:
                errors.append(f"{name} must be positive")
        if self.temperature_factor_per_degree < 0:
            errors.append("temperature_factor_per_degree must not be negative")
        if not 0 < self.phase_imbalance_share < 1:
            errors.append("phase_imbalance_share must be in (0, 1)")
        if self.thermal_default_loss_ratio < 0:
            errors.append("thermal_default_loss_ratio must not be negative")
        return errors

    @classmethod
    def from_dict(cls, *layers: Mapping[str, Any] | None) -> ProjectionSettings:
        """Build settings from one or more dicts, later ones overriding earlier ones.

        `ProjectionSettings.from_dict(county_settings, station_overrides)`: keys not given
        keep their defaults; an unknown key raises SettingsError naming it.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        merged: dict[str, Any] = {}
        for layer in layers:
            if not layer:
                continue
            unknown = sorted(set(layer) - set(known))
            if unknown:
                raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
            merged.update(layer)
        values: dict[str, Any] = {}
        for name, value in merged.items():
            default = known[name].default
            try:
                if name == "coincidence_points":
                    values[name] = tuple((float(n), float(k)) for n, k in value)
                elif isinstance(default, tuple):
                    values[name] = tuple(float(v) for v in value)
                elif isinstance(default, int) and not isinstance(default, bool):
                    if isinstance(value, float) and not value.is_integer():
                        raise ValueError
                    values[name] = int(value)
                else:
                    values[name] = float(value)
            except (TypeError, ValueError):
                raise SettingsError(f"{name}: {value!r} is not a valid value") from None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready plain values (lists for the shapes and points)."""
        result: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "coincidence_points":
                value = [list(point) for point in value]
            elif isinstance(value, tuple):
                value = list(value)
            result[f.name] = value
        return result

    @property
    def thermal_parameters(self) -> thermal.ThermalParameters:
        """The IEC 60076-7 constants for `thermal.simulate`."""
        return thermal.ThermalParameters(
            oil_exponent_x=self.thermal_oil_exponent_x,
            winding_exponent_y=self.thermal_winding_exponent_y,
            k11=self.thermal_k11,
            k21=self.thermal_k21,
            k22=self.thermal_k22,
            oil_time_constant_min=self.thermal_oil_time_constant_min,
            winding_time_constant_min=self.thermal_winding_time_constant_min,
            top_oil_rise_k=self.thermal_top_oil_rise_k,
            winding_oil_gradient_k=self.thermal_winding_oil_gradient_k,
            hot_spot_factor=self.thermal_hot_spot_factor,
            ambient_surcharge_k=self.thermal_ambient_surcharge_k,
        )


def rated_current_a(rated_kva: FloatArray | float, settings: ProjectionSettings) -> FloatArray:
    """Rated LV current I_N = S_N / (√3 · U) at the rating voltage (0.4 kV): 200 kVA → 288.7 A."""
    return np.asarray(rated_kva, dtype=np.float64) / (SQRT3 * settings.rating_voltage_kv)


# ---------------------------------------------------------------------------------------
# The terms of the formula
# ---------------------------------------------------------------------------------------


def coincidence_factor(households: NDArray[Any] | float, settings: ProjectionSettings) -> FloatArray:
    """k_c(n): linear between the settings' points, flat beyond the first and last point."""
    ns = np.array([point[0] for point in settings.coincidence_points])
    ks = np.array([point[1] for point in settings.coincidence_points])
    return np.interp(np.asarray(households, dtype=np.float64), ns, ks)


def temperature_factor(
    min_temperature_c: NDArray[Any] | Sequence[float | None], settings: ProjectionSettings
) -> FloatArray:
    """g(T) = 1 + 0.03 · max(0, 5 − T_min) per day; NaN (or None) means no forecast → 1."""
    temps = np.array([np.nan if t is None else t for t in np.atleast_1d(min_temperature_c)], dtype=np.float64)
    excess_cold = np.maximum(0.0, settings.temperature_reference_c - temps)
    factor = 1.0 + settings.temperature_factor_per_degree * excess_cold
    return np.where(np.isnan(temps), 1.0, factor)


def festival_factors(days: Sequence[dt.date], settings: ProjectionSettings) -> FloatArray:
    """e(d) per day: 除夕 1.3, 初一 1.2, 初二–初五 1.1, otherwise 1.0 (with the default settings)."""
    by_kind = {
        FestivalDay.ORDINARY: 1.0,
        FestivalDay.NEW_YEARS_EVE: settings.festival_factor_new_years_eve,
        FestivalDay.FIRST_DAY: settings.festival_factor_first_day,
        FestivalDay.SECOND_TO_FIFTH_DAY: settings.festival_factor_second_to_fifth_day,
    }
    return np.array([by_kind[festival_day_kind(day)] for day in days], dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------------


def hourly_from_quarter_hours(quarter_hour_kw: NDArray[Any]) -> FloatArray:
    """Average 96 quarter-hour points to 24 hours, (..., 96) → (..., 24).

    Point k (1-based) covers (k−1)·15 min to k·15 min, so hour h is points 4h+1 … 4h+4.
    An hour with some points missing (NaN) is the mean of the others; with all four
    missing it is NaN.
    """
    values = np.asarray(quarter_hour_kw, dtype=np.float64)
    if values.shape[-1] != 4 * HOURS:
        raise ValueError(f"expected 96 quarter-hour points on the last axis, got {values.shape[-1]}")
    grouped = values.reshape(*values.shape[:-1], HOURS, 4)
    present = ~np.isnan(grouped)
    count = present.sum(axis=-1)
    total = np.where(present, grouped, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class Baseline:
    """B(h) per asset: kw (assets, 24), NaN rows where source is NONE; days_used (assets,)."""

    kw: FloatArray
    source: NDArray[np.int8]
    days_used: NDArray[np.int16]


def _median_of_last_valid_days(values: FloatArray, valid: NDArray[np.bool_], keep: int) -> tuple[FloatArray, IntArray]:
    """Median over axis 1 of the last `keep` valid days of each asset. values: (A, N, ...), valid: (A, N)."""
    rank_from_end = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    selected = valid & (rank_from_end <= keep)
    count = selected.sum(axis=1)
    mask = selected.reshape(selected.shape + (1,) * (values.ndim - 2))
    # NaN sorts last, so the selected values of each asset come first, in order.
    ordered = np.sort(np.where(mask, values, np.nan), axis=1)
    lower = np.maximum(count - 1, 0) // 2
    upper = count // 2
    index_shape = (values.shape[0], 1) + (1,) * (values.ndim - 2)
    low = np.take_along_axis(ordered, lower.reshape(index_shape), axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(upper, values.shape[1] - 1).reshape(index_shape), axis=1)[:, 0]
    median = (low + high) / 2.0
    median[count == 0] = np.nan
    return median, count


def baseline_from_history(
    hourly_kw: NDArray[Any] | None,
    daily_max_kw: NDArray[Any] | None,
    settings: ProjectionSettings,
    chunk_assets: int = 8192,
) -> Baseline:
    """Baseline B(h) of each asset from the metered history before the run date.

    hourly_kw: (assets, days, 24), oldest day first, last day = the day before the run;
        NaN where not metered. A day "has data" when all 24 hours are present (hours are
        from `hourly_from_quarter_hours` for 96-point files).
    daily_max_kw: (assets, days), the same days, NaN where missing; used only for assets
        with no complete hourly day.
    For each hour: the median over the last `baseline_days` (14) days with data (the mean
    of the two middle values for an even count). With only daily maxima: their median over
    the last 14 days that have one, times w(h). Neither: source NONE ("no load data").
    """
    if hourly_kw is None and daily_max_kw is None:
        raise ValueError("give hourly_kw, daily_max_kw or both")
    assets = (hourly_kw if hourly_kw is not None else daily_max_kw).shape[0]
    kw = np.full((assets, HOURS), np.nan)
    source = np.zeros(assets, dtype=np.int8)
    days_used = np.zeros(assets, dtype=np.int16)
    if hourly_kw is not None:
        hourly = np.asarray(hourly_kw, dtype=np.float64)
        if hourly.ndim != 3 or hourly.shape[2] != HOURS:
            raise ValueError("hourly_kw must have shape (assets, days, 24)")
        complete = ~np.isnan(hourly).any(axis=2)
        # In chunks of the assets that have any complete day: the median sorts a masked copy.
        for rows in _chunks(np.flatnonzero(complete.any(axis=1)), chunk_assets):
            median, count = _median_of_last_valid_days(hourly[rows], complete[rows], settings.baseline_days)
            kw[rows] = median
            source[rows] = BaselineSource.HOURLY
            days_used[rows] = count
    if daily_max_kw is not None:
        daily = np.asarray(daily_max_kw, dtype=np.float64)
        if daily.ndim != 2 or daily.shape[0] != assets:
            raise ValueError("daily_max_kw must have shape (assets, days)")
        median, count = _median_of_last_valid_days(daily, ~np.isnan(daily), settings.baseline_days)
        use = (source == BaselineSource.NONE) & (count > 0)
        kw[use] = median[use, None] * np.asarray(settings.rural_winter_shape)[None, :]
        source[use] = BaselineSource.DAILY_MAX
        days_used[use] = count[use]
    return Baseline(kw=kw, source=source, days_used=days_used)


# ---------------------------------------------------------------------------------------
# Returning households
# ---------------------------------------------------------------------------------------


def one_stay_per_person(
    person: NDArray[Any], arrival: NDArray[Any], departure: NDArray[Any], order: NDArray[Any],
) -> tuple[NDArray[Any], NDArray[Any]]:
    """The stays with each person counted at most once a day: (arrival, departure) cut so.

    person: (residents,) a code per person (the ID number's HMAC), −1 when unknown (never
    merged). One person listed by two villages has two records; on each day they count at
    the present record with the earliest arrival (then the smallest `order`, the record's
    id), later records keep only the days no earlier one covers (an emptied record has
    arrival = departure). A missing departure becomes `default_departure`.
    """
    arrival = np.asarray(arrival, dtype="datetime64[D]").copy()
    departure = np.asarray(departure, dtype="datetime64[D]").copy()
    missing = np.isnat(departure)
    departure[missing] = default_departures(arrival[missing])
    person = np.asarray(person, dtype=np.int64)
    known = np.flatnonzero(person >= 0)
    codes, counts = np.unique(person[known], return_counts=True)
    shared = known[np.isin(person[known], codes[counts > 1])]
    if not shared.size:
        return arrival, departure
    ranked = shared[np.lexsort((np.asarray(order)[shared], arrival[shared], person[shared]))]
    covered_until: dict[int, np.datetime64] = {}
    for i in ranked:
        before = covered_until.get(int(person[i]))
        if before is not None:
            arrival[i] = min(max(arrival[i], before), departure[i])
            covered_until[int(person[i])] = max(before, departure[i])
        else:
            covered_until[int(person[i])] = departure[i]
    return arrival, departure


@dataclass(frozen=True)
class ReturningHouseholds:
    """n(d): households present per group (asset, or asset × phase) and day."""

    present: NDArray[np.int32]  # (groups, days)
    unlinked_residents: int  # residents with no household: not counted, listed as "unlinked"


def default_departures(arrivals: NDArray[np.datetime64]) -> NDArray[np.datetime64]:
    """Vectorised `default_departure` over a `datetime64[D]` array (NaT stays NaT).

    Residents arrive on a few dozen distinct dates, so each distinct date is converted once.
    """
    arrivals = np.asarray(arrivals, dtype="datetime64[D]")
    result = np.full(arrivals.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    known = ~np.isnat(arrivals)
    if not known.any():
        return result
    unique_days, inverse = np.unique(arrivals[known], return_inverse=True)
    departures = np.array(
        [default_departure(day.astype(dt.date)) for day in unique_days],
        dtype="datetime64[D]",
    )
    result[known] = departures[inverse]
    return result


def returning_households_present(
    *,
    resident_household: NDArray[Any],
    arrival: NDArray[Any],
    departure: NDArray[Any],
    household_group: NDArray[Any],
    groups: int,
    run_date: dt.date,
    days: int,
) -> ReturningHouseholds:
    """Distinct households with at least one returning resident present, per group and day.

    resident_household: (residents,) index into household_group, −1 when not linked.
    arrival, departure: (residents,) dates (datetime64[D]); departure NaT → `default_departure`.
    household_group: (households,) the group (transformer, line, …) index, −1 when none.
    A resident is present on day d when arrival ≤ d < departure.
    """
    resident_household = np.asarray(resident_household, dtype=np.int64)
    arrival = np.asarray(arrival, dtype="datetime64[D]")
    departure = np.asarray(departure, dtype="datetime64[D]").copy()
    household_group = np.asarray(household_group, dtype=np.int64)
    linked = resident_household >= 0
    unlinked = int((~linked).sum())
    missing = np.isnat(departure)
    departure[missing] = default_departures(arrival[missing])

    origin = np.datetime64(run_date, "D")
    start = np.clip((arrival - origin).astype(np.int64), 0, days)
    end = np.clip((departure - origin).astype(np.int64), 0, days)
    keep = linked & ~np.isnat(arrival) & (end > start)
    keep &= household_group[np.where(linked, resident_household, 0)] >= 0
    households, local = np.unique(resident_household[keep], return_inverse=True)
    start, end = start[keep], end[keep]

    # Residents per household and day from +1/−1 marks, so overlapping stays of one
    # household's residents count it once (present when its resident count is > 0).
    width = days + 1
    marks = np.bincount(local * width + start, minlength=households.size * width)
    marks -= np.bincount(local * width + end, minlength=households.size * width)
    residents_present = np.cumsum(marks.reshape(households.size, width)[:, :days], axis=1)
    present = residents_present > 0

    group_of = household_group[households]
    counts = np.zeros((groups, days), dtype=np.int32)
    if households.size:
        flat = np.bincount(
            (group_of[:, None] * days + np.arange(days)[None, :])[present],
            minlength=groups * days,
        )
        counts[:] = flat.reshape(groups, days)
    return ReturningHouseholds(present=counts, unlinked_residents=unlinked)


# ---------------------------------------------------------------------------------------
# Projection
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HorizonFactors:
    """Per-day factors of one run: e(d), g(T_d) and the ambient for the thermal check, shape (days,)."""

    dates: tuple[dt.date, ...]
    festival: FloatArray
    temperature: FloatArray
    ambient_c: FloatArray

    @property
    def days(self) -> int:
        return len(self.dates)


def horizon_factors(
    run_date: dt.date,
    min_temperature_c: Sequence[float | None] | NDArray[Any] | None,
    settings: ProjectionSettings,
    days: int | None = None,
) -> HorizonFactors:
    """e(d), g(T) and ambient for the days D … D+days−1 (default: the settings' horizon).

    min_temperature_c: the county's forecast daily minimum per day of the horizon, NaN or
    None where there is no forecast (g = 1, ambient = thermal_ambient_without_forecast_c).
    """
    days = settings.horizon_days if days is None else days
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_HORIZON_DAYS}")
    dates = tuple(run_date + dt.timedelta(days=offset) for offset in range(days))
    if min_temperature_c is None:
        temps = np.full(days, np.nan)
    else:
        temps = np.array([np.nan if t is None else t for t in min_temperature_c], dtype=np.float64)
        if temps.shape != (days,):
            raise ValueError(f"min_temperature_c must have one value per day ({days})")
    return HorizonFactors(
        dates=dates,
        festival=festival_factors(dates, settings),
        temperature=temperature_factor(temps, settings),
        ambient_c=np.where(np.isnan(temps), settings.thermal_ambient_without_forecast_c, temps),
    )


@dataclass(frozen=True)
class ProjectionResult:
    """Per-asset and per-day results of a run; arrays are (assets,) or (assets, days).

    Assets whose status is not OK have level NOT_PROJECTED and NaN figures.
    """

    status: NDArray[np.int8]
    level: NDArray[np.int8]
    daily_level: NDArray[np.int8]
    peak_kw: FloatArray
    peak_load_rate: FloatArray
    peak_hour: NDArray[np.int8]
    hours_at_or_above_heavy: NDArray[np.int8]
    hours_at_or_above_overload: NDArray[np.int8]
    returning_households: NDArray[np.int32]
    peak_current_a: FloatArray | None = None  # lines
    thermal_checked: NDArray[np.bool_] | None = None  # transformers
    max_top_oil_c: FloatArray | None = None
    max_hot_spot_c: FloatArray | None = None
    ageing_days: FloatArray | None = None  # days of paper life used per day (mean V)
    phase_imbalance: FloatArray | None = None  # (I_max − I_min)/I_max at the peak hour
    phase_households_to_move: NDArray[np.int32] | None = None
    hourly_kw: FloatArray | None = None  # (assets, days, 24) when asked for
    hourly_load_rate: FloatArray | None = field(default=None, repr=False)

    @property
    def run_peak_kw(self) -> FloatArray:
        """Highest hourly kW over the horizon per asset (NaN when not projected)."""
        return _nanmax_rows(self.peak_kw)

    @property
    def run_peak_load_rate(self) -> FloatArray:
        """Highest load rate over the horizon per asset."""
        return _nanmax_rows(self.peak_load_rate)

    @property
    def run_peak_day(self) -> IntArray:
        """Day index of the highest load rate (0 when not projected)."""
        return np.argmax(np.nan_to_num(self.peak_load_rate, nan=-np.inf), axis=1)


def _nanmax_rows(values: FloatArray) -> FloatArray:
    result = np.full(values.shape[0], np.nan)
    has = ~np.isnan(values).all(axis=1)
    result[has] = values[has].max(axis=1)
    return result


def _extra_load_per_day(returning: NDArray[Any], factors: HorizonFactors, settings: ProjectionSettings) -> FloatArray:
    """n·p_hh·k_c(n)·e(d)·g(T_d), shape (assets, days); times s(h) it is the hourly extra load."""
    n = np.asarray(returning, dtype=np.float64)
    per_day = n * settings.household_extra_peak_kw * coincidence_factor(n, settings)
    return per_day * (factors.festival * factors.temperature)[None, :]


class _Workspace:
    """Hourly buffers reused from chunk to chunk: allocating fresh (assets, days, 24) arrays
    for every step cost more than the arithmetic (page faults), and small chunks stay in cache.
    """

    def __init__(self, rows: int, days: int) -> None:
        self.load_kw = np.empty((rows, days, HOURS))
        self.load_rate = np.empty((rows, days, HOURS))
        self.window = np.empty((rows, days, HOURS - 1))
        self.flags = np.empty((rows, days, HOURS), dtype=bool)

    def view(self, rows: int) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
        return self.load_kw[:rows], self.load_rate[:rows], self.window[:rows], self.flags[:rows]


def _hourly_load(
    extra_per_day: FloatArray, baseline_kw: FloatArray, settings: ProjectionSettings, out: FloatArray
) -> FloatArray:
    """P(d,h) = B(h) + extra(d)·s(h) into `out` (assets, days, 24)."""
    np.multiply(extra_per_day[:, :, None], np.asarray(settings.extra_demand_shape)[None, None, :], out=out)
    out += baseline_kw[:, None, :]
    return out


def _longest_run_floor(load_rate: FloatArray, hours: int, window: FloatArray) -> FloatArray:
    """Per (asset, day): the highest value v such that β ≥ v for `hours` consecutive hours.

    max over h of min(β[h … h+hours−1]): "β ≥ t for ≥ k consecutive hours" is exactly
    "this value ≥ t", so one pass serves every threshold with the same duration.
    """
    if hours <= 1:
        return load_rate.max(axis=-1)
    width = HOURS - 1
    current = window[..., :width]
    np.minimum(load_rate[..., 1:], load_rate[..., :-1], out=current)
    for size in range(2, hours):  # durations above 2 h: widen the window one hour at a time
        width -= 1
        np.minimum(current[..., :width], load_rate[..., size:], out=window[..., :width])
        current = window[..., :width]
    return current.max(axis=-1)


def _levels_from_peaks(
    peak_rate: FloatArray,
    heavy_floor: FloatArray,
    overload_floor: FloatArray,
    settings: ProjectionSettings,
    thermal_exceeded: NDArray[np.bool_] | None = None,
) -> NDArray[np.int8]:
    level = (peak_rate >= settings.watch_load_rate).astype(np.int8)
    level[heavy_floor >= settings.heavy_load_rate] = Level.HEAVY
    level[overload_floor >= settings.overload_load_rate] = Level.OVERLOAD
    thermal_day = peak_rate >= settings.thermal_load_rate
    if thermal_exceeded is not None:
        thermal_day |= thermal_exceeded
    level[thermal_day] = Level.THERMAL
    return level


def daily_levels(
    load_rate: FloatArray,
    settings: ProjectionSettings,
    thermal_exceeded: NDArray[np.bool_] | None = None,
) -> NDArray[np.int8]:
    """Level of each (asset, day) from the hourly load rate (assets, days, 24), docs/domain.md 6.2.

    watch: β ≥ 70 % at any hour; heavy: β ≥ 80 % for ≥ 2 consecutive hours; overload:
    β ≥ 100 % for ≥ 2 consecutive hours (the longest run within the day); thermal: β ≥ 150 %
    at any hour or `thermal_exceeded` (assets, days) from the temperature check.
    """
    load_rate = np.asarray(load_rate, dtype=np.float64)
    window = np.empty(load_rate.shape[:-1] + (HOURS - 1,))
    heavy_floor = _longest_run_floor(load_rate, settings.heavy_duration_hours, window)
    if settings.overload_duration_hours == settings.heavy_duration_hours:
        overload_floor = heavy_floor
    else:
        overload_floor = _longest_run_floor(load_rate, settings.overload_duration_hours, window)
    return _levels_from_peaks(load_rate.max(axis=-1), heavy_floor, overload_floor, settings, thermal_exceeded)


def _hourly_figures(
    out: dict[str, Any],
    rows: IntArray,
    load_kw: FloatArray,
    load_rate: FloatArray,
    window: FloatArray,
    flags: NDArray[np.bool_],
    settings: ProjectionSettings,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Write the per-day figures of a chunk; return peak rate and the two run floors for the levels."""
    peak_hour = load_rate.argmax(axis=-1)
    peak_rate = np.take_along_axis(load_rate, peak_hour[..., None], axis=-1)[..., 0]
    out["peak_hour"][rows] = peak_hour
    out["peak_load_rate"][rows] = peak_rate
    # β is P divided by a per-asset constant, so the peak hour of β is the peak hour of P.
    out["peak_kw"][rows] = np.take_along_axis(load_kw, peak_hour[..., None], axis=-1)[..., 0]
    np.greater_equal(load_rate, settings.heavy_load_rate, out=flags)
    out["hours_at_or_above_heavy"][rows] = np.count_nonzero(flags, axis=-1)
    np.greater_equal(load_rate, settings.overload_load_rate, out=flags)
    out["hours_at_or_above_overload"][rows] = np.count_nonzero(flags, axis=-1)
    heavy_floor = _longest_run_floor(load_rate, settings.heavy_duration_hours, window)
    if settings.overload_duration_hours == settings.heavy_duration_hours:
        overload_floor = heavy_floor
    else:
        overload_floor = _longest_run_floor(load_rate, settings.overload_duration_hours, window)
    return peak_rate, heavy_floor, overload_floor


def _empty_result(assets: int, days: int, *, lines: bool, keep_hourly: bool) -> dict[str, Any]:
    def nan2() -> FloatArray:
        return np.full((assets, days), np.nan)

    out: dict[str, Any] = {
        "status": np.zeros(assets, dtype=np.int8),
        "level": np.full(assets, Level.NOT_PROJECTED, dtype=np.int8),
        "daily_level": np.full((assets, days), Level.NOT_PROJECTED, dtype=np.int8),
        "peak_kw": nan2(),
        "peak_load_rate": nan2(),
        "peak_hour": np.zeros((assets, days), dtype=np.int8),
        "hours_at_or_above_heavy": np.zeros((assets, days), dtype=np.int8),
        "hours_at_or_above_overload": np.zeros((assets, days), dtype=np.int8),
        "returning_households": np.zeros((assets, days), dtype=np.int32),
    }
    if lines:
        out["peak_current_a"] = nan2()
    else:
        out["thermal_checked"] = np.zeros(assets, dtype=bool)
        out["max_top_oil_c"] = nan2()
        out["max_hot_spot_c"] = nan2()
        out["ageing_days"] = nan2()
    if keep_hourly:
        out["hourly_kw"] = np.full((assets, days, HOURS), np.nan)
        out["hourly_load_rate"] = np.full((assets, days, HOURS), np.nan)
    return out


def _store_levels(
    out: dict[str, Any],
    rows: IntArray,
    level: NDArray[np.int8],
    load_kw: FloatArray,
    load_rate: FloatArray,
    keep_hourly: bool,
) -> None:
    out["daily_level"][rows] = level
    out["level"][rows] = level.max(axis=1)
    if keep_hourly:
        out["hourly_kw"][rows] = load_kw
        out["hourly_load_rate"][rows] = load_rate


def _chunks(rows: IntArray, size: int):
    for begin in range(0, rows.size, size):
        yield rows[begin : begin + size]


def project_transformers(
    *,
    baseline_kw: FloatArray,
    rated_kva: FloatArray,
    returning_households: NDArray[Any],
    factors: HorizonFactors,
    settings: ProjectionSettings,
    loss_ratio: FloatArray | None = None,
    returning_by_phase: NDArray[Any] | None = None,
    keep_hourly: bool = False,
    chunk_assets: int = 1024,
) -> ProjectionResult:
    """Project a batch of transformers: load, load rate, levels, thermal check, per-day figures.

    baseline_kw: (A, 24) from `baseline_from_history` (NaN row = no load data).
    rated_kva: (A,) S_N (after any done temporary-capacity measure).
    returning_households: (A, days) n_j(d) from `returning_households_present`.
    loss_ratio: (A,) Pk/P0 where known, NaN elsewhere (→ thermal_default_loss_ratio).
    returning_by_phase: (A, days, 3) returning households on phases A/B/C (households of
        unknown phase are left out of all three); gives the phase-imbalance figures.
    The thermal check (IEC 60076-7) runs for every transformer whose load-rate level is
    heavy or above; it can raise a day to THERMAL.
    Work is done `chunk_assets` transformers at a time to bound memory.
    """
    baseline_kw = np.asarray(baseline_kw, dtype=np.float64)
    rated_kva = np.asarray(rated_kva, dtype=np.float64)
    returning = np.asarray(returning_households)
    assets, days = returning.shape
    if baseline_kw.shape != (assets, HOURS) or rated_kva.shape != (assets,) or days != factors.days:
        raise ValueError("baseline_kw (A, 24), rated_kva (A,), returning_households (A, days) must agree")
    ratios = np.full(assets, settings.thermal_default_loss_ratio)
    if loss_ratio is not None:
        given = np.asarray(loss_ratio, dtype=np.float64)
        ratios = np.where(np.isnan(given), settings.thermal_default_loss_ratio, given)

    out = _empty_result(assets, days, lines=False, keep_hourly=keep_hourly)
    out["returning_households"][:] = returning
    status = out["status"]
    status[np.isnan(baseline_kw).any(axis=1)] = AssetStatus.NO_LOAD_DATA
    status[~(rated_kva > 0)] = AssetStatus.INVALID_RATING
    if returning_by_phase is not None:
        out["phase_imbalance"] = np.full(assets, np.nan)
        out["phase_households_to_move"] = np.zeros(assets, dtype=np.int32)

    params = settings.thermal_parameters
    ambient_hourly = np.repeat(factors.ambient_c, HOURS)
    extra_per_day = _extra_load_per_day(returning, factors, settings)
    workspace = _Workspace(min(chunk_assets, assets), days)
    for rows in _chunks(np.flatnonzero(status == AssetStatus.OK), chunk_assets):
        load_kw, load_rate, window, flags = workspace.view(rows.size)
        _hourly_load(extra_per_day[rows], baseline_kw[rows], settings, out=load_kw)
        np.divide(load_kw, (rated_kva[rows] * settings.cos_phi)[:, None, None], out=load_rate)
        peaks = _hourly_figures(out, rows, load_kw, load_rate, window, flags, settings)
        level = _levels_from_peaks(*peaks, settings)

        hot = np.flatnonzero(level.max(axis=1) >= Level.HEAVY)
        if hot.size:
            result = thermal.simulate(
                load_rate[hot].reshape(hot.size, days * HOURS), ambient_hourly, ratios[rows[hot]], params
            )
            top_oil = result.top_oil_c.reshape(hot.size, days, HOURS)
            hot_spot = result.hot_spot_c.reshape(hot.size, days, HOURS)
            exceeded = np.zeros(level.shape, dtype=bool)
            exceeded[hot] = ((hot_spot > settings.hot_spot_limit_c) | (top_oil > settings.top_oil_limit_c)).any(axis=-1)
            level = _levels_from_peaks(*peaks, settings, exceeded)
            checked = rows[hot]
            out["thermal_checked"][checked] = True
            out["max_top_oil_c"][checked] = top_oil.max(axis=-1)
            out["max_hot_spot_c"][checked] = hot_spot.max(axis=-1)
            out["ageing_days"][checked] = thermal.relative_ageing_rate(hot_spot).mean(axis=-1)
        _store_levels(out, rows, level, load_kw, load_rate, keep_hourly)

        if returning_by_phase is not None:
            _phase_balance(out, rows, returning_by_phase, baseline_kw, load_rate, factors, settings)
    return ProjectionResult(**out)


def _phase_balance(
    out: dict[str, Any],
    rows: IntArray,
    returning_by_phase: NDArray[Any],
    baseline_kw: FloatArray,
    load_rate: FloatArray,
    factors: HorizonFactors,
    settings: ProjectionSettings,
) -> None:
    """Phase loads at each transformer's peak hour: a third of the baseline each, plus the
    returning households of the phase (those of unknown phase shared equally).
    """
    flat_peak = load_rate.reshape(rows.size, -1).argmax(axis=1)
    day, hour = np.divmod(flat_peak, HOURS)
    phase_n = np.asarray(returning_by_phase[rows, day], dtype=np.float64)  # (a, 3)
    n = out["returning_households"][rows, day].astype(np.float64)
    unknown = np.maximum(n - phase_n.sum(axis=1), 0.0)
    per_household = (
        settings.household_extra_peak_kw
        * coincidence_factor(n, settings)
        * np.asarray(settings.extra_demand_shape)[hour]
        * factors.festival[day]
        * factors.temperature[day]
    )
    phase_kw = (baseline_kw[rows, hour] / 3.0)[:, None] + (phase_n + unknown[:, None] / 3.0) * per_household[:, None]
    heaviest = phase_kw.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        imbalance = np.where(heaviest > 0, (heaviest - phase_kw.min(axis=1)) / heaviest, 0.0)
        excess = heaviest - phase_kw.mean(axis=1)
        to_move = np.where(per_household > 0, np.ceil(excess / per_household - 1e-9), 0.0)
    out["phase_imbalance"][rows] = imbalance
    out["phase_households_to_move"][rows] = np.where(imbalance > settings.phase_imbalance_share, to_move, 0)


def project_lines(
    *,
    line_transformer: IntArray,
    line_households: NDArray[Any],
    transformer_households: NDArray[Any],
    transformer_baseline_kw: FloatArray,
    ampacity_a: FloatArray,
    returning_households: NDArray[Any],
    factors: HorizonFactors,
    settings: ProjectionSettings,
    metered_baseline_kw: FloatArray | None = None,
    keep_hourly: bool = False,
    chunk_assets: int = 1024,
) -> ProjectionResult:
    """Project a batch of LV lines (docs/domain.md 6.4, last bullet).

    B_ℓ = B_j × (households on ℓ / households on j) unless the line is metered
    (metered_baseline_kw row not NaN); n_ℓ(d) and k_c(n_ℓ(d)) are the line's own;
    I_ℓ = P_ℓ / (√3 · 0.38 kV · cosφ), β_ℓ = I_ℓ / I_z. Levels use the same thresholds
    on β_ℓ; β_ℓ ≥ 150 % is the thermal level (there is no thermal model for cables).
    """
    line_transformer = np.asarray(line_transformer, dtype=np.int64)
    returning = np.asarray(returning_households)
    lines, days = returning.shape
    ampacity = np.asarray(ampacity_a, dtype=np.float64)
    transformer_baseline_kw = np.asarray(transformer_baseline_kw, dtype=np.float64)
    if line_transformer.shape != (lines,) or ampacity.shape != (lines,) or days != factors.days:
        raise ValueError("line arrays must have one value per line and returning_households (lines, days)")
    line_households = np.asarray(line_households, dtype=np.float64)
    on_transformer = np.asarray(transformer_households, dtype=np.float64)[line_transformer]

    baseline = np.full((lines, HOURS), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(on_transformer > 0, line_households / on_transformer, np.nan)
    baseline[:] = transformer_baseline_kw[line_transformer] * share[:, None]
    out = _empty_result(lines, days, lines=True, keep_hourly=keep_hourly)
    out["returning_households"][:] = returning
    status = out["status"]
    transformer_has_data = ~np.isnan(transformer_baseline_kw).any(axis=1)[line_transformer]
    status[~transformer_has_data] = AssetStatus.NO_LOAD_DATA
    status[transformer_has_data & ~(on_transformer > 0)] = AssetStatus.NO_HOUSEHOLD_SHARE
    if metered_baseline_kw is not None:
        metered = np.asarray(metered_baseline_kw, dtype=np.float64)
        own = ~np.isnan(metered).any(axis=1)
        baseline[own] = metered[own]
        status[own] = AssetStatus.OK
    status[~(ampacity > 0)] = AssetStatus.INVALID_RATING

    amps_per_kw = 1.0 / (SQRT3 * settings.line_voltage_kv * settings.cos_phi)
    extra_per_day = _extra_load_per_day(returning, factors, settings)
    workspace = _Workspace(min(chunk_assets, lines), days)
    for rows in _chunks(np.flatnonzero(status == AssetStatus.OK), chunk_assets):
        load_kw, load_rate, window, flags = workspace.view(rows.size)
        _hourly_load(extra_per_day[rows], baseline[rows], settings, out=load_kw)
        np.multiply(load_kw, amps_per_kw, out=load_rate)  # the current I in A, then β = I / I_z
        np.divide(load_rate, ampacity[rows, None, None], out=load_rate)
        level = _levels_from_peaks(*_hourly_figures(out, rows, load_kw, load_rate, window, flags, settings), settings)
        # I and β = I/I_z are monotone in P, so the peak current is at the peak hour.
        out["peak_current_a"][rows] = out["peak_kw"][rows] * amps_per_kw
        _store_levels(out, rows, level, load_kw, load_rate, keep_hourly)
    return ProjectionResult(**out)


# ---------------------------------------------------------------------------------------
# Episodes and measures
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episodes:
    """Runs of consecutive days at or above a level, one entry per episode (for alerts)."""

    asset: IntArray
    first_day: IntArray
    last_day: IntArray
    level: NDArray[np.int8]  # highest daily level within the episode
    peak_load_rate: FloatArray
    peak_kw: FloatArray
    peak_day: IntArray  # day of the highest load rate within the episode


def find_episodes(result: ProjectionResult, min_level: Level = Level.WATCH) -> Episodes:
    """First and last day of every run of consecutive days with daily level ≥ `min_level`."""
    daily_level = result.daily_level
    assets, days = daily_level.shape
    active = daily_level >= min_level
    padded = np.zeros((assets, days + 2), dtype=bool)
    padded[:, 1:-1] = active
    starts = padded[:, 1:-1] & ~padded[:, :-2]
    ends = padded[:, 1:-1] & ~padded[:, 2:]
    start_asset, first_day = np.nonzero(starts)
    _, last_day = np.nonzero(ends)  # row-major order pairs each end with its start
    if start_asset.size == 0:
        empty_int = np.zeros(0, dtype=np.int64)
        return Episodes(
            empty_int, empty_int, empty_int, np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0), empty_int
        )
    # One row per episode over the whole horizon, masked outside the episode's days
    # (alerting assets are a small share of a batch, so this stays small).
    offsets = np.arange(days)[None, :]
    in_episode = (offsets >= first_day[:, None]) & (offsets <= last_day[:, None])
    rate = np.where(in_episode, np.nan_to_num(result.peak_load_rate[start_asset], nan=-np.inf), -np.inf)
    peak_day = rate.argmax(axis=1)  # the first day reaching the episode's peak
    level = np.where(in_episode, daily_level[start_asset], Level.NOT_PROJECTED).max(axis=1)
    return Episodes(
        asset=start_asset,
        first_day=first_day,
        last_day=last_day,
        level=level.astype(np.int8),
        peak_load_rate=rate[np.arange(start_asset.size), peak_day],
        peak_kw=result.peak_kw[start_asset, peak_day],
        peak_day=peak_day,
    )


@dataclass(frozen=True)
class Measures:
    """Sized measures (docs/domain.md 6.5) per asset; NaN / −1 / False where not applicable."""

    needed: NDArray[np.bool_]  # projected peak load rate above the target (80 %)
    transfer_to: IntArray  # tied neighbour index, −1 when none can take the load
    transfer_kva: FloatArray  # ΔS = S_j − 0.8 · S_N,j
    temporary_rating_kva: FloatArray  # smallest standard rating with S_peak / S_N,new ≤ 0.8 (NaN: none big enough)
    staggered_use_kw: FloatArray  # ΔP = P_peak − 0.8 · S_N · cosφ
    phase_balancing: NDArray[np.bool_]
    phase_households_to_move: NDArray[np.int32]
    patrol_day: IntArray  # day index of the projected peak, −1 when not needed


def size_measures(
    *,
    rated_kva: FloatArray,
    peak_kw: FloatArray,
    peak_day: IntArray,
    settings: ProjectionSettings,
    ties: NDArray[Any] | None = None,
    phase_imbalance: FloatArray | None = None,
    phase_households_to_move: NDArray[Any] | None = None,
) -> Measures:
    """Size the measures for every transformer projected above the target load rate.

    rated_kva, peak_kw, peak_day: (A,) per transformer over the horizon (peak_kw NaN when
    not projected; `ProjectionResult.run_peak_kw` / `run_peak_day`). Neighbours may come
    from other batches: pass the arrays of all transformers the ties refer to.
    ties: (E, 2) index pairs of transformers that can be tied (either direction).
    Load transfer: to the tied neighbour k with S_k,peak + ΔS ≤ 0.8 · S_N,k that keeps the
    most headroom; each neighbour is judged on its own projection, independently of other
    transfers proposed in the same run.
    """
    rated = np.asarray(rated_kva, dtype=np.float64)
    peak_kw = np.asarray(peak_kw, dtype=np.float64)
    assets = rated.size
    target = settings.measure_target_load_rate
    peak_kva = peak_kw / settings.cos_phi
    with np.errstate(invalid="ignore", divide="ignore"):
        load_rate = peak_kw / (rated * settings.cos_phi)
    needed = np.nan_to_num(load_rate, nan=0.0) > target
    needed &= rated > 0

    transfer_kva = np.where(needed, peak_kva - target * rated, np.nan)
    transfer_to = np.full(assets, -1, dtype=np.int64)
    if ties is not None and len(ties):
        pairs = np.asarray(ties, dtype=np.int64).reshape(-1, 2)
        source = np.concatenate([pairs[:, 0], pairs[:, 1]])
        neighbour = np.concatenate([pairs[:, 1], pairs[:, 0]])
        headroom = target * rated[neighbour] - peak_kva[neighbour] - transfer_kva[source]
        ok = needed[source] & (headroom >= 0)  # NaN peaks compare False
        source, neighbour, headroom = source[ok], neighbour[ok], headroom[ok]
        order = np.lexsort((-headroom, source))  # by source, most headroom first
        source, neighbour = source[order], neighbour[order]
        first = np.ones(source.size, dtype=bool)
        first[1:] = source[1:] != source[:-1]
        transfer_to[source[first]] = neighbour[first]

    ratings = np.asarray(settings.standard_ratings_kva, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        fits = (peak_kva[:, None] / ratings[None, :]) <= target
    has_fit = fits.any(axis=1)
    temporary = np.where(needed & has_fit, ratings[np.argmax(fits, axis=1)], np.nan)

    staggered = np.where(needed, peak_kw - target * rated * settings.cos_phi, np.nan)

    if phase_imbalance is not None and phase_households_to_move is not None:
        imbalance = np.asarray(phase_imbalance, dtype=np.float64)
        phase = needed & (np.nan_to_num(imbalance, nan=0.0) > settings.phase_imbalance_share)
        to_move = np.where(phase, np.asarray(phase_households_to_move), 0).astype(np.int32)
    else:
        phase = np.zeros(assets, dtype=bool)
        to_move = np.zeros(assets, dtype=np.int32)

    return Measures(
        needed=needed,
        transfer_to=transfer_to,
        transfer_kva=transfer_kva,
        temporary_rating_kva=temporary,
        staggered_use_kw=staggered,
        phase_balancing=phase,
        phase_households_to_move=to_move,
        patrol_day=np.where(needed, np.asarray(peak_day), -1),
    )


def size_line_measures(
    *, ampacity_a: FloatArray, peak_kw: FloatArray, peak_day: IntArray, settings: ProjectionSettings
) -> Measures:
    """Measures for LV lines above the target: staggered use (ΔP to shift below 0.8 · I_z) and patrol.

    A line has no rating to raise and no tie, so transfer and temporary capacity stay empty.
    """
    ampacity = np.asarray(ampacity_a, dtype=np.float64)
    peak_kw = np.asarray(peak_kw, dtype=np.float64)
    lines = ampacity.size
    capacity_kw = ampacity * SQRT3 * settings.line_voltage_kv * settings.cos_phi
    with np.errstate(invalid="ignore", divide="ignore"):
        needed = np.nan_to_num(peak_kw / capacity_kw, nan=0.0) > settings.measure_target_load_rate
    needed &= ampacity > 0
    return Measures(
        needed=needed,
        transfer_to=np.full(lines, -1, dtype=np.int64),
        transfer_kva=np.full(lines, np.nan),
        temporary_rating_kva=np.full(lines, np.nan),
        staggered_use_kw=np.where(needed, peak_kw - settings.measure_target_load_rate * capacity_kw, np.nan),
        phase_balancing=np.zeros(lines, dtype=bool),
        phase_households_to_move=np.zeros(lines, dtype=np.int32),
        patrol_day=np.where(needed, np.asarray(peak_day), -1),
    )
