"""The season outlook run on a tiny territory (docs/domain.md §6.7): database -> outlook rows
equal to the engine's on the same arrays, registered and estimated apart, order-by dates,
headline and list coverage; the command; settings refused with reasons."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loadforecast import engine
from loadforecast.models import LoadReading, OutlookItem, OutlookRun, WeatherForecast, pack_curve
from loadforecast.outlook_engine import OutlookSettings, season_window
from loadforecast.outlook_services import outlook_run, outlook_settings_update, outlook_station
from tests.factories import HouseholdFactory, ReturningResidentFactory
from zhoukou_grid.core.models import AuditLog

RUN_DATE = dt.date(2026, 12, 6)  # N = 2027-02-06, window 2027-01-22 … 2027-02-20 (30 days)
BASE = np.array([60.0 + h for h in range(24)])


def _season(world, run_date=RUN_DATE):
    """Transformer a1 at 160 kVA with 14 metered days; 20 households of village a1 with this
    season's list (2027-02-02 … 02-10); 20 households of village a2 (no list this season) that
    came last season 2026-02-13 with no departure (→ 初八 2026-02-24), shifted −11 days to
    2027-02-02 … 02-13; village a1's own last-season entry is never estimated."""
    g, other = world.grids["a1"], world.grids["a2"]
    g.transformer.rated_kva = 160
    g.transformer.save()
    LoadReading.objects.bulk_create([
        LoadReading(transformer=g.transformer, grid=g.grid, date=run_date - dt.timedelta(days=d), points=24,
                    hourly_kw=pack_curve(BASE)) for d in range(1, 15)])
    for _ in range(20):
        household = HouseholdFactory(village=g.village, transformer=g.transformer, line=g.line)
        ReturningResidentFactory(village=g.village, household=household, arrival_date=dt.date(2027, 2, 2),
                                 departure_date=dt.date(2027, 2, 10))
        ReturningResidentFactory(village=g.village, household=household, arrival_date=dt.date(2026, 1, 20),
                                 departure_date=dt.date(2026, 3, 1))
    for _ in range(20):
        household = HouseholdFactory(village=other.village, transformer=g.transformer, line=g.line)
        ReturningResidentFactory(village=other.village, household=household, arrival_date=dt.date(2026, 2, 13))
    WeatherForecast.objects.create(county=world.county_a, date=dt.date(2027, 2, 5), t_min=-8)
    return g


def _expected():
    window = season_window(RUN_DATE, OutlookSettings())
    settings = engine.ProjectionSettings()
    dates = window.dates
    registered = np.array([[20 if dt.date(2027, 2, 2) <= d < dt.date(2027, 2, 10) else 0 for d in dates]])
    estimated = np.array([[20 if dt.date(2027, 2, 2) <= d < dt.date(2027, 2, 13) else 0 for d in dates]])
    temps = [-8.0 if d == dt.date(2027, 2, 5) else (-3.0 if d.month == 1 else -1.0) for d in dates]
    factors = engine.horizon_factors(window.first_day, temps, settings, days=window.days)
    baseline = engine.baseline_from_history(np.broadcast_to(BASE, (1, 14, 24)).copy(), None, settings)
    result = engine.project_transformers(baseline_kw=baseline.kw, rated_kva=np.array([160.0]),
                                         returning_households=registered + estimated, factors=factors,
                                         settings=settings)
    return window, registered, estimated, result


@pytest.mark.django_db
def test_outlook_rows_equal_the_engine_with_estimates_apart(world):
    g = _season(world)
    run = outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    window, registered, estimated, expected = _expected()
    assert (run.season, run.new_year, run.days_projected) == (2027, dt.date(2027, 2, 6), 30)
    eve = window.dates.index(dt.date(2027, 2, 5))
    assert run.days[eve] == {"date": "2027-02-05", "t_min": -8.0, "source": "forecast", "festival": 1.3}
    assert run.days[0]["source"] == "normal" and run.days[0]["t_min"] == -3.0

    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    p = int(expected.run_peak_day[0])
    assert item.level == int(expected.level[0]) >= engine.Level.HEAVY
    assert item.peak_date == window.dates[p]
    assert item.peak_kw == pytest.approx(expected.peak_kw[0, p])
    assert (item.registered_households, item.estimated_households) == (registered[0, p], estimated[0, p])
    assert [day[3] for day in item.daily] == registered[0].tolist()
    assert [day[4] for day in item.daily] == estimated[0].tolist()

    first_heavy = window.dates[int(np.argmax(expected.daily_level[0] >= engine.Level.HEAVY))]
    assert item.first_heavy_date == first_heavy
    by_kind = {m["kind"]: m for m in item.measures}
    assert by_kind["temp_capacity"]["order_by"] == (first_heavy - dt.timedelta(days=20)).isoformat()
    assert by_kind["patrol"]["order_by"] == (first_heavy - dt.timedelta(days=1)).isoformat()
    assert not any(m["late"] for m in item.measures)  # weeks ahead: nothing late yet
    assert item.order_by == first_heavy - dt.timedelta(days=20) and not item.late

    headline = run.headline
    level_name = ["normal", "watch", "heavy", "overload", "thermal"][int(expected.level[0])]
    assert headline["transformers"][level_name] == 1  # a2's transformer has no load data: not counted
    assert headline["temporary_kva"] == by_kind["temp_capacity"]["kva"]
    assert headline["villages_reported"] == 1 and headline["villages"] == 2
    assert [v["code"] for v in headline["villages_missing"]] == [world.grids["a2"].village.code]
    assert 0.5 < headline["estimated_share"] < 0.65  # 20 of 40 on 2–9 Feb, all 20 on 10–12 Feb
    assert (headline["forecast_days"], headline["normal_days"]) == (1, 29)


