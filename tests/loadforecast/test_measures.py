"""Sized measures (docs/domain.md 6.5) and alert episodes, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast.engine import (
    Level,
    ProjectionSettings,
    find_episodes,
    horizon_factors,
    project_transformers,
    size_line_measures,
    size_measures,
)

SETTINGS = ProjectionSettings()


def test_load_transfer_goes_to_the_tied_neighbour_with_most_headroom():
    # 0: 200 kVA at 180 kW = 200 kVA, β = 100 % → ΔS = 200 − 0.8·200 = 40 kVA.
    # 1: 100 kVA at 45 kW (50 kVA): 50 + 40 = 90 > 80 → cannot take it.
    # 2: 200 kVA at 90 kW (100 kVA): 140 ≤ 160, headroom 20.
    # 3: 315 kVA at 180 kW (200 kVA): 240 ≤ 252, headroom 12.
    measures = size_measures(
        rated_kva=np.array([200.0, 100.0, 200.0, 315.0]),
        peak_kw=np.array([180.0, 45.0, 90.0, 180.0]),
        peak_day=np.array([3, 0, 0, 0]),
        settings=SETTINGS,
        ties=np.array([[0, 1], [2, 0], [0, 3]]),
    )
    assert measures.needed.tolist() == [True, False, False, False]
    assert measures.transfer_kva[0] == pytest.approx(40.0)
    assert measures.transfer_to[0] == 2
    assert measures.transfer_to[1:].tolist() == [-1, -1, -1]
    assert measures.staggered_use_kw[0] == pytest.approx(180.0 - 0.8 * 200 * 0.9)  # 36 kW
    assert measures.temporary_rating_kva[0] == 250.0  # 200 kVA / 250 kVA = 0.8
    assert measures.patrol_day.tolist() == [3, -1, -1, -1]


def test_a_neighbour_ending_exactly_at_80_percent_can_take_the_load():
    measures = size_measures(
        rated_kva=np.array([200.0, 200.0]),
        peak_kw=np.array([180.0, 108.0]),  # neighbour at 120 kVA: 120 + 40 = 160 = 0.8 · 200
        peak_day=np.array([0, 0]),
        settings=SETTINGS,
        ties=np.array([[0, 1]]),
    )
    assert measures.transfer_to[0] == 1


def test_no_transfer_to_a_neighbour_without_projection():
    measures = size_measures(
        rated_kva=np.array([200.0, 400.0]),
        peak_kw=np.array([180.0, np.nan]),
        peak_day=np.array([0, 0]),
        settings=SETTINGS,
        ties=np.array([[0, 1]]),
    )
    assert measures.transfer_to[0] == -1


@pytest.mark.parametrize(
    "peak_kva, rating",
    [(200.0, 250.0), (200.5, 315.0), (1280.0, 1600.0), (1300.0, None), (36.0, 50.0)],
)
def test_temporary_capacity_is_the_smallest_standard_rating_at_80_percent(peak_kva, rating):
    measures = size_measures(
        rated_kva=np.array([30.0]),
        peak_kw=np.array([peak_kva * 0.9]),
        peak_day=np.array([0]),
        settings=SETTINGS,
    )
    if rating is None:
        assert np.isnan(measures.temporary_rating_kva[0])  # above what 1600 kVA carries at 80 %
    else:
        assert measures.temporary_rating_kva[0] == rating


def test_exactly_80_percent_needs_no_measure():
    measures = size_measures(
        rated_kva=np.array([100.0, 100.0]), peak_kw=np.array([72.0, 72.01]), peak_day=np.array([0, 5]), settings=SETTINGS
    )
    assert measures.needed.tolist() == [False, True]
    assert np.isnan(measures.staggered_use_kw[0]) and measures.patrol_day[0] == -1
    assert measures.staggered_use_kw[1] == pytest.approx(0.01)


def test_line_staggered_use_is_sized_against_80_percent_of_ampacity():
    capacity_kw = 215.0 * np.sqrt(3) * 0.38 * 0.9  # 127.36 kW
    measures = size_line_measures(
        ampacity_a=np.array([215.0, 215.0]), peak_kw=np.array([120.0, 100.0]), peak_day=np.array([2, 2]), settings=SETTINGS
    )
    assert measures.needed.tolist() == [True, False]
    assert measures.staggered_use_kw[0] == pytest.approx(120.0 - 0.8 * capacity_kw)
    assert measures.patrol_day.tolist() == [2, -1]


def test_phase_balancing_moves_households_off_the_heaviest_phase():
    # 50 kVA (45 kW), baseline 30 kW flat (10 kW a phase); 12 returning households, all on
    # phase A. k_c(12) = 0.85, so one household adds 2.5 · 0.85 = 2.125 kW at 19:00.
    # Phase A: 10 + 25.5 = 35.5 kW, B = C = 10 kW → imbalance 25.5/35.5; moving 8 evens them.
    factors = horizon_factors(dt.date(2027, 1, 10), None, SETTINGS, days=1)
    result = project_transformers(
        baseline_kw=np.full((2, 24), 30.0),
        rated_kva=np.array([50.0, 50.0]),
        returning_households=np.array([[12], [12]]),
        factors=factors,
        settings=SETTINGS,
        returning_by_phase=np.array([[[12, 0, 0]], [[4, 4, 4]]]),
    )
    assert result.phase_imbalance[0] == pytest.approx(25.5 / 35.5)
    assert result.phase_households_to_move.tolist() == [8, 0]
    assert result.phase_imbalance[1] == pytest.approx(0.0, abs=1e-12)
    measures = size_measures(
        rated_kva=np.array([50.0, 50.0]),
        peak_kw=result.run_peak_kw,
        peak_day=result.run_peak_day,
        settings=SETTINGS,
        phase_imbalance=result.phase_imbalance,
        phase_households_to_move=result.phase_households_to_move,
    )
    assert measures.phase_balancing.tolist() == [True, False]
    assert measures.phase_households_to_move.tolist() == [8, 0]


def test_episodes_are_runs_of_days_at_watch_or_above():
    # A 100 kVA transformer (90 kW) whose returning households push it up on some days.
    settings = ProjectionSettings(horizon_days=8)
    factors = horizon_factors(dt.date(2027, 1, 10), None, settings)
    baseline = np.zeros((2, 24))
    baseline[0, 19:21] = [60.0, 60.0]  # s(19) = s(20) = 1.0
    returning = np.array([[0, 5, 20, 0, 0, 3, 0, 1], [0] * 8])
    result = project_transformers(
        baseline_kw=baseline, rated_kva=np.array([100.0, 100.0]), returning_households=returning,
        factors=factors, settings=settings,
    )  # fmt: skip
    # Asset 0 at 19–20 h: day 1, 5 households, k_c = 1 − 2/6 · 0.1: 60 + 12.083 = 72.083 kW (80.09 %)
    # → heavy; day 2, 20 households, k_c = 0.9 − 11/15 · 0.25: 60 + 35.833 kW (106.5 %) → overload;
    # day 5, 3 households: 67.5 kW (75 %) → watch; day 7, 1 household: 62.5 kW (69.4 %) → normal.
    np.testing.assert_array_equal(result.daily_level[0], [0, 2, 3, 0, 0, 1, 0, 0])
    episodes = find_episodes(result)
    assert episodes.asset.tolist() == [0, 0]
    assert episodes.first_day.tolist() == [1, 5]
    assert episodes.last_day.tolist() == [2, 5]
    assert episodes.level.tolist() == [Level.OVERLOAD, Level.WATCH]
    assert episodes.peak_day.tolist() == [2, 5]
    assert episodes.peak_load_rate[0] == pytest.approx(result.peak_load_rate[0, 2])
    assert episodes.peak_kw[1] == pytest.approx(67.5)
    heavy = find_episodes(result, Level.HEAVY)
    assert heavy.first_day.tolist() == [1] and heavy.last_day.tolist() == [2]
