"""Lunar-calendar dates the projection needs: festival days and the default departure.

Plain Python on top of the `lunardate` package (covers lunar years 1900–2099); no Django.
docs/domain.md 6.4: New Year's Eve (除夕) is the day before the first day of the first lunar
month (正月初一), whatever the length of the twelfth month; a returning resident without a
departure date leaves on 初八 of the Lunar New Year nearest to the arrival, or seven days
after arriving if that is later.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from functools import lru_cache

import numpy as np
from lunardate import LunarDate

__all__ = [
    "FestivalDay",
    "default_departure",
    "default_departures",
    "festival_day_kind",
    "lunar_new_year",
    "nearest_lunar_new_year_year",
]

#: A resident with no departure date stays at least this long.
MINIMUM_DEFAULT_STAY = dt.timedelta(days=7)
#: The default departure is this day of the first lunar month (初八).
DEFAULT_DEPARTURE_LUNAR_DAY = 8


class FestivalDay(IntEnum):
    """Which festival day a solar date is (the factor e(d) is chosen by this)."""

    ORDINARY = 0
    NEW_YEARS_EVE = 1  # 除夕
    FIRST_DAY = 2  # 正月初一
    SECOND_TO_FIFTH_DAY = 3  # 正月初二 … 初五


@lru_cache(maxsize=256)
def lunar_new_year(lunar_year: int) -> dt.date:
    """Solar date of 正月初一 of `lunar_year` (always in the same Gregorian year)."""
    return LunarDate(lunar_year, 1, 1).to_solar_date()


@lru_cache(maxsize=4096)
def festival_day_kind(day: dt.date) -> FestivalDay:
    """Classify `day` as New Year's Eve, the first day, days 2–5 of the first month, or ordinary."""
    lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
    if lunar.month == 1 and not lunar.is_leap_month:
        if lunar.day == 1:
            return FestivalDay.FIRST_DAY
        if 2 <= lunar.day <= 5:
            return FestivalDay.SECOND_TO_FIFTH_DAY
    next_day = day + dt.timedelta(days=1)
    if next_day == lunar_new_year(next_day.year):
        return FestivalDay.NEW_YEARS_EVE
    return FestivalDay.ORDINARY


def nearest_lunar_new_year_year(day: dt.date) -> int:
    """The lunar year whose 正月初一 is nearest to `day` (on a tie, the coming one)."""
    candidates = (day.year - 1, day.year, day.year + 1)
    # Sort key: distance in days, then prefer the later year on an exact tie.
    return min(candidates, key=lambda year: (abs((lunar_new_year(year) - day).days), -year))


@lru_cache(maxsize=4096)
def default_departure(arrival: dt.date) -> dt.date:
    """Departure of a resident who gave none: 初八 of the nearest Lunar New Year, or arrival + 7 days if later."""
    lunar_year = nearest_lunar_new_year_year(arrival)
    eighth_day = LunarDate(lunar_year, 1, DEFAULT_DEPARTURE_LUNAR_DAY).to_solar_date()
    return max(eighth_day, arrival + MINIMUM_DEFAULT_STAY)


def default_departures(arrivals: np.ndarray) -> np.ndarray:
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
