"""The season outlook (docs/domain.md §6.7): plain Python and numpy, no Django.

The outlook projects the festival window of the coming season with the §6.4 formula and
the §6.5 measures of `loadforecast.engine`; this module adds only what §6.7 defines on top:

- `OutlookSettings`: the window, the normal minimum temperatures, the lead times and the
  switch for estimates, from/to a plain dict (county settings, station overrides).
- `season_window`: the season's New Year N, its window N − 15 … N + 14 and the days d ≥ D
  a run on D projects (none when N is more than 90 days away).
- `season_arrival_range`: the arrivals that belong to a season (nearest New Year).
- `window_temperatures`: the forecast where there is one, else the month's normal, and which.
- `estimated_stays`: last season's stays of the villages that have not reported, shifted
  by the days between the two New Years.
- `registered_and_estimated`: n(d) per asset, split into its registered and estimated parts.
- `first_heavy_day`, `order_by_date`: the order-by date of each measure from its lead time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loadforecast import engine
from zhoukou_grid.core.lunar_calendar import lunar_new_year

__all__ = [
    "MEASURE_LEAD_TIME",
    "OutlookSettings",
    "SeasonWindow",
    "estimated_stays",
    "first_heavy_day",
    "order_by_date",
    "registered_and_estimated",
    "season_arrival_range",
    "season_window",
    "window_temperatures",
]

#: Normal monthly minimum temperatures of Zhoukou, January … December, °C (§6.7 defaults).
_DEFAULT_NORMALS: tuple[float, ...] = (-3, -1, 4, 10, 15, 20, 23, 22, 17, 11, 4, -1)
#: Normals outside this range (°C) are typing errors, not climate.
NORMAL_RANGE_C = (-40.0, 45.0)

#: The setting that holds each recommended measure's lead time (docs/domain.md §6.7).
MEASURE_LEAD_TIME = {
    "temp_capacity": "lead_days_temp_capacity",
    "transfer": "lead_days_transfer",
    "phase_balance": "lead_days_phase_balance",
    "staggered": "lead_days_staggered",
    "patrol": "lead_days_patrol",
}


@dataclass(frozen=True)
class OutlookSettings:
    """The settings of §6.7; the defaults are the documented ones."""

    window_days_before: int = 15  # the window starts N − 15 days
    window_days_after: int = 14  # … and ends N + 14 (正月十五); also how long after N a run still sees N
    reach_days: int = 90  # a run more than this many days before N projects nothing
    normal_min_temperature_c: tuple[float, ...] = _DEFAULT_NORMALS
    use_estimates: bool = True
    lead_days_temp_capacity: int = 20
    lead_days_transfer: int = 5
    lead_days_phase_balance: int = 3
    lead_days_staggered: int = 3
    lead_days_patrol: int = 1
    # An item whose order-by date is this close, with no planned measure, notifies the station once.
    notice_days_before_order_by: int = 3

    def __post_init__(self) -> None:
        errors = self._errors()
        if errors:
            raise engine.SettingsError("; ".join(errors))

    @property
    def window_days(self) -> int:
        return self.window_days_before + self.window_days_after + 1

    def _errors(self) -> list[str]:
        errors: list[str] = []
        if self.window_days_before < 0 or self.window_days_after < 0:
            errors.append("the window's days before and after the New Year must not be negative")
        elif self.window_days > engine.MAX_HORIZON_DAYS:
            errors.append(f"the window has {self.window_days} days, at most {engine.MAX_HORIZON_DAYS}")
        if self.reach_days < 1:
            errors.append("reach_days must be at least 1")
        normals = self.normal_min_temperature_c
        low, high = NORMAL_RANGE_C
        if len(normals) != 12:
            errors.append(f"normal_min_temperature_c needs 12 monthly values, got {len(normals)}")
        elif any(not math.isfinite(t) or not low <= t <= high for t in normals):
            errors.append(f"normal_min_temperature_c values must be between {low:g} and {high:g} °C")
        for name in (*MEASURE_LEAD_TIME.values(), "notice_days_before_order_by"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must not be negative")
        return errors

    @classmethod
    def from_dict(cls, *layers: Mapping[str, Any] | None) -> OutlookSettings:
        """Later layers override earlier ones; unknown keys and bad values raise SettingsError."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        merged: dict[str, Any] = {}
        for layer in layers:
            if not layer:
                continue
            unknown = sorted(set(layer) - set(known))
            if unknown:
                raise engine.SettingsError(f"unknown setting(s): {', '.join(unknown)}")
            merged.update(layer)
        values: dict[str, Any] = {}
        for name, value in merged.items():
            default = known[name].default
            try:
                if isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise ValueError
                    values[name] = value
                elif isinstance(default, tuple):
                    values[name] = tuple(float(v) for v in value)
                elif isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                else:
                    values[name] = int(value)
            except (TypeError, ValueError):
                raise engine.SettingsError(f"{name}: {value!r} is not a valid value") from None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def lead_days(self, kind: str) -> int:
        return getattr(self, MEASURE_LEAD_TIME[kind])


@dataclass(frozen=True)
class SeasonWindow:
    """The season a run on `run_date` looks at, and the days it projects."""

    run_date: dt.date
    season: int  # the lunar year of N
    new_year: dt.date  # N, 正月初一
    start: dt.date  # N − 15
    end: dt.date  # N + 14, inclusive
    first_day: dt.date  # max(D, start): the first day projected
    days: int  # days projected; 0 when the window is not in reach yet

    @property
    def in_reach(self) -> bool:
        return self.days > 0

    @property
    def dates(self) -> tuple[dt.date, ...]:
        return tuple(self.first_day + dt.timedelta(days=i) for i in range(self.days))

    @property
    def days_to_new_year(self) -> int:
        return (self.new_year - self.run_date).days


