"""Projected load, load rate and levels: hand-computed cases and the edges of the level rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast.engine import (
    AssetStatus,
    Level,
    ProjectionSettings,
    daily_levels,
    horizon_factors,
    project_lines,
    project_transformers,
)

SETTINGS = ProjectionSettings()
ORDINARY_DAY = dt.date(2027, 1, 10)  # no festival factor


def _project(baseline, rated, returning, run_date=ORDINARY_DAY, temps=None, **kwargs):
    baseline = np.asarray(baseline, dtype=float)
    returning = np.asarray(returning)
    factors = horizon_factors(run_date, temps, SETTINGS, days=returning.shape[1])
    return project_transformers(
        baseline_kw=baseline,
        rated_kva=np.asarray(rated, dtype=float),
        returning_households=returning,
        factors=factors,
        settings=SETTINGS,
        keep_hourly=True,
        **kwargs,
    )


def test_the_formula_on_new_years_eve_by_hand():
    # B = 40 kW flat, 10 returning households, 除夕 2027 (e = 1.3), T_min = −5 °C (g = 1.3).
    result = _project(np.full((1, 24), 40.0), [100.0], [[10]], run_date=dt.date(2027, 2, 5), temps=[-5.0])
    k_c = 0.9 - (10 - 9) / 15 * 0.25  # 0.88333…
    extra_at_peak = 10 * 2.5 * k_c * 1.0 * 1.3 * 1.3  # s(19) = 1.0
    assert result.hourly_kw[0, 0, 19] == pytest.approx(40 + extra_at_peak, rel=1e-12)
    assert result.hourly_kw[0, 0, 19] == pytest.approx(77.3208333333, abs=1e-9)
    assert result.hourly_kw[0, 0, 2] == pytest.approx(40 + 10 * 2.5 * k_c * 0.30 * 1.69, rel=1e-12)
    assert result.peak_kw[0, 0] == pytest.approx(77.3208333333, abs=1e-9)
    assert result.peak_load_rate[0, 0] == pytest.approx(77.3208333333 / 90, abs=1e-9)
    assert result.peak_hour[0, 0] == 19  # first of the two hours with s = 1.0
    assert result.returning_households[0, 0] == 10


def test_no_returning_households_means_the_baseline():
    baseline = np.linspace(10, 56, 24)[None, :]
    result = _project(baseline, [100.0], [[0, 0]], temps=[-20.0, -20.0])
    np.testing.assert_array_equal(result.hourly_kw[0, 0], baseline[0])
    np.testing.assert_array_equal(result.hourly_kw[0, 1], baseline[0])


def _one_day_levels(hour_values: dict[int, float], days=1):
    """Level of a 100 kVA transformer (90 kW at cosφ 0.9) whose load is 0 except at the given hours."""
    baseline = np.zeros((1, 24))
    for hour, kw in hour_values.items():
        baseline[0, hour] = kw
    result = _project(baseline, [100.0], np.zeros((1, days), dtype=int))
    return result


def test_exact_threshold_values_are_exact_load_rates():
    rates = _one_day_levels({1: 63.0, 2: 72.0, 3: 90.0, 4: 135.0}).hourly_load_rate[0, 0]
    assert (rates[1], rates[2], rates[3], rates[4]) == (0.7, 0.8, 1.0, 1.5)


@pytest.mark.parametrize(
    "hours, level",
    [
        ({}, Level.NORMAL),
        ({19: 62.99}, Level.NORMAL),
        ({19: 63.0}, Level.WATCH),  # exactly 70 %
        ({19: 72.0}, Level.WATCH),  # 80 % for one hour only
        ({18: 72.0, 19: 72.0}, Level.HEAVY),  # exactly 80 % for exactly 2 hours
        ({18: 72.0, 19: 71.99}, Level.WATCH),
        ({17: 72.0, 19: 72.0}, Level.WATCH),  # two hours, not consecutive
        ({18: 90.0, 19: 72.0}, Level.HEAVY),  # 100 % for one hour, 80 % for two
        ({18: 90.0, 19: 90.0}, Level.OVERLOAD),  # exactly 100 % for exactly 2 hours
        ({10: 90.0, 11: 90.0, 12: 72.0}, Level.OVERLOAD),
        ({19: 135.0}, Level.THERMAL),  # β ≥ 150 % at one hour
        ({19: 134.99}, Level.WATCH),
    ],
)
def test_level_rules_at_their_edges(hours, level):
    result = _one_day_levels(hours)
    assert result.daily_level[0, 0] == level
    assert result.level[0] == level


def test_consecutive_hours_do_not_run_across_midnight():
    baseline = np.zeros((1, 24))
    baseline[0, 23] = 72.0
    baseline[0, 0] = 72.0  # the same shape every day: 23:00 and 00:00 of the next day are at 80 %
    result = _project(baseline, [100.0], np.zeros((1, 2), dtype=int))
    np.testing.assert_array_equal(result.daily_level[0], [Level.WATCH, Level.WATCH])


def test_hours_above_thresholds_and_run_level_is_the_highest_day():
    baseline = np.zeros((1, 24))
    baseline[0, 17:21] = [72.0, 80.0, 90.0, 95.0]
    # Day 0 nobody returns; day 1 three households: +7.5·s(h) kW (k_c(3) = 1).
    result = _project(baseline, [100.0], [[0, 3]])
    np.testing.assert_array_equal(result.hours_at_or_above_heavy[0], [4, 4])
    np.testing.assert_array_equal(result.hours_at_or_above_overload[0], [2, 2])
    np.testing.assert_array_equal(result.daily_level[0], [Level.OVERLOAD, Level.OVERLOAD])
    # Day 1, hour 17: 72 + 7.5·0.75 = 77.625 kW → 86.25 %; hour 16: 0 + 7.5·0.6 = 4.5 kW.
    assert result.hourly_kw[0, 1, 17] == pytest.approx(77.625)
    assert result.hourly_kw[0, 1, 16] == pytest.approx(4.5)
    assert result.level[0] == Level.OVERLOAD


def test_assets_without_data_or_rating_are_skipped_with_a_reason():
    baseline = np.full((3, 24), 30.0)
    baseline[1] = np.nan
    result = _project(baseline, [100.0, 100.0, 0.0], np.zeros((3, 2), dtype=int))
    np.testing.assert_array_equal(
        result.status, [AssetStatus.OK, AssetStatus.NO_LOAD_DATA, AssetStatus.INVALID_RATING]
    )
    np.testing.assert_array_equal(result.level, [Level.NORMAL, Level.NOT_PROJECTED, Level.NOT_PROJECTED])
    assert np.isnan(result.peak_kw[1:]).all()


def test_lv_line_shares_the_transformer_baseline_by_households():
    # Transformer: 60 kW flat, 120 households; line 0 has 30 of them → 15 kW baseline.
    # Line 1 is metered (its own 50 kW baseline); line 2 belongs to a transformer with no data.
    transformer_baseline = np.array([np.full(24, 60.0), np.full(24, np.nan)])
    metered = np.full((3, 24), np.nan)
    metered[1] = 50.0
    factors = horizon_factors(ORDINARY_DAY, [0.0], SETTINGS, days=1)  # g = 1.15
    result = project_lines(
        line_transformer=np.array([0, 0, 1]),
        line_households=np.array([30, 90, 10]),
        transformer_households=np.array([120, 40]),
        transformer_baseline_kw=transformer_baseline,
        ampacity_a=np.array([215.0, 275.0, 215.0]),
        returning_households=np.array([[12], [0], [5]]),
        factors=factors,
        settings=SETTINGS,
        metered_baseline_kw=metered,
        keep_hourly=True,
    )
    # Line 0 at 19:00: 15 + 12·2.5·k_c(12)·1.0·1.0·1.15 with k_c(12) = 0.85 → 44.325 kW.
    assert result.hourly_kw[0, 0, 19] == pytest.approx(44.325, rel=1e-12)
    current = 44.325 / (np.sqrt(3) * 0.38 * 0.9)  # 74.83 A
    assert result.peak_current_a[0, 0] == pytest.approx(current, rel=1e-12)
    assert result.peak_load_rate[0, 0] == pytest.approx(current / 215.0, rel=1e-12)
    assert result.hourly_kw[1, 0, 19] == 50.0
    np.testing.assert_array_equal(result.status, [AssetStatus.OK, AssetStatus.OK, AssetStatus.NO_LOAD_DATA])


def test_line_at_150_percent_of_ampacity_is_thermal():
    capacity_kw = 215.0 * np.sqrt(3) * 0.38 * 0.9
    factors = horizon_factors(ORDINARY_DAY, None, SETTINGS, days=1)
    result = project_lines(
        line_transformer=np.array([0, 0]),
        line_households=np.array([1, 1]),
        transformer_households=np.array([2]),
        transformer_baseline_kw=np.full((1, 24), 2 * 1.5 * capacity_kw),
        ampacity_a=np.array([215.0, 215.0 * 1.0001]),
        returning_households=np.zeros((2, 1), dtype=int),
        factors=factors,
        settings=SETTINGS,
    )
    assert result.peak_load_rate[0, 0] == pytest.approx(1.5, abs=1e-12)
    np.testing.assert_array_equal(result.daily_level[:, 0], [Level.THERMAL, Level.OVERLOAD])


@pytest.mark.parametrize(
    "hours, level",
    [
        ({18: 72.0, 19: 72.0}, Level.WATCH),  # 2 h at 80 % is not enough when 3 h are required
        ({17: 72.0, 18: 72.0, 19: 72.0}, Level.HEAVY),
        ({17: 72.0, 18: 90.0, 20: 72.0}, Level.OVERLOAD),  # overload needs a single hour here
        ({0: 72.0, 1: 72.0, 23: 72.0}, Level.WATCH),
    ],
)
def test_configured_durations_are_used(hours, level):
    settings = ProjectionSettings(heavy_duration_hours=3, overload_duration_hours=1, horizon_days=1)
    baseline = np.zeros((1, 24))
    for hour, kw in hours.items():
        baseline[0, hour] = kw
    result = project_transformers(
        baseline_kw=baseline,
        rated_kva=np.array([100.0]),
        returning_households=np.zeros((1, 1), dtype=int),
        factors=horizon_factors(ORDINARY_DAY, None, settings),
        settings=settings,
        keep_hourly=True,
    )
    assert result.daily_level[0, 0] == level
    assert daily_levels(result.hourly_load_rate, settings)[0, 0] == level
