"""The Lunar New Year calendar: festival days and which festival a date belongs to.

Plain Python on top of the `lunardate` package (lunar years 1900–2099); no Django.
A festival is named by its lunar year: festival 2027 is the Spring Festival whose
正月初一 (New Year's day) is `lunar_new_year(2027)` = 2027-02-06.

Two questions about "which festival" have two rules, each for its own reason:

- **`season_of(day)`: the festival a list, an import or an arrival dated `day` is about.**
  The first New Year on or after `day` − SEASON_LEAD_DAYS (45 days). Lists are made for
  the coming festival (a list made in November 2026 or in February 2027 is about festival
  2027), and a date up to 45 days after 初一 still belongs to that festival, so a late
  arrival is never assigned to an earlier festival. Used to read a date typed without
  a year (docs/import-formats.md), to bound the dates an import accepts, for the default
  range of the arrivals page, and for the retention of personal data.
- **`nearest_season(day)`: the festival whose 初八 ends a stay that began on `day`.**
  The New Year nearest to `day` (on an exact tie, the coming one): docs/domain.md §6.4
  says a missing departure is 初八 of the Lunar New Year nearest to the arrival, or
  arrival + 7 days if that is later. Someone arriving in April stays a week; with
  `season_of` they would be projected to stay until next year's 初八.

Both rules agree for every day from about half a year before 初一 up to 45 days after
it, which is where the arrivals of a festival's lists fall.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from functools import lru_cache

from lunardate import LunarDate

__all__ = [
    "DEFAULT_DEPARTURE_LUNAR_DAY",
    "FIRST_SEASON",
    "LAST_SEASON",
    "MINIMUM_DEFAULT_STAY",
    "SEASON_LEAD_DAYS",
    "FestivalDay",
    "default_departure",
    "festival_day_kind",
    "first_month_day",
    "lunar_new_year",
    "nearest_season",
    "new_years_eve",
    "season_in_calendar",
    "season_of",
]

#: A date belongs to the festival of the first New Year on or after it minus this many days:
#: season_of(d) <= Y exactly when d <= lunar_new_year(Y) + SEASON_LEAD_DAYS.
SEASON_LEAD_DAYS = 45
#: The seasons whose New Year and both neighbours the calendar (lunar years 1900–2099) holds.
FIRST_SEASON = 1901
LAST_SEASON = 2098
#: A resident with no departure date stays at least this long (docs/domain.md §6.4).
MINIMUM_DEFAULT_STAY = dt.timedelta(days=7)
#: The default departure is this day of the first lunar month (初八; 初一 is New Year's day).
DEFAULT_DEPARTURE_LUNAR_DAY = 8


class FestivalDay(IntEnum):
    """Which festival day a solar date is (the factor e(d) of docs/domain.md §6.4 is chosen by this)."""

    ORDINARY = 0
    NEW_YEARS_EVE = 1  # 除夕
    FIRST_DAY = 2  # 正月初一
    SECOND_TO_FIFTH_DAY = 3  # 正月初二 … 初五


@lru_cache(maxsize=256)
def lunar_new_year(lunar_year: int) -> dt.date:
    """Solar date of 正月初一 of `lunar_year` (always in the same Gregorian year)."""
    return LunarDate(lunar_year, 1, 1).to_solar_date()


def first_month_day(lunar_year: int, day: int) -> dt.date:
    """Solar date of day `day` of the first lunar month of `lunar_year`: 1 is 初一, 8 is 初八."""
    return LunarDate(lunar_year, 1, day).to_solar_date()


def new_years_eve(lunar_year: int) -> dt.date:
    """除夕: the day before 正月初一, whether the twelfth month has 29 or 30 days."""
    return lunar_new_year(lunar_year) - dt.timedelta(days=1)


def season_of(day: dt.date) -> int:
    """The festival (its lunar year) a list, an import or an arrival dated `day` is about.

    The first Lunar New Year on or after `day` − SEASON_LEAD_DAYS: from 46 days after one
    New Year, dates belong to the next one.
    """
    year = day.year - 1
    while lunar_new_year(year) < day - dt.timedelta(days=SEASON_LEAD_DAYS):
        year += 1
    return year


def nearest_season(day: dt.date) -> int:
    """The festival (its lunar year) whose 正月初一 is nearest to `day`; on a tie, the coming one."""
    candidates = (day.year - 1, day.year, day.year + 1)
    # Sort key: distance in days, then prefer the later year on an exact tie.
    return min(candidates, key=lambda year: (abs((lunar_new_year(year) - day).days), -year))


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


@lru_cache(maxsize=4096)
def default_departure(arrival: dt.date) -> dt.date:
    """Departure of a resident who gave none (docs/domain.md §6.4): 初八 of the nearest
    Lunar New Year, or arrival + 7 days if that is later."""
    eighth_day = first_month_day(nearest_season(arrival), DEFAULT_DEPARTURE_LUNAR_DAY)
    return max(eighth_day, arrival + MINIMUM_DEFAULT_STAY)


def season_in_calendar(season: int) -> bool:
    """Whether `season` can be used: its New Year and the two around it are in the calendar."""
    return FIRST_SEASON <= season <= LAST_SEASON
