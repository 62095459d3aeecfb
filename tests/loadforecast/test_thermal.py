"""The vectorised IEC 60076-7 model agrees with the `transformer-thermal-model` package (0.6.0).

Tolerance: 1e-9 °C on every step's top-oil and hot-spot temperature (the two evaluate the
same expressions; only floating-point association differs).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from loadforecast import thermal
from loadforecast.engine import ProjectionSettings, horizon_factors, project_transformers, rated_current_a

ttm_model = pytest.importorskip("transformer_thermal_model.model")
from transformer_thermal_model.aging import aging_rate_profile  # noqa: E402
from transformer_thermal_model.schemas import InputProfile, UserTransformerSpecifications  # noqa: E402
from transformer_thermal_model.schemas.thermal_model.initial_state import InitialLoad  # noqa: E402
from transformer_thermal_model.transformer import DistributionTransformer, PaperInsulationType  # noqa: E402

TOLERANCE_C = 1e-9
SETTINGS = ProjectionSettings()
PARAMS = SETTINGS.thermal_parameters


def _package(load_factor, ambient, rated_kva, no_load_w, load_w, step_minutes=60):
    """Run the package on one transformer; timestamps are the ends of the steps."""
    nominal = float(rated_current_a(rated_kva, SETTINGS))
    transformer = DistributionTransformer(
        user_specs=UserTransformerSpecifications(load_loss=load_w, nom_load_sec_side=nominal, no_load_loss=no_load_w)
    )
    index = pd.date_range("2027-02-01 01:00", periods=len(load_factor), freq=f"{step_minutes}min")
    profile = InputProfile.create(
        datetime_index=index,
        load_profile=np.asarray(load_factor) * nominal,
        ambient_temperature_profile=np.asarray(ambient, dtype=float),
    )
    model = ttm_model.Model(
        temperature_profile=profile,
        transformer=transformer,
        initial_condition=InitialLoad(initial_load=float(load_factor[0]) * nominal),
    )
    output = model.run()
    return output.top_oil_temp_profile.to_numpy(), output.hot_spot_temp_profile.to_numpy()


def test_package_defaults_are_the_ones_we_use():
    defaults = DistributionTransformer(
        user_specs=UserTransformerSpecifications(load_loss=2730, nom_load_sec_side=288.7, no_load_loss=340)
    ).specs
    assert defaults.oil_exp_x == PARAMS.oil_exponent_x == 0.8
    assert defaults.winding_exp_y == PARAMS.winding_exponent_y == 1.6
    assert defaults.oil_const_k11 == PARAMS.k11 == 1
    assert defaults.winding_const_k21 == PARAMS.k21 == 1
    assert defaults.winding_const_k22 == PARAMS.k22 == 2
    assert defaults.time_const_oil == PARAMS.oil_time_constant_min == 180
    assert defaults.time_const_windings == PARAMS.winding_time_constant_min == 4
    assert defaults.top_oil_temp_rise == PARAMS.top_oil_rise_k
    assert defaults.winding_oil_gradient == PARAMS.winding_oil_gradient_k
    assert defaults.hot_spot_fac == PARAMS.hot_spot_factor
    assert defaults.amb_temp_surcharge == PARAMS.ambient_surcharge_k


def test_several_transformers_at_once_agree_with_the_package_one_by_one():
    rng = np.random.default_rng(11)
    steps = 3 * 24
    # Evening-peaked festival profiles from 30 % to 170 % of rating, cold days.
    shape = np.tile(np.array(SETTINGS.extra_demand_shape), 3)
    load_factor = np.stack([0.3 + peak * shape for peak in (0.4, 0.9, 1.4)]) * rng.uniform(0.95, 1.05, (3, steps))
    ambient = np.repeat([-6.0, 2.5, -1.0], 24)
    rated = np.array([100.0, 200.0, 400.0])
    losses = np.array([[200.0, 1580.0], [340.0, 2730.0], [570.0, 4520.0]])  # S11 P0/Pk in W
    ours = thermal.simulate(load_factor, ambient, losses[:, 1] / losses[:, 0], PARAMS)
    for t in range(3):
        top_oil, hot_spot = _package(load_factor[t], ambient, rated[t], *losses[t])
        np.testing.assert_allclose(ours.top_oil_c[t], top_oil, rtol=0, atol=TOLERANCE_C)
        np.testing.assert_allclose(ours.hot_spot_c[t], hot_spot, rtol=0, atol=TOLERANCE_C)
    assert ours.hot_spot_c[2].max() > 120  # the comparison covers the thermal limit region


def test_hourly_steps_equal_quarter_hour_steps_at_the_end_of_each_hour():
    load_factor = np.array([0.5, 1.2, 1.6, 1.6, 0.9, 0.4])
    ambient = np.full(6, -3.0)
    hourly = thermal.simulate(load_factor[None, :], ambient, 8.0, PARAMS)
    top_oil_q, hot_spot_q = _package(np.repeat(load_factor, 4), np.repeat(ambient, 4), 200.0, 340.0, 2720.0, 15)
    np.testing.assert_allclose(hourly.top_oil_c[0], top_oil_q[3::4], rtol=0, atol=TOLERANCE_C)
    np.testing.assert_allclose(hourly.hot_spot_c[0], hot_spot_q[3::4], rtol=0, atol=TOLERANCE_C)


def test_steady_state_by_hand():
    # K = 1, R = 5: top-oil rise (60 + 10) K, hot-spot gradient 1.2 · 23 = 27.6 K.
    result = thermal.simulate(np.ones((1, 3)), np.full(3, 0.0), 5.0, PARAMS)
    np.testing.assert_allclose(result.top_oil_c[0], [70.0] * 3)
    np.testing.assert_allclose(result.hot_spot_c[0], [97.6] * 3)


def test_ageing_rate_is_the_normal_paper_formula():
    hot_spot = np.array([80.0, 98.0, 104.0, 110.0, 121.3])
    ours = thermal.relative_ageing_rate(hot_spot)
    np.testing.assert_allclose(ours[1:4], [1.0, 2.0, 4.0])
    package = aging_rate_profile(
        pd.Series(hot_spot, index=pd.date_range("2027-02-01", periods=5, freq="h")), PaperInsulationType.NORMAL
    )
    np.testing.assert_allclose(ours, package.to_numpy(), rtol=1e-12)


def test_engine_thermal_check_agrees_with_the_package_on_its_own_projection():
    # A 200 kVA transformer with a heavy evening peak over New Year's Eve and the first day.
    settings = SETTINGS
    run_date = dt.date(2027, 2, 5)
    days = 2
    factors = horizon_factors(run_date, [-4.0, -7.0], settings, days=days)
    baseline = (90.0 * np.array(settings.rural_winter_shape))[None, :]
    result = project_transformers(
        baseline_kw=baseline,
        rated_kva=np.array([200.0]),
        returning_households=np.array([[60, 60]]),
        factors=factors,
        settings=settings,
        loss_ratio=np.array([2730.0 / 340.0]),
        keep_hourly=True,
    )
    assert result.thermal_checked[0]
    load_factor = result.hourly_load_rate[0].reshape(-1)
    top_oil, hot_spot = _package(load_factor, np.repeat([-4.0, -7.0], 24), 200.0, 340.0, 2730.0)
    np.testing.assert_allclose(result.max_top_oil_c[0], top_oil.reshape(days, 24).max(axis=1), atol=TOLERANCE_C)
    np.testing.assert_allclose(result.max_hot_spot_c[0], hot_spot.reshape(days, 24).max(axis=1), atol=TOLERANCE_C)
