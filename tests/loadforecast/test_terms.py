"""Each term of P = B + n·p_hh·k_c(n)·s(h)·e(d)·g(T), computed by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast.engine import (
    BaselineSource,
    ProjectionSettings,
    baseline_from_history,
    coincidence_factor,
    horizon_factors,
    hourly_from_quarter_hours,
    rated_current_a,
    returning_households_present,
    temperature_factor,
)

SETTINGS = ProjectionSettings()


@pytest.mark.parametrize(
    "households, expected",
    [
        (0, 1.0),
        (2, 1.0),
        (3, 1.0),
        (6, 0.95),  # halfway between (3, 1.00) and (9, 0.90)
        (9, 0.9),
        (16.5, 0.775),  # halfway between (9, 0.90) and (24, 0.65)
        (24, 0.65),
        (30, 0.575),
        (54, 0.475),
        (222, 0.425),
        (838.5, 0.28),
        (900, 0.26),
        (1000, 0.26),
    ],
)
def test_coincidence_factor_is_piecewise_linear(households, expected):
    assert coincidence_factor(households, SETTINGS) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("t_min, expected", [(5, 1.0), (10, 1.0), (0, 1.15), (-5, 1.3), (-10.5, 1.465)])
def test_temperature_factor(t_min, expected):
    assert temperature_factor([t_min], SETTINGS)[0] == pytest.approx(expected, abs=1e-12)


def test_temperature_factor_without_forecast_is_one():
    np.testing.assert_array_equal(temperature_factor([None, np.nan], SETTINGS), [1.0, 1.0])


def test_horizon_factors_give_ambient_and_g_per_day():
    factors = horizon_factors(dt.date(2027, 2, 4), [-5.0, None, 7.0], SETTINGS, days=3)
    np.testing.assert_allclose(factors.temperature, [1.3, 1.0, 1.0])
    np.testing.assert_allclose(factors.festival, [1.0, 1.3, 1.2])
    np.testing.assert_allclose(factors.ambient_c, [-5.0, SETTINGS.thermal_ambient_without_forecast_c, 7.0])


def test_rated_current_of_200_kva_at_0_4_kv():
    assert rated_current_a(200, SETTINGS) == pytest.approx(288.675, abs=1e-3)


def test_quarter_hours_average_to_hours_skipping_missing_points():
    points = np.arange(96, dtype=float)  # hour h: 4h, 4h+1, 4h+2, 4h+3 → mean 4h + 1.5
    points[4:7] = np.nan  # hour 1 keeps only point 7
    points[8:12] = np.nan  # hour 2 has nothing
    hours = hourly_from_quarter_hours(points[None, :])[0]
    assert hours[0] == 1.5
    assert hours[1] == 7.0
    assert np.isnan(hours[2])
    assert hours[23] == 93.5


def test_quarter_hours_reject_95_points():
    with pytest.raises(ValueError, match="96"):
        hourly_from_quarter_hours(np.zeros((1, 95)))


def _flat_days(values):
    """A history (1, days, 24) where day i is flat at values[i] (NaN = missing day)."""
    return np.repeat(np.array(values, dtype=float)[None, :, None], 24, axis=2)


def test_baseline_is_the_median_of_the_last_14_days_with_data():
    # 20 days oldest first; the 3 newest are missing, so the last 14 with data are days 3…16.
    values = [1000.0] * 3 + list(range(10, 24)) + [np.nan] * 3
    history = _flat_days(values)
    history[0, 10, 5] = np.nan  # an incomplete day does not count as a day with data
    baseline = baseline_from_history(history, None, SETTINGS)
    # Without day 10 (value 17): days 2…16 minus day 10 → values 1000, 10…16, 18…23 (14 days).
    # Sorted: 10..16, 18..23, 1000 → middle pair (7th, 8th) = 16 and 18.
    assert baseline.source[0] == BaselineSource.HOURLY
    assert baseline.days_used[0] == 14
    np.testing.assert_array_equal(baseline.kw[0], np.full(24, 17.0))


def test_baseline_median_per_hour_with_an_odd_number_of_days():
    history = np.full((1, 5, 24), np.nan)
    history[0, 0] = np.arange(24)
    history[0, 2] = np.arange(24) * 3
    history[0, 4] = np.full(24, 5.0)
    baseline = baseline_from_history(history, None, SETTINGS)
    expected = np.median(np.stack([np.arange(24), np.arange(24) * 3, np.full(24, 5.0)]), axis=0)
    np.testing.assert_array_equal(baseline.kw[0], expected)
    assert baseline.kw[0, 0] == 0.0 and baseline.kw[0, 3] == 5.0 and baseline.kw[0, 10] == 10.0
    assert baseline.days_used[0] == 3


def test_baseline_from_daily_maxima_uses_the_rural_winter_shape():
    daily_max = np.array([[np.nan, 80.0, 100.0, np.nan, 90.0, 120.0]])
    baseline = baseline_from_history(None, daily_max, SETTINGS)
    assert baseline.source[0] == BaselineSource.DAILY_MAX
    # median(80, 100, 90, 120) = 95
    np.testing.assert_allclose(baseline.kw[0], 95.0 * np.array(SETTINGS.rural_winter_shape))
    assert baseline.kw[0, 19] == 95.0 and baseline.kw[0, 2] == pytest.approx(36.1)


def test_hourly_curves_win_over_daily_maxima_and_no_data_is_flagged():
    hourly = np.full((3, 4, 24), np.nan)
    hourly[0, 1] = 40.0
    daily_max = np.array([[200.0] * 4, [50.0, np.nan, 70.0, 60.0], [np.nan] * 4])
    baseline = baseline_from_history(hourly, daily_max, SETTINGS)
    np.testing.assert_array_equal(baseline.source, [BaselineSource.HOURLY, BaselineSource.DAILY_MAX, 0])
    np.testing.assert_array_equal(baseline.kw[0], np.full(24, 40.0))
    assert baseline.kw[1, 19] == 60.0
    assert np.isnan(baseline.kw[2]).all()


def test_returning_households_count_distinct_households_present():
    run_date = dt.date(2027, 1, 30)
    d = np.datetime64("2027-01-30")
    # Households 0, 1 on transformer 0, household 2 on transformer 1, household 3 nowhere.
    household_group = np.array([0, 0, 1, -1])
    resident_household = np.array([0, 0, 1, 2, -1, 3, 2])
    arrival = np.array([d + 1, d + 2, d + 3, d - 5, d, d, d + 4])
    departure = np.array([d + 4, d + 6, "NaT", d + 2, d + 9, d + 9, d + 5], dtype="datetime64[D]")
    result = returning_households_present(
        resident_household=resident_household,
        arrival=arrival,
        departure=departure,
        household_group=household_group,
        groups=2,
        run_date=run_date,
        days=8,
    )
    # Household 0: residents over [1, 4) and [2, 6) → present days 1…5, counted once.
    # Household 1: arrives day 3 (2 February), no departure → 初八 = 13 February (day 14) → days 3…7.
    # Household 2: days 0, 1 and again day 4.
    np.testing.assert_array_equal(result.present[0], [0, 1, 1, 2, 2, 2, 1, 1])
    np.testing.assert_array_equal(result.present[1], [1, 1, 0, 0, 1, 0, 0, 0])
    assert result.unlinked_residents == 1


def test_departure_day_is_not_a_day_present():
    d = np.datetime64("2027-02-01")
    result = returning_households_present(
        resident_household=np.array([0]),
        arrival=np.array([d]),
        departure=np.array([d + 1]),
        household_group=np.array([0]),
        groups=1,
        run_date=dt.date(2027, 2, 1),
        days=3,
    )
    np.testing.assert_array_equal(result.present[0], [1, 0, 0])