@pytest.mark.django_db
def test_estimates_switched_off_and_late_order_by_inside_the_window(world):
    g = _season(world, run_date=dt.date(2027, 1, 25))
    outlook_settings_update(county_id=world.county_a.pk, values={"use_estimates": False})
    run = outlook_station(station_id=world.station_a1.pk, run_date=dt.date(2027, 1, 25))
    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    assert all(day[4] == 0 for day in item.daily)
    by_kind = {m["kind"]: m for m in item.measures}
    assert by_kind["temp_capacity"]["late"] is True  # first heavy day − 20 < 25 January
    assert item.late is True


@pytest.mark.django_db
def test_a_run_out_of_reach_says_so_and_a_rerun_replaces(world):
    run = outlook_station(station_id=world.station_a1.pk, run_date=dt.date(2026, 11, 7))  # N − 91
    assert run.days_projected == 0 and "91 days away" in run.message
    again = outlook_station(station_id=world.station_a1.pk, run_date=dt.date(2026, 11, 7))
    assert OutlookRun.objects.filter(station=world.station_a1, run_date=dt.date(2026, 11, 7)).get().pk == again.pk
    assert len(outlook_run(run_date=RUN_DATE)) == 3  # every station


@pytest.mark.django_db
def test_bad_outlook_settings_write_nothing_and_good_ones_are_audited(world, county_admin):
    for values in ({"normal_min_temperature_c": [0] * 11}, {"lead_days_patrol": -2},
                   {"window_days_before": 40}):
        with pytest.raises(engine.SettingsError):
            outlook_settings_update(county_id=world.county_a.pk, values=values, user=county_admin)
    assert not AuditLog.objects.filter(action="outlook_settings").exists()
    outlook_settings_update(county_id=world.county_a.pk, station_id=world.station_a1.pk,
                            values={"lead_days_temp_capacity": 30}, user=county_admin)
    assert AuditLog.objects.filter(action="outlook_settings").count() == 1


@pytest.mark.django_db
def test_the_outlook_command(world):
    _season(world)
    out = io.StringIO()
    call_command("run_projection", "--outlook", "--date", RUN_DATE.isoformat(), "--station", "JA-GDS-01", stdout=out)
    assert '"season": 2027' in out.getvalue()
    assert OutlookRun.objects.filter(station=world.station_a1, run_date=RUN_DATE, days_projected=30).exists()
    with pytest.raises(CommandError, match="--days"):
        call_command("run_projection", "--outlook", "--days", "3", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_nightly_task_makes_the_outlook_while_a_window_is_in_reach(world, monkeypatch):
    from django.utils import timezone

    from loadforecast import tasks
    from loadforecast.models import ProjectionRun

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: RUN_DATE)
    _season(world)
    tasks.nightly_projection()  # eager under test
    assert ProjectionRun.objects.filter(run_date=RUN_DATE).exists()
    assert OutlookRun.objects.filter(run_date=RUN_DATE).count() == 3
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 9, 1))  # N − 158: out of reach
    tasks.nightly_projection()
    assert not OutlookRun.objects.filter(run_date=dt.date(2026, 9, 1)).exists()


@pytest.mark.celery_worker
@pytest.mark.skipif(not __import__("os").environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_the_nightly_task_on_a_real_worker_makes_projection_and_outlook(world):
    import time
    import uuid

    from celery.contrib.testing.worker import start_worker
    from django.utils import timezone

    from loadforecast.models import ProjectionRun
    from loadforecast.outlook_engine import season_window
    from loadforecast.tasks import nightly_projection
    from zhoukou_grid.celery import app

    today = timezone.localdate()
    _season(world, run_date=today)
    queue = f"test-{uuid.uuid4().hex}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    expected = 3 if season_window(today, OutlookSettings()).in_reach else 0
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
            run_id = nightly_projection.apply_async(queue=queue).get(timeout=60)
            for _ in range(120):
                run = ProjectionRun.objects.get(pk=run_id)
                if run.status in ("done", "failed") and OutlookRun.objects.filter(run_date=today).count() == expected:
                    break
                time.sleep(0.5)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
    assert run.status == "done", run.error
    assert OutlookRun.objects.filter(run_date=today).count() == expected
