"""The vectorised engine equals a plain scalar loop written from docs/domain.md 6.2–6.4.

The reference below loops over assets, days and hours with Python floats and shares no
code with the engine except the settings and the lunar calendar.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from loadforecast.engine import ProjectionSettings, horizon_factors, project_lines, project_transformers
from zhoukou_grid.core.lunar_calendar import FestivalDay, festival_day_kind

SETTINGS = ProjectionSettings()
KC_POINTS = [(3, 1.00), (9, 0.90), (24, 0.65), (36, 0.50), (72, 0.45), (372, 0.40), (777, 0.30), (900, 0.26)]
S_SHAPE = [0.35, 0.30, 0.30, 0.30, 0.30, 0.35, 0.50, 0.65, 0.60, 0.55, 0.55, 0.65,
           0.70, 0.60, 0.55, 0.55, 0.60, 0.75, 0.90, 1.00, 1.00, 0.95, 0.80, 0.55]  # fmt: skip


def ref_kc(n):
    if n < 3:
        return 1.0
    if n > 900:
        return 0.26
    for (n0, k0), (n1, k1) in zip(KC_POINTS, KC_POINTS[1:], strict=False):
        if n0 <= n <= n1:
            return k0 + (k1 - k0) * (n - n0) / (n1 - n0)
    raise AssertionError(n)


def ref_e(day):
    kind = festival_day_kind(day)
    return {FestivalDay.NEW_YEARS_EVE: 1.3, FestivalDay.FIRST_DAY: 1.2, FestivalDay.SECOND_TO_FIFTH_DAY: 1.1}.get(
        kind, 1.0
    )


def ref_g(t_min):
    return 1.0 if t_min is None else 1 + 0.03 * max(0.0, 5 - t_min)


def ref_longest_run(flags):
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def ref_level(rates, thermal_flag=False):
    if thermal_flag or any(r >= 1.5 for r in rates):
        return 4
    if ref_longest_run([r >= 1.0 for r in rates]) >= 2:
        return 3
    if ref_longest_run([r >= 0.8 for r in rates]) >= 2:
        return 2
    if any(r >= 0.7 for r in rates):
        return 1
    return 0


def ref_thermal(ks, ambients, loss_ratio):
    """IEC 60076-7 difference equations, ONAN distribution constants, steady start, 60-min steps."""
    x, y, tau_o, tau_w, k11, k21, k22 = 0.8, 1.6, 180.0, 4.0, 1.0, 1.0, 2.0
    rise, gradient, hot_spot_factor, surcharge = 60.0, 23.0, 1.2, 10.0

    def oil_end(k):
        return (rise + surcharge) * ((1 + loss_ratio * k * k) / (1 + loss_ratio)) ** x

    def static(k):
        return hot_spot_factor * gradient * k**y

    top = [ambients[0] + oil_end(ks[0])]
    d1, d2 = k21 * static(ks[0]), (k21 - 1) * static(ks[0])
    hot = [top[0] + d1 - d2]
    for k, amb in zip(ks[1:], ambients[1:], strict=True):
        top.append(top[-1] + (amb + oil_end(k) - top[-1]) * (1 - math.exp(-60 / (k11 * tau_o))))
        d1 = k21 * static(k) + (d1 - k21 * static(k)) * math.exp(-60 / (k22 * tau_w))
        d2 = (k21 - 1) * static(k) + (d2 - (k21 - 1) * static(k)) * math.exp(-60 * k22 / tau_o)
        hot.append(top[-1] + d1 - d2)
    return top, hot


def _random_batch(rng, assets, days):
    baseline = rng.uniform(5, 120, (assets, 24))
    returning = rng.integers(0, 60, (assets, days))
    returning[0] = [0, 2, 3, 9, 24, 900, 1000][:days]
    returning[1, :] = rng.integers(300, 1200, days)
    rated = rng.choice([50.0, 100.0, 160.0, 200.0, 315.0], assets)
    temps = [None if rng.random() < 0.2 else float(rng.uniform(-12, 10)) for _ in range(days)]
    return baseline, returning, rated, temps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_transformers_match_the_scalar_reference(seed):
    rng = np.random.default_rng(seed)
    assets, days = 40, 7
    run_date = dt.date(2027, 2, 3)  # the horizon covers 除夕, 初一 and 初二…初五
    baseline, returning, rated, temps = _random_batch(rng, assets, days)
    loss_ratio = np.where(rng.random(assets) < 0.5, np.nan, rng.uniform(4, 10, assets))
    settings = ProjectionSettings(horizon_days=days)
    result = project_transformers(
        baseline_kw=baseline,
        rated_kva=rated,
        returning_households=returning,
        factors=horizon_factors(run_date, temps, settings),
        settings=settings,
        loss_ratio=loss_ratio,
        keep_hourly=True,
        chunk_assets=16,  # several chunks, so chunking is exercised too
    )
    dates = [run_date + dt.timedelta(days=i) for i in range(days)]
    checked_any = False
    raised_by_temperature = 0
    for a in range(assets):
        rates_by_day, kw_by_day = [], []
        for d in range(days):
            n = int(returning[a, d])
            extra = n * 2.5 * ref_kc(n) if n else 0.0
            kw = [baseline[a, h] + extra * S_SHAPE[h] * ref_e(dates[d]) * ref_g(temps[d]) for h in range(24)]
            kw_by_day.append(kw)
            rates_by_day.append([p / (rated[a] * 0.9) for p in kw])
        levels = [ref_level(rates) for rates in rates_by_day]
        thermal_days = [False] * days
        if max(levels) >= 2:
            checked_any = True
            ratio = 5.0 if math.isnan(loss_ratio[a]) else loss_ratio[a]
            ambients = [5.0 if temps[d] is None else temps[d] for d in range(days) for _ in range(24)]
            top, hot = ref_thermal([r for rates in rates_by_day for r in rates], ambients, ratio)
            for d in range(days):
                day_top, day_hot = top[24 * d : 24 * d + 24], hot[24 * d : 24 * d + 24]
                thermal_days[d] = max(day_hot) > 120 or max(day_top) > 105
                assert result.max_top_oil_c[a, d] == pytest.approx(max(day_top), abs=1e-9)
                assert result.max_hot_spot_c[a, d] == pytest.approx(max(day_hot), abs=1e-9)
                ageing = sum(2 ** ((t - 98) / 6) for t in day_hot) / 24
                assert result.ageing_days[a, d] == pytest.approx(ageing, rel=1e-9)
        else:
            assert not result.thermal_checked[a]
        raised_by_temperature += sum(
            flag and ref_level(rates) < 4 for rates, flag in zip(rates_by_day, thermal_days, strict=True)
        )
        levels = [ref_level(rates, flag) for rates, flag in zip(rates_by_day, thermal_days, strict=True)]
        for d in range(days):
            np.testing.assert_allclose(result.hourly_kw[a, d], kw_by_day[d], rtol=1e-12)
            assert result.peak_kw[a, d] == pytest.approx(max(kw_by_day[d]), rel=1e-12)
            assert result.peak_load_rate[a, d] == pytest.approx(max(rates_by_day[d]), rel=1e-12)
            assert result.hours_at_or_above_heavy[a, d] == sum(r >= 0.8 for r in rates_by_day[d])
            assert result.hours_at_or_above_overload[a, d] == sum(r >= 1.0 for r in rates_by_day[d])
            assert result.daily_level[a, d] == levels[d], (a, d)
        assert result.level[a] == max(levels)
    # The random batch must exercise the thermal check, including days it raises to thermal.
    assert checked_any and raised_by_temperature > 0


def test_lines_match_the_scalar_reference():
    rng = np.random.default_rng(7)
    lines, transformers, days = 60, 10, 5
    run_date = dt.date(2027, 2, 4)
    transformer_baseline = rng.uniform(20, 200, (transformers, 24))
    line_transformer = rng.integers(0, transformers, lines)
    line_households = rng.integers(5, 80, lines)
    transformer_households = np.bincount(line_transformer, weights=line_households, minlength=transformers) + 5
    ampacity = rng.choice([215.0, 275.0, 320.0], lines)
    returning = rng.integers(0, 40, (lines, days))
    temps = [float(t) for t in rng.uniform(-10, 8, days)]
    settings = ProjectionSettings(horizon_days=days)
    result = project_lines(
        line_transformer=line_transformer,
        line_households=line_households,
        transformer_households=transformer_households,
        transformer_baseline_kw=transformer_baseline,
        ampacity_a=ampacity,
        returning_households=returning,
        factors=horizon_factors(run_date, temps, settings),
        settings=settings,
        keep_hourly=True,
        chunk_assets=7,
    )
    for line in range(lines):
        j = line_transformer[line]
        share = line_households[line] / transformer_households[j]
        for d in range(days):
            day = run_date + dt.timedelta(days=d)
            n = int(returning[line, d])
            kw = [
                transformer_baseline[j, h] * share + n * 2.5 * ref_kc(n) * S_SHAPE[h] * ref_e(day) * ref_g(temps[d])
                for h in range(24)
            ]
            amps = [p / (math.sqrt(3) * 0.38 * 0.9) for p in kw]
            rates = [i / ampacity[line] for i in amps]
            np.testing.assert_allclose(result.hourly_kw[line, d], kw, rtol=1e-12)
            assert result.peak_current_a[line, d] == pytest.approx(max(amps), rel=1e-12)
            assert result.daily_level[line, d] == ref_level(rates)