def season_window(run_date: dt.date, settings: OutlookSettings) -> SeasonWindow:
    """N = the first New Year on or after D − 14 days; the window N − 15 … N + 14; days d ≥ D.

    A run more than `reach_days` (90) before N projects nothing (days = 0). After N + 14
    the next New Year is N, far away, so a run on N + 15 projects nothing either.
    """
    season = run_date.year - 1
    earliest = run_date - dt.timedelta(days=settings.window_days_after)
    while lunar_new_year(season) < earliest:
        season += 1
    new_year = lunar_new_year(season)
    start = new_year - dt.timedelta(days=settings.window_days_before)
    end = new_year + dt.timedelta(days=settings.window_days_after)
    first_day = max(run_date, start)
    days = 0 if (new_year - run_date).days > settings.reach_days else (end - first_day).days + 1
    return SeasonWindow(run_date=run_date, season=season, new_year=new_year, start=start, end=end,
                        first_day=first_day, days=days)


def season_arrival_range(season: int) -> tuple[dt.date, dt.date]:
    """[first, end) of the arrival dates that belong to `season`: those nearest to its New Year
    (on a tie, the coming one; `lunar_calendar.nearest_season`)."""
    previous, this, following = (lunar_new_year(season - 1), lunar_new_year(season), lunar_new_year(season + 1))
    first = previous + dt.timedelta(days=math.ceil((this - previous).days / 2))
    end = this + dt.timedelta(days=math.ceil((following - this).days / 2))
    return first, end


def window_temperatures(
    dates: Sequence[dt.date], forecast: Mapping[dt.date, float | None], settings: OutlookSettings
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """T_min per day: the forecast where one exists, else the normal of the day's month.

    Returns the temperatures and, per day, True where the forecast was used.
    """
    from_forecast = np.array([forecast.get(day) is not None for day in dates], dtype=bool)
    temps = np.array(
        [forecast[day] if used else settings.normal_min_temperature_c[day.month - 1]
         for day, used in zip(dates, from_forecast, strict=True)],
        dtype=np.float64,
    )
    return temps, from_forecast


def estimated_stays(
    *,
    arrival: NDArray[Any],
    departure: NDArray[Any],
    village: NDArray[Any],
    reported_villages: NDArray[Any] | Sequence[int],
    previous_new_year: dt.date,
    new_year: dt.date,
) -> tuple[NDArray[np.bool_], NDArray[np.datetime64], NDArray[np.datetime64]]:
    """Last season's stays, moved to this season, for the villages with no list yet.

    arrival, departure, village: (residents,) of the previous season's lists (departure NaT
    when open: completed by the §6.4 rule in its own season before the shift). Returns
    (kept, arrival, departure): `kept` is False for the residents of a village in
    `reported_villages`; the dates are shifted by N − N_previous days.
    """
    arrival = np.asarray(arrival, dtype="datetime64[D]")
    departure = np.asarray(departure, dtype="datetime64[D]").copy()
    missing = np.isnat(departure)
    departure[missing] = engine.default_departures(arrival[missing])
    shift = np.timedelta64((new_year - previous_new_year).days, "D")
    kept = ~np.isin(np.asarray(village, dtype=np.int64), np.asarray(reported_villages, dtype=np.int64))
    return kept, arrival + shift, departure + shift


@dataclass(frozen=True)
class HouseholdCounts:
    """n(d) per group and day, and its registered and estimated parts (total = the two)."""

    registered: NDArray[np.int32]
    estimated: NDArray[np.int32]
    unlinked_residents: int

    @property
    def total(self) -> NDArray[np.int32]:
        return self.registered + self.estimated


def registered_and_estimated(
    *,
    registered_household: NDArray[Any],
    registered_arrival: NDArray[Any],
    registered_departure: NDArray[Any],
    estimated_household: NDArray[Any],
    estimated_arrival: NDArray[Any],
    estimated_departure: NDArray[Any],
    household_group: NDArray[Any],
    groups: int,
    first_day: dt.date,
    days: int,
) -> HouseholdCounts:
    """Households present per group and day, registered and estimated apart.

    A household present on a day as registered is not counted again as estimated: the
    estimated part is the households present in the union of both lists minus those
    present as registered (`engine.returning_households_present` on each).
    """
    registered = engine.returning_households_present(
        resident_household=registered_household, arrival=registered_arrival, departure=registered_departure,
        household_group=household_group, groups=groups, run_date=first_day, days=days)
    both = engine.returning_households_present(
        resident_household=np.concatenate([np.asarray(registered_household, dtype=np.int64),
                                           np.asarray(estimated_household, dtype=np.int64)]),
        arrival=np.concatenate([np.asarray(registered_arrival, dtype="datetime64[D]"),
                                np.asarray(estimated_arrival, dtype="datetime64[D]")]),
        departure=np.concatenate([np.asarray(registered_departure, dtype="datetime64[D]"),
                                  np.asarray(estimated_departure, dtype="datetime64[D]")]),
        household_group=household_group, groups=groups, run_date=first_day, days=days)
    return HouseholdCounts(registered=registered.present, estimated=both.present - registered.present,
                           unlinked_residents=registered.unlinked_residents)


def first_heavy_day(daily_level: NDArray[Any]) -> NDArray[np.int_]:
    """Per asset: the index of the first day at heavy load or above, −1 when none."""
    heavy = np.asarray(daily_level) >= engine.Level.HEAVY
    return np.where(heavy.any(axis=1), heavy.argmax(axis=1), -1)


def order_by_date(first_heavy: dt.date, kind: str, settings: OutlookSettings) -> dt.date:
    """The first day at heavy load or above − the measure's lead time (§6.7)."""
    return first_heavy - dt.timedelta(days=settings.lead_days(kind))
