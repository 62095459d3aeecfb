"""The season outlook engine (docs/domain.md §6.7), cases computed by hand from the defaults.

New Years used: 2026-02-17, 2027-02-06 (除夕 2027-02-05, 初八 2027-02-13), 2028-01-26.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast import engine
from loadforecast.outlook_engine import (
    OutlookSettings,
    estimated_stays,
    first_heavy_day,
    order_by_date,
    registered_and_estimated,
    season_arrival_range,
    season_window,
    window_temperatures,
)
from zhoukou_grid.core.lunar_calendar import nearest_season

N = dt.date(2027, 2, 6)
DEFAULTS = OutlookSettings()


def test_run_91_days_before_new_year_projects_nothing():
    window = season_window(N - dt.timedelta(days=91), DEFAULTS)
    assert (window.season, window.new_year, window.days, window.in_reach) == (2027, N, 0, False)


def test_run_90_days_before_new_year_projects_the_whole_window():
    window = season_window(N - dt.timedelta(days=90), DEFAULTS)
    assert window.start == dt.date(2027, 1, 22) and window.end == dt.date(2027, 2, 20)
    assert window.first_day == dt.date(2027, 1, 22)
    assert window.days == 30
    assert window.dates[0] == dt.date(2027, 1, 22) and window.dates[-1] == dt.date(2027, 2, 20)


def test_run_inside_the_window_projects_from_the_run_date():
    window = season_window(dt.date(2027, 2, 1), DEFAULTS)
    assert window.first_day == dt.date(2027, 2, 1)
    assert window.days == 20  # 1 … 20 February


def test_run_on_new_year_plus_14_projects_its_last_day():
    window = season_window(N + dt.timedelta(days=14), DEFAULTS)
    assert (window.season, window.first_day, window.days) == (2027, dt.date(2027, 2, 20), 1)


def test_run_on_new_year_plus_15_looks_at_the_next_season_and_projects_nothing():
    window = season_window(N + dt.timedelta(days=15), DEFAULTS)
    assert window.season == 2028 and window.new_year == dt.date(2028, 1, 26)
    assert window.days == 0


def test_temperature_uses_forecast_where_given_else_the_months_normal():
    dates = [dt.date(2027, 1, 31), dt.date(2027, 2, 1), dt.date(2027, 2, 2)]
    temps, from_forecast = window_temperatures(dates, {dt.date(2027, 1, 31): -6.0, dt.date(2027, 2, 2): 3.5},
                                               DEFAULTS)
    np.testing.assert_array_equal(temps, [-6.0, -1.0, 3.5])  # Feb normal −1 °C
    np.testing.assert_array_equal(from_forecast, [True, False, True])
    # g(T) = 1 + 0.03 · max(0, 5 − T): −6 → 1.33, −1 → 1.18, 3.5 → 1.045
    np.testing.assert_allclose(engine.temperature_factor(temps, engine.ProjectionSettings()), [1.33, 1.18, 1.045])


def test_estimates_shift_last_seasons_stay_and_skip_reported_villages():
    # Last season (N' = 2026-02-17): arrival 2026-02-10, no departure → 初八 2026-02-24.
    kept, arrival, departure = estimated_stays(
        arrival=np.array(["2026-02-10", "2026-02-01"], dtype="datetime64[D]"),
        departure=np.array(["NaT", "2026-02-20"], dtype="datetime64[D]"),
        village=np.array([7, 5]), reported_villages=[5], previous_new_year=dt.date(2026, 2, 17), new_year=N)
    # N − N' = −11 days: 2026-02-10 → 2027-01-30 and 2026-02-24 → 2027-02-13 (初八 again).
    assert arrival[0] == np.datetime64("2027-01-30") and departure[0] == np.datetime64("2027-02-13")
    assert kept.tolist() == [True, False]  # village 5 has a list this season: never estimated


def test_household_present_as_registered_is_not_counted_again_as_estimated():
    first = dt.date(2027, 2, 1)
    days = 5
    d = lambda s: np.array(s, dtype="datetime64[D]")  # noqa: E731
    counts = registered_and_estimated(
        registered_household=np.array([0]), registered_arrival=d(["2027-02-01"]),
        registered_departure=d(["2027-02-04"]),
        estimated_household=np.array([0, 1]), estimated_arrival=d(["2027-02-02", "2027-02-03"]),
        estimated_departure=d(["2027-02-06", "2027-02-05"]),
        household_group=np.array([0, 0]), groups=1, first_day=first, days=days)
    # household 0: registered 1–3 Feb, estimated 2–5 Feb; household 1: estimated 3–4 Feb.
    assert counts.registered[0].tolist() == [1, 1, 1, 0, 0]
    assert counts.estimated[0].tolist() == [0, 0, 1, 2, 1]
    assert counts.total[0].tolist() == [1, 1, 2, 2, 1]


def test_season_of_a_resident_is_the_nearest_new_year():
    first, end = season_arrival_range(2027)
    # 2026-02-17 → 2027-02-06 is 354 days, half 177: from 2026-08-13; 2027-02-06 → 2028-01-26
    # is 354 days too: up to 2027-08-02 (exclusive).
    assert first == dt.date(2026, 8, 13) and end == dt.date(2027, 8, 2)
    assert nearest_season(first) == 2027 and nearest_season(first - dt.timedelta(days=1)) == 2026
    assert nearest_season(end - dt.timedelta(days=1)) == 2027 and nearest_season(end) == 2028


def test_order_by_dates_from_lead_times():
    eve = dt.date(2027, 2, 5)
    assert order_by_date(eve, "temp_capacity", DEFAULTS) == dt.date(2027, 1, 16)  # 20 days
    assert order_by_date(eve, "transfer", DEFAULTS) == dt.date(2027, 1, 31)  # 5
    assert order_by_date(eve, "phase_balance", DEFAULTS) == dt.date(2027, 2, 2)  # 3
    assert order_by_date(eve, "staggered", DEFAULTS) == dt.date(2027, 2, 2)  # 3
    assert order_by_date(eve, "patrol", DEFAULTS) == dt.date(2027, 2, 4)  # 1
    levels = np.array([[0, 1, 2, 3], [0, 1, 1, 0], [4, 0, 0, 0]])
    assert first_heavy_day(levels).tolist() == [2, -1, 0]


def test_hand_calculated_eve_on_the_normal_temperature_with_estimates():
    """200 kVA, flat 100 kW baseline, 20 registered + 10 estimated households on 除夕 2027
    with no forecast (Feb normal −1 °C):
    k_c(30) = 0.65 − 6/12 · 0.15 = 0.575; extra = 30 · 2.5 · 0.575 · 1.3 · 1.18 = 66.15375 kW
    at s = 1 (19:00, 20:00); P = 166.15375 kW, β = 166.15375 / 180 = 0.92308 → heavy.
    Temporary capacity: S = 184.615 kVA needs S_N ≥ 230.8 → 250 kVA, to order by 2027-01-16.
    """
    settings = engine.ProjectionSettings()
    window = season_window(dt.date(2026, 12, 6), DEFAULTS)
    assert window.days == 30  # 2027-01-22 … 2027-02-20
    temps, from_forecast = window_temperatures(window.dates, {}, DEFAULTS)
    assert not from_forecast.any()
    factors = engine.horizon_factors(window.first_day, temps, settings, days=window.days)
    eve = window.dates.index(dt.date(2027, 2, 5))
    d = lambda s: np.array(s, dtype="datetime64[D]")  # noqa: E731
    counts = registered_and_estimated(
        registered_household=np.arange(20), registered_arrival=d(["2027-02-05"] * 20),
        registered_departure=d(["2027-02-06"] * 20),
        estimated_household=np.arange(20, 30), estimated_arrival=d(["2027-02-05"] * 10),
        estimated_departure=d(["2027-02-06"] * 10),
        household_group=np.zeros(30, dtype=np.int64), groups=1, first_day=window.first_day, days=window.days)
    assert (counts.registered[0, eve], counts.estimated[0, eve]) == (20, 10)
    result = engine.project_transformers(
        baseline_kw=np.full((1, 24), 100.0), rated_kva=np.array([200.0]), returning_households=counts.total,
        factors=factors, settings=settings)
    assert result.peak_kw[0, eve] == pytest.approx(166.15375)
    assert result.peak_load_rate[0, eve] == pytest.approx(166.15375 / 180)
    assert result.daily_level[0, eve] == engine.Level.HEAVY
    assert result.level[0] == engine.Level.HEAVY
    measures = engine.size_measures(rated_kva=np.array([200.0]), peak_kw=result.run_peak_kw,
                                    peak_day=result.run_peak_day, settings=settings)
    assert measures.temporary_rating_kva[0] == 250.0
    first = window.dates[int(first_heavy_day(result.daily_level)[0])]
    assert first == dt.date(2027, 2, 5)
    assert order_by_date(first, "temp_capacity", DEFAULTS) == dt.date(2027, 1, 16)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"normal_min_temperature_c": [0] * 11}, "12 monthly values"),
        ({"normal_min_temperature_c": [0] * 11 + [60]}, "between"),
        ({"lead_days_temp_capacity": -1}, "must not be negative"),
        ({"window_days_before": 25, "window_days_after": 25}, "at most 45"),
        ({"use_estimates": "yes"}, "not a valid value"),
        ({"unknown": 1}, "unknown setting"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(values, message):
    with pytest.raises(engine.SettingsError, match=message):
        OutlookSettings.from_dict(values)


def test_settings_round_trip_and_station_overrides():
    merged = OutlookSettings.from_dict({"lead_days_patrol": 2, "use_estimates": False}, {"lead_days_patrol": 4})
    assert merged.lead_days_patrol == 4 and merged.use_estimates is False
    assert OutlookSettings.from_dict(merged.to_dict()) == merged
