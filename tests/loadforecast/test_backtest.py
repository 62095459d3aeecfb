"""The after-festival back-test: hand-computed errors, level confusion counts and the
calibrated p_hh; the report for a user reads only their territory."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast import engine
from loadforecast.backtest import backtest_compute, backtest_report, backtest_summary, observed_daily_levels
from loadforecast.models import AssetProjection, LoadReading, ProjectionRun, pack_curve

SETTINGS = engine.ProjectionSettings()
NAN = np.nan


def flat(value, **hours):
    curve = np.full(24, float(value))
    for hour, kw in hours.items():
        curve[int(hour.removeprefix("h"))] = kw
    return curve


def k_c(n):
    return float(engine.coincidence_factor(np.array([float(n)]), SETTINGS)[0])


@pytest.fixture
def three():
    """Three 100 kVA transformers (90 kW at cosφ 0.9) over two days.

    T0: projected 80/95 kW (heavy, overload); metered day 0 at 72 kW (exactly 80 %) for
        exactly hours 18–19, day 1 one hour at 100 kW: observed heavy; 10 households on day 1.
    T1: projected 40 kW on day 0 only (normal); metered by daily maxima 75 / 30 kW: day 0
        judged on 75 kW = 83 % alone: heavy; no returning households.
    T2: projected 60 kW (normal); metered 40 kW flat, day 1 one hour at 70 kW (78 %): watch;
        3 households on day 1.
    """
    hourly = np.full((3, 2, 24), NAN)
    hourly[0, 0], hourly[0, 1] = flat(60, h18=72, h19=72), flat(50, h19=100)
    hourly[2, 0], hourly[2, 1] = flat(40), flat(40, h20=70)
    return backtest_compute(
        projected_peak_kw=np.array([[80, 95], [40, NAN], [60, 60]]),
        projected_level=np.array([[2, 3], [0, -1], [0, 0]]),
        returning=np.array([[0, 10], [0, 0], [0, 3]]),
        metered_hourly_kw=hourly,
        metered_max_kw=np.array([[72, 100], [75, 30], [40, 70]], dtype=float),
        rated_kva=np.array([100.0, 100.0, 100.0]),
        baseline_peak_kw=np.array([50.0, 40.0, 40.0]),
        settings=SETTINGS,
    )


def test_peaks_and_errors_per_transformer_by_hand(three):
    np.testing.assert_allclose(three.projected_peak_kw, [95, 40, 60])
    np.testing.assert_allclose(three.metered_peak_kw, [100, 75, 70])  # T1: day 1 has no projection
    np.testing.assert_allclose(three.error_kw, [-5, -35, -10])
    np.testing.assert_allclose(three.error_pct, [-5.0, -35 / 75 * 100, -10 / 70 * 100])


def test_observed_levels_follow_the_level_rules_at_their_edges(three):
    # Exactly 2 hours at exactly 80 % is heavy load; one hour at 111 % is only watch.
    assert list(three.observed_level) == [2, 2, 1]
    assert list(three.projected_level) == [3, 0, 0]
    one_hour_over = observed_daily_levels(flat(50, h19=100)[None, None], np.array([[100.0]]), np.array([100.0]),
                                          SETTINGS)
    assert one_hour_over.tolist() == [[1]]
    unmetered = observed_daily_levels(np.full((1, 1, 24), NAN), np.array([[NAN]]), np.array([100.0]), SETTINGS)
    assert unmetered.tolist() == [[-1]]


def test_calibrated_p_hh_is_the_domain_formula_and_the_median(three):
    # T0: (100 − 50) / (10 · k_c(10)), k_c(10) = 0.90 − 1/15 · 0.25; T2: (70 − 40) / (3 · 1.0); T1 has n = 0.
    assert k_c(10) == pytest.approx(0.90 - 0.25 / 15)
    t0 = 50 / (10 * (0.90 - 0.25 / 15))
    np.testing.assert_allclose(three.p_hh_observed, [t0, NAN, 10.0])
    summary = backtest_summary(three)
    assert summary["p_hh_suggested"] == pytest.approx((t0 + 10) / 2, abs=1e-3)
    assert summary["p_hh_transformers"] == 2


def test_hits_misses_and_false_alarms_per_level(three):
    summary = backtest_summary(three)
    assert summary["transformers"] == 3
    assert summary["levels"] == {
        "watch": {"hits": 1, "misses": 2, "false_alarms": 0},
        "heavy": {"hits": 1, "misses": 1, "false_alarms": 0},
        "overload": {"hits": 0, "misses": 0, "false_alarms": 1},
        "thermal": {"hits": 0, "misses": 0, "false_alarms": 0},
    }
    assert summary["mean_abs_error_kw"] == pytest.approx(50 / 3, abs=0.01)
    assert summary["mean_error_kw"] == pytest.approx(-50 / 3, abs=0.01)
    assert summary["mean_abs_error_pct"] == pytest.approx((5 + 35 / 75 * 100 + 10 / 70 * 100) / 3, abs=0.05)
    only_t1 = backtest_summary(three, np.array([1]))
    assert only_t1["levels"]["heavy"] == {"hits": 0, "misses": 1, "false_alarms": 0}
    assert only_t1["p_hh_suggested"] is None


def test_a_transformer_without_a_metered_day_is_not_compared():
    result = backtest_compute(
        projected_peak_kw=np.array([[80.0]]), projected_level=np.array([[2]]), returning=np.array([[5]]),
        metered_hourly_kw=np.full((1, 1, 24), NAN), metered_max_kw=np.array([[NAN]]), rated_kva=np.array([100.0]),
        baseline_peak_kw=np.array([50.0]), settings=SETTINGS)
    assert not result.compared[0] and np.isnan(result.error_kw[0])
    assert backtest_summary(result)["transformers"] == 0


# --- The report for a user ---------------------------------------------------------------
RUN_DATE = dt.date(2027, 2, 1)


def _season(world):
    """Transformers of a1 (甲一所) and a3 (甲二所), 100 kVA, 14 days of flat 50 kW before
    the run; projected and metered on 2027-02-05 and 06."""
    run = ProjectionRun.objects.create(run_date=RUN_DATE, days=7, settings_snapshot=SETTINGS.to_dict())
    for key, metered in (("a1", [flat(50, h19=100, h20=100), flat(50)]), ("a3", [flat(50), flat(60)])):
        g = world.grids[key]
        g.transformer.rated_kva = 100
        g.transformer.save()
        LoadReading.objects.bulk_create(
            [LoadReading(transformer=g.transformer, grid=g.grid, date=RUN_DATE - dt.timedelta(days=d), points=24,
                         hourly_kw=pack_curve(flat(50))) for d in range(1, 15)]
            + [LoadReading(transformer=g.transformer, grid=g.grid, date=dt.date(2027, 2, 5 + d), points=24,
                           hourly_kw=pack_curve(curve), max_kw=float(curve.max())) for d, curve in enumerate(metered)])
        for d, (peak, level) in enumerate([(90.0, 3), (70.0, 1)]):
            AssetProjection.objects.create(run=run, grid=g.grid, transformer=g.transformer,
                                           date=dt.date(2027, 2, 5 + d), peak_kw=peak, peak_load_rate=peak / 90,
                                           hours_ge_80=2, hours_ge_100=2 if level == 3 else 0,
                                           returning_households=20, level=level)
    return run


@pytest.mark.django_db
def test_the_report_compares_the_users_transformers_per_station(world, personas, django_assert_max_num_queries):
    _season(world)
    user = personas.county_admin
    user.has_perm("loadforecast.view_alert")  # territory and verbs cached before counting
    with django_assert_max_num_queries(6):
        report = backtest_report(user=user, first_date=dt.date(2027, 2, 5), last_date=dt.date(2027, 2, 6))
    assert report["run_date"] == RUN_DATE
    by_code = {row["code"]: row for row in report["transformers"]}
    a1 = by_code[world.grids["a1"].transformer.code]
    # a1: metered 100 kW for two hours on the 5th (111 %: overload), projected 90 kW (overload).
    assert (a1["metered_peak_kw"], a1["projected_peak_kw"], a1["error_kw"]) == (100.0, 90.0, -10.0)
    assert (a1["observed_level"], a1["projected_level"]) == (3, 3)
    assert a1["p_hh_observed"] == pytest.approx((100 - 50) / (20 * k_c(20)), abs=1e-3)
    a3 = by_code[world.grids["a3"].transformer.code]
    assert (a3["metered_peak_kw"], a3["observed_level"], a3["error_pct"]) == (60.0, 0, 50.0)
    stations = {s["code"]: s for s in report["stations"]}
    assert set(stations) == {"JA-GDS-01", "JA-GDS-02"}
    assert stations["JA-GDS-01"]["levels"]["overload"] == {"hits": 1, "misses": 0, "false_alarms": 0}
    assert stations["JA-GDS-02"]["levels"]["overload"] == {"hits": 0, "misses": 0, "false_alarms": 1}
    assert stations["JA-GDS-02"]["p_hh_suggested"] == pytest.approx((60 - 50) / (20 * k_c(20)), abs=1e-3)
    assert report["summary"]["transformers"] == 2


@pytest.mark.django_db
def test_the_report_shows_nothing_outside_the_territory(world, personas):
    _season(world)
    period = {"first_date": dt.date(2027, 2, 5), "last_date": dt.date(2027, 2, 6)}
    staff = backtest_report(user=personas.station_staff, **period)
    assert [row["code"] for row in staff["transformers"]] == [world.grids["a1"].transformer.code]
    assert [s["code"] for s in staff["stations"]] == ["JA-GDS-01"]
    outsider = backtest_report(user=personas.outsider, **period)
    assert outsider["transformers"] == [] and outsider["summary"] is None
    with pytest.raises(ValueError):
        backtest_report(user=personas.county_admin, first_date=dt.date(2027, 2, 6), last_date=dt.date(2027, 2, 5))
