"""The projection run end to end on a tiny territory: readings, residents and weather in
the database -> run -> projections equal to the engine's on the same arrays; alerts
created, kept across runs, mitigated by a done temporary-capacity measure."""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid

import numpy as np
import pytest
from django.core.management import call_command

from loadforecast import engine
from loadforecast.models import Alert, AssetProjection, LoadReading, Measure, ProjectionRun, WeatherForecast, pack_curve
from loadforecast.services import projection_run, settings_update
from tests.factories import HouseholdFactory, ReturningResidentFactory

RUN_DATE = dt.date(2027, 2, 1)  # 除夕 2027-02-05 is day 4
DAYS = 7
BASE = np.array([60.0 + h for h in range(24)])


def _tiny(world, households=40, run_date=RUN_DATE):
    """Grid a1: its transformer set to 160 kVA, 14 days of hourly history, 40 more households
    on its line with one returning resident each (2027-02-02 to 2027-02-10), a cold forecast
    on days 3 and 4; grid a2's transformer has no load data at all."""
    g = world.grids["a1"]
    g.transformer.rated_kva = 160
    g.transformer.save()
    LoadReading.objects.bulk_create([
        LoadReading(transformer=g.transformer, grid=g.grid, date=run_date - dt.timedelta(days=d), points=24,
                    hourly_kw=pack_curve(BASE)) for d in range(1, 15)])
    for _ in range(households):
        household = HouseholdFactory(village=g.village, transformer=g.transformer, line=g.line)
        ReturningResidentFactory(village=g.village, household=household, arrival_date=dt.date(2027, 2, 2),
                                 departure_date=dt.date(2027, 2, 10))
    WeatherForecast.objects.create(county=world.county_a, date=RUN_DATE + dt.timedelta(days=3), t_min=-5)
    WeatherForecast.objects.create(county=world.county_a, date=RUN_DATE + dt.timedelta(days=4), t_min=1)
    return g


def _engine_expectation(households=40, rated=160.0):
    settings = engine.ProjectionSettings()
    n = np.array([[0] + [households] * (DAYS - 1)])
    factors = engine.horizon_factors(RUN_DATE, [None, None, None, -5, 1, None, None], settings, days=DAYS)
    history = np.broadcast_to(BASE, (1, 14, 24)).copy()
    baseline = engine.baseline_from_history(history, None, settings)
    return engine.project_transformers(baseline_kw=baseline.kw, rated_kva=np.array([rated]), returning_households=n,
                                       factors=factors, settings=settings)


@pytest.mark.django_db
def test_a_run_writes_what_the_engine_computes_and_lists_what_it_skips(world):
    g = _tiny(world)
    run = projection_run(run_date=RUN_DATE, days=DAYS)
    assert run.status == "done", run.error
    rows = list(AssetProjection.objects.filter(transformer=g.transformer).order_by("date"))
    assert [r.date for r in rows] == [RUN_DATE + dt.timedelta(days=d) for d in range(DAYS)]
    expected = _engine_expectation()
    np.testing.assert_allclose([r.peak_kw for r in rows], expected.peak_kw[0])
    np.testing.assert_allclose([r.peak_load_rate for r in rows], expected.peak_load_rate[0])
    assert [r.level for r in rows] == list(expected.daily_level[0])
    assert [r.hours_ge_80 for r in rows] == list(expected.hours_at_or_above_heavy[0])
    assert [r.returning_households for r in rows] == [0] + [40] * 6
    # By hand, day 1 (no festival, no forecast): 80 kW baseline at 20:00 + 40 · 2.5 · k_c(40) · s(20) = 1.
    k_c = 0.50 + (40 - 36) / (72 - 36) * (0.45 - 0.50)
    assert rows[1].peak_kw == pytest.approx(80 + 100 * k_c)
    assert rows[1].peak_load_rate == pytest.approx((80 + 100 * k_c) / 144)
    # Day 0: the baseline alone, 83 kW at 23:00 = 58 % of 144 kW: normal.
    assert rows[0].peak_kw == pytest.approx(83.0) and rows[0].level == 0
    # The line carries all 42 households of the transformer: the same kW, as a current.
    line_rows = list(AssetProjection.objects.filter(line=g.line).order_by("date"))
    assert line_rows[1].peak_kw == pytest.approx(rows[1].peak_kw)
    assert line_rows[1].peak_a == pytest.approx(rows[1].peak_kw / (3 ** 0.5 * 0.38 * 0.9))
    skipped = {(s["code"], s["reason"]) for s in run.skipped}
    assert (world.grids["a2"].transformer.code, "no load data") in skipped
    assert run.counts["asset_days"] == 2 * DAYS
    assert set(run.timings) >= {"read", "compute", "write"}


