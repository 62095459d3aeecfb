"""ProjectionSettings: the documented defaults, dict round trip, layered overrides, rejections."""

from __future__ import annotations

import json

import pytest

from loadforecast.engine import ProjectionSettings, SettingsError


def test_defaults_are_the_documented_ones():
    settings = ProjectionSettings()
    assert settings.cos_phi == 0.9
    assert settings.household_extra_peak_kw == 2.5
    # Copied from docs/domain.md 6.4 as written there.
    assert settings.coincidence_points == (
        (3, 1.00), (9, 0.90), (24, 0.65), (36, 0.50), (72, 0.45), (372, 0.40), (777, 0.30), (900, 0.26),
    )
    assert settings.extra_demand_shape == tuple(
        float(v) for v in "0.35 0.30 0.30 0.30 0.30 0.35 0.50 0.65 0.60 0.55 0.55 0.65 "
        "0.70 0.60 0.55 0.55 0.60 0.75 0.90 1.00 1.00 0.95 0.80 0.55".split()
    )
    assert settings.rural_winter_shape == tuple(
        float(v) for v in "0.45 0.40 0.38 0.38 0.40 0.45 0.60 0.75 0.70 0.65 0.65 0.75 "
        "0.80 0.70 0.65 0.65 0.70 0.85 0.95 1.00 1.00 0.95 0.80 0.60".split()
    )
    assert (settings.festival_factor_new_years_eve, settings.festival_factor_first_day) == (1.3, 1.2)
    assert settings.festival_factor_second_to_fifth_day == 1.1
    assert (settings.watch_load_rate, settings.heavy_load_rate) == (0.70, 0.80)
    assert (settings.overload_load_rate, settings.thermal_load_rate) == (1.00, 1.50)
    assert (settings.heavy_duration_hours, settings.overload_duration_hours) == (2, 2)
    assert (settings.horizon_days, settings.baseline_days) == (21, 14)
    assert (settings.hot_spot_limit_c, settings.top_oil_limit_c) == (120.0, 105.0)
    assert settings.standard_ratings_kva == (50, 100, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600)


def test_it_round_trips_through_json():
    settings = ProjectionSettings(household_extra_peak_kw=3.1, horizon_days=30)
    snapshot = json.loads(json.dumps(settings.to_dict()))
    assert ProjectionSettings.from_dict(snapshot) == settings


def test_station_overrides_win_over_county_settings():
    county = {"household_extra_peak_kw": 2.8, "heavy_load_rate": 0.85, "horizon_days": 30}
    station = {"household_extra_peak_kw": 3.0}
    settings = ProjectionSettings.from_dict(county, station)
    assert settings.household_extra_peak_kw == 3.0
    assert settings.heavy_load_rate == 0.85
    assert settings.horizon_days == 30
    assert settings.cos_phi == 0.9  # untouched default


def test_it_rejects_unknown_keys_by_name():
    with pytest.raises(SettingsError, match="p_hh"):
        ProjectionSettings.from_dict({"p_hh": 2.5})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"heavy_load_rate": 0.65}, "thresholds must increase"),
        ({"overload_load_rate": 1.6}, "thresholds must increase"),
        ({"household_extra_peak_kw": 0}, "p_hh"),
        ({"household_extra_peak_kw": -1}, "p_hh"),
        ({"horizon_days": 46}, "horizon_days"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 21.5}, "horizon_days"),
        ({"extra_demand_shape": [1.0] * 23}, "extra_demand_shape"),
        ({"coincidence_points": [[9, 0.9], [3, 1.0]]}, "increasing n"),
        ({"cos_phi": 1.2}, "cos_phi"),
        ({"heavy_duration_hours": 25}, "heavy_duration_hours"),
        ({"standard_ratings_kva": [100, 50]}, "standard_ratings_kva"),
    ],
)
def test_it_rejects_unusable_values(overrides, message):
    with pytest.raises(SettingsError, match=message):
        ProjectionSettings.from_dict(overrides)


def test_settings_are_frozen():
    settings = ProjectionSettings()
    with pytest.raises(AttributeError):
        settings.cos_phi = 0.8  # type: ignore[misc]
