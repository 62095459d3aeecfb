"""Festival days and the default departure, checked against lunardate and known dates."""

from __future__ import annotations

import datetime as dt

import numpy as np
from lunardate import LunarDate

from loadforecast.engine import ProjectionSettings, festival_factors
from loadforecast.lunar_calendar import (
    FestivalDay,
    default_departure,
    default_departures,
    festival_day_kind,
    lunar_new_year,
)


def test_2027_new_year_falls_on_6_february_and_its_eve_on_5_february():
    assert LunarDate.from_solar_date(2027, 2, 6) == LunarDate(2027, 1, 1)
    # The twelfth month of lunar 2026 has 29 days: 除夕 is 腊月廿九, not 三十.
    assert LunarDate.from_solar_date(2027, 2, 5) == LunarDate(2026, 12, 29)
    assert lunar_new_year(2027) == dt.date(2027, 2, 6)
    assert festival_day_kind(dt.date(2027, 2, 5)) is FestivalDay.NEW_YEARS_EVE
    assert festival_day_kind(dt.date(2027, 2, 6)) is FestivalDay.FIRST_DAY


def test_festival_factors_around_2027_new_year():
    days = [dt.date(2027, 2, 4) + dt.timedelta(days=i) for i in range(8)]  # 4 … 11 February
    factors = festival_factors(days, ProjectionSettings())
    # 4 Feb ordinary, 5 除夕, 6 初一, 7–10 初二…初五, 11 初六.
    np.testing.assert_array_equal(factors, [1.0, 1.3, 1.2, 1.1, 1.1, 1.1, 1.1, 1.0])


def test_new_years_eve_after_a_thirty_day_twelfth_month():
    # 2026: 正月初一 = 17 February, so 除夕 = 16 February.
    assert lunar_new_year(2026) == dt.date(2026, 2, 17)
    assert festival_day_kind(dt.date(2026, 2, 16)) is FestivalDay.NEW_YEARS_EVE
    assert festival_day_kind(dt.date(2026, 2, 15)) is FestivalDay.ORDINARY


def test_default_departure_is_the_eighth_day_of_the_nearest_new_year():
    # Arrival 20 January 2027 → 初八 of lunar 2027 = 13 February 2027.
    assert LunarDate(2027, 1, 8).to_solar_date() == dt.date(2027, 2, 13)
    assert default_departure(dt.date(2027, 1, 20)) == dt.date(2027, 2, 13)


def test_default_departure_is_a_week_after_a_late_arrival():
    # Arriving on 初五 (10 February 2027): 初八 is only 3 days later, so arrival + 7 days wins.
    assert default_departure(dt.date(2027, 2, 10)) == dt.date(2027, 2, 17)


def test_default_departure_uses_the_nearest_new_year_not_the_next_one():
    # 1 March 2027 is 23 days after the 2027 new year and ~11 months before the 2028 one.
    assert default_departure(dt.date(2027, 3, 1)) == dt.date(2027, 3, 8)
    # 20 December 2026 is nearer the 2027 new year (6 Feb) than the 2026 one (17 Feb 2026).
    assert default_departure(dt.date(2026, 12, 20)) == dt.date(2027, 2, 13)


def test_vectorised_default_departures_match_and_keep_nat():
    arrivals = np.array(["2027-01-20", "NaT", "2027-02-10", "2027-01-20"], dtype="datetime64[D]")
    result = default_departures(arrivals)
    expected = np.array(["2027-02-13", "NaT", "2027-02-17", "2027-02-13"], dtype="datetime64[D]")
    np.testing.assert_array_equal(result, expected)