@pytest.mark.django_db
def test_alerts_are_created_kept_and_mitigated_by_a_done_measure(world, station_staff):
    g = _tiny(world)
    projection_run(run_date=RUN_DATE, days=DAYS)
    alert = Alert.objects.get(transformer=g.transformer)
    expected = _engine_expectation()
    assert alert.level == expected.level[0] >= 2
    assert alert.first_date == RUN_DATE + dt.timedelta(days=1) or alert.first_date == RUN_DATE
    kinds = [m["kind"] for m in alert.measures]
    assert "temp_capacity" in kinds and "staggered" in kinds and "patrol" in kinds
    temp = next(m for m in alert.measures if m["kind"] == "temp_capacity")
    peak_kva = expected.run_peak_kw[0] / 0.9
    assert temp["kva"] == min(r for r in engine.ProjectionSettings().standard_ratings_kva if peak_kva / r <= 0.8)
    assert alert.history.filter(action="created").count() == 1

    # Acknowledged, then a re-run of the same date: one set of results, the status kept.
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.ACKNOWLEDGED)
    projection_run(run_date=RUN_DATE, days=DAYS)
    assert ProjectionRun.objects.count() == 1
    assert AssetProjection.objects.filter(transformer=g.transformer).count() == DAYS
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED and Alert.objects.filter(transformer=g.transformer).count() == 1

    # A temporary transformer of the recommended size, done: the next run mitigates the alert.
    Measure.objects.create(alert=alert, kind=Measure.Kind.TEMP_CAPACITY, kva=temp["kva"], planned_date=RUN_DATE,
                           status=Measure.Status.DONE, done_at=dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC),
                           done_by=station_staff)
    projection_run(run_date=RUN_DATE, days=DAYS)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MITIGATED
    assert alert.history.filter(action="mitigated").exists()
    rates = AssetProjection.objects.filter(transformer=g.transformer).values_list("peak_load_rate", flat=True)
    assert max(rates) <= 0.8


@pytest.mark.django_db
def test_a_station_override_changes_the_next_run_and_bad_settings_are_refused(world, county_admin):
    g = _tiny(world)
    with pytest.raises(engine.SettingsError):
        settings_update(county_id=world.county_a.pk, values={"household_extra_peak_kw": 0}, user=county_admin)
    with pytest.raises(engine.SettingsError):
        settings_update(county_id=world.county_a.pk, values={"watch_load_rate": 0.9}, user=county_admin)
    with pytest.raises(engine.SettingsError):
        settings_update(county_id=world.county_a.pk, values={"horizon_days": 46}, user=county_admin)
    settings_update(county_id=world.county_a.pk, station_id=world.station_a1.pk,
                    values={"household_extra_peak_kw": 1.0}, user=county_admin)
    run = projection_run(run_date=RUN_DATE, days=DAYS, station_id=world.station_a1.pk)
    day1 = AssetProjection.objects.get(transformer=g.transformer, date=RUN_DATE + dt.timedelta(days=1))
    k_c = 0.50 + (40 - 36) / (72 - 36) * (0.45 - 0.50)
    shape = np.array(engine.ProjectionSettings().extra_demand_shape)
    # With the smaller p_hh the peak moves to 21:00: 81 + 40 · 1.0 · k_c · 0.95.
    assert day1.peak_kw == pytest.approx(max(BASE + 40 * 1.0 * k_c * shape)) == pytest.approx(81 + 40 * k_c * 0.95)
    assert run.settings_snapshot["household_extra_peak_kw"] == 1.0
    assert not AssetProjection.objects.filter(grid__station=world.station_a2).exists()  # the scope was one station


@pytest.mark.django_db
def test_the_command(world):
    _tiny(world)
    out = io.StringIO()
    call_command("run_projection", "--date", "2027-02-01", "--days", "3", "--station", "JA-GDS-01", stdout=out)
    assert '"status": "done"' in out.getvalue()
    assert AssetProjection.objects.filter(date="2027-02-03").exists()


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_the_nightly_task_on_a_real_worker(world, settings):
    from celery.contrib.testing.worker import start_worker
    from celery.result import EagerResult
    from django.utils import timezone

    from loadforecast.tasks import nightly_projection
    from zhoukou_grid.celery import app

    g = _tiny(world, run_date=timezone.localdate())
    queue = f"test-{uuid.uuid4().hex}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
            result = nightly_projection.apply_async(queue=queue)
            assert not isinstance(result, EagerResult)
            run_id = result.get(timeout=60)
            run = ProjectionRun.objects.get(pk=run_id)
            for _ in range(120):
                run.refresh_from_db()
                if run.status in ("done", "failed"):
                    break
                import time

                time.sleep(0.5)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
    assert run.status == "done", run.error
    assert run.chunks_done == 3  # one chunk per station
    assert run.run_date == timezone.localdate()
    assert AssetProjection.objects.filter(transformer=g.transformer, run=run).count() == run.days
