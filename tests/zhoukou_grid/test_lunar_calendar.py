"""The one Lunar New Year calendar: festival days, the default departure, and which festival
a date belongs to (`season_of` for lists and imports, `nearest_season` for the default stay)."""

from __future__ import annotations

import datetime as dt

import pytest
from lunardate import LunarDate

from zhoukou_grid.core.lunar_calendar import (
    SEASON_LEAD_DAYS,
    FestivalDay,
    default_departure,
    festival_day_kind,
    first_month_day,
    lunar_new_year,
    nearest_season,
    new_years_eve,
    season_of,
)

FESTIVAL_2026, FESTIVAL_2027, FESTIVAL_2028 = dt.date(2026, 2, 17), dt.date(2027, 2, 6), dt.date(2028, 1, 26)


def test_2027_new_year_falls_on_6_february_and_its_eve_on_5_february():
    assert LunarDate.from_solar_date(2027, 2, 6) == LunarDate(2027, 1, 1)
    # The twelfth month of lunar 2026 has 29 days: 除夕 is 腊月廿九, not 三十.
    assert LunarDate.from_solar_date(2027, 2, 5) == LunarDate(2026, 12, 29)
    assert lunar_new_year(2027) == dt.date(2027, 2, 6)
    assert new_years_eve(2027) == dt.date(2027, 2, 5)
    assert festival_day_kind(dt.date(2027, 2, 5)) is FestivalDay.NEW_YEARS_EVE
    assert festival_day_kind(dt.date(2027, 2, 6)) is FestivalDay.FIRST_DAY


def test_festival_days_around_2027_new_year():
    days = [dt.date(2027, 2, 4) + dt.timedelta(days=i) for i in range(8)]  # 4 … 11 February
    assert [festival_day_kind(day) for day in days] == [
        FestivalDay.ORDINARY, FestivalDay.NEW_YEARS_EVE, FestivalDay.FIRST_DAY, *[FestivalDay.SECOND_TO_FIFTH_DAY] * 4,
        FestivalDay.ORDINARY]


def test_new_years_eve_after_a_thirty_day_twelfth_month():
    # 2026: 正月初一 = 17 February, so 除夕 = 16 February.
    assert lunar_new_year(2026) == dt.date(2026, 2, 17)
    assert new_years_eve(2026) == dt.date(2026, 2, 16)
    assert festival_day_kind(dt.date(2026, 2, 16)) is FestivalDay.NEW_YEARS_EVE
    assert festival_day_kind(dt.date(2026, 2, 15)) is FestivalDay.ORDINARY


def test_the_eighth_day_is_new_year_plus_seven():
    # 初一 is day 1: 初八 is seven days after New Year's day, not eight.
    assert first_month_day(2027, 1) == FESTIVAL_2027
    assert first_month_day(2027, 8) == FESTIVAL_2027 + dt.timedelta(days=7) == dt.date(2027, 2, 13)
    assert first_month_day(2028, 8) == dt.date(2028, 2, 2)


# --- Which festival: season_of (lists, imports, retention) ------------------------------
def test_a_list_is_about_the_coming_new_year():
    assert season_of(dt.date(2026, 11, 27)) == 2027
    assert season_of(dt.date(2027, 2, 20)) == 2027  # during the festival
    assert season_of(dt.date(2027, 6, 1)) == 2028


def test_a_date_belongs_to_a_festival_until_45_days_after_its_new_year():
    assert SEASON_LEAD_DAYS == 45
    assert season_of(dt.date(2027, 1, 25)) == 2027
    assert season_of(FESTIVAL_2027 + dt.timedelta(days=44)) == 2027  # 2027-03-22
    assert season_of(FESTIVAL_2027 + dt.timedelta(days=45)) == 2027  # the last day
    assert season_of(FESTIVAL_2027 + dt.timedelta(days=46)) == 2028  # 2027-03-24
    assert season_of(dt.date(2026, 2, 1)) == 2026
    assert lunar_new_year(season_of(dt.date(2027, 3, 24))) == FESTIVAL_2028


@pytest.mark.parametrize("year", [2026, 2027, 2028, 2031])
def test_season_of_is_its_documented_bound(year):
    # season_of(d) <= Y exactly when d <= lunar_new_year(Y) + SEASON_LEAD_DAYS.
    last = lunar_new_year(year) + dt.timedelta(days=SEASON_LEAD_DAYS)
    assert season_of(last) == year
    assert season_of(last + dt.timedelta(days=1)) == year + 1
    assert season_of(lunar_new_year(year - 1) + dt.timedelta(days=SEASON_LEAD_DAYS + 1)) == year


# --- Which festival: nearest_season (the default stay, docs/domain.md §6.4) -------------
def test_the_nearest_new_year_is_chosen_by_distance_either_side():
    assert nearest_season(dt.date(2026, 12, 20)) == 2027  # 48 days before 2027, 306 after 2026
    assert nearest_season(dt.date(2027, 4, 1)) == 2027  # past the 45 days of season_of
    assert nearest_season(dt.date(2027, 8, 1)) == 2027  # 176 days after 2027, 178 before 2028
    assert nearest_season(dt.date(2027, 8, 3)) == 2028


def test_on_an_exact_tie_the_coming_new_year_is_nearest():
    # 2027-02-06 and 2028-01-26 are 354 days apart: 2027-08-02 is 177 days from both.
    middle = FESTIVAL_2027 + dt.timedelta(days=177)
    assert (FESTIVAL_2028 - middle).days == 177
    assert nearest_season(middle) == 2028


def test_the_two_rules_agree_from_half_a_year_before_to_45_days_after_new_year():
    day = FESTIVAL_2027 - dt.timedelta(days=170)
    while day <= FESTIVAL_2027 + dt.timedelta(days=SEASON_LEAD_DAYS):
        assert season_of(day) == nearest_season(day) == 2027, day
        day += dt.timedelta(days=1)
    # Beyond that they part on purpose: a list made in April is for next year's festival,
    # while a stay that begins in April ends a week later, not at next year's 初八.
    assert (season_of(dt.date(2027, 4, 1)), nearest_season(dt.date(2027, 4, 1))) == (2028, 2027)


# --- Default departure (docs/domain.md §6.4) ---------------------------------------------
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
    # 1 April 2027 belongs to festival 2028 for the lists, yet the stay ends a week later.
    assert default_departure(dt.date(2027, 4, 1)) == dt.date(2027, 4, 8)
