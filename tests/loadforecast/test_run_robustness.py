"""Runs that lose a station: transient database errors are retried, a station that never
reports makes the run FAILED once the time limit has passed (naming the station), its
previous results stay in place, and the next run completes. The last test kills a real
Celery worker process with SIGKILL in the middle of a station's write."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connection, connections
from django.utils import timezone

from loadforecast import services, tasks
from loadforecast.models import AssetProjection, ProjectionRun
from loadforecast.services import projection_record_station, projection_run, projection_start
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny

ROOT = Path(__file__).resolve().parents[2]


def results(station):
    return sorted(AssetProjection.objects.filter(grid__station=station).values_list(
        "transformer_id", "line_id", "date", "peak_kw", "peak_load_rate", "level"), key=str)


def test_station_tasks_retry_transient_database_errors_a_bounded_number_of_times():
    task = tasks.project_station
    assert set(task.autoretry_for) >= {OperationalError, InterfaceError}
    assert task.retry_backoff and 0 < task.max_retries <= 5
    assert task.acks_late and tasks.finish_run.acks_late


@pytest.mark.django_db
def test_a_silent_station_fails_the_run_after_the_time_limit_and_its_results_stay(world, settings):
    settings.LOADFORECAST_FINISH_GRACE_SECONDS = 0
    _tiny(world)
    station = world.station_a1
    done = projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert done.status == "done"
    before = results(station)
    assert before

    # A new execution of the run whose station task never reports (its worker died).
    run, _stations = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    with pytest.raises(Exception) as retried:  # still within the time limit: try again later
        tasks.finish_run.apply(args=(run.pk,), throw=True).get()
    assert "Retry" in type(retried.value).__name__
    run.refresh_from_db()
    assert run.status == "running"

    limit = services.station_time_limit()
    ProjectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(seconds=limit + 1))
    assert tasks.finish_run.apply(args=(run.pk,)).get() == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and station.code in run.error and "never reported" in run.error
    assert run.finished_at is not None
    assert results(station) == before

    # A late redelivery of the lost station message writes nothing into the closed run.
    tasks.project_station.apply(args=(run.pk, station.pk)).get()
    run.refresh_from_db()
    assert run.status == "failed" and run.chunks_done == 0

    # The next run completes.
    again = projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert again.pk == run.pk and again.status == "done" and not again.error
    assert results(station) == before


@pytest.mark.django_db
def test_a_station_reporting_twice_counts_once(world):
    run, stations = projection_start(run_date=RUN_DATE, days=DAYS)
    assert len(stations) > 1
    outcome = {"station": world.station_a1.code, "asset_days": 3}
    projection_record_station(run_id=run.pk, outcome=outcome)
    projection_record_station(run_id=run.pk, outcome=outcome)  # a redelivered chunk
    run.refresh_from_db()
    assert run.chunks_done == 1 and run.chunks_done < run.chunks_total


def wait_until(condition, seconds=60, what=""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
                    reason="a real worker process needs REDIS_URL and PostgreSQL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_station_leaves_the_results_and_a_failed_run_and_the_next_run_completes(world):
    from zhoukou_grid.celery import app

    g = _tiny(world)
    station = world.station_a1
    assert projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk).status == "done"
    before = results(station)
    # The next projection would differ: a bigger transformer.
    g.transformer.rated_kva = 250
    g.transformer.save()

    db = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex}"
    env = {**os.environ, "ZG_TESTING": "1", "DB_CONN_MAX_AGE": "0", "ZG_TEST_QUEUE": queue,
           "DJANGO_SETTINGS_MODULE": "tests.loadforecast.worker_settings",
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}"}
    table = AssetProjection._meta.db_table

    def start_worker():
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "zhoukou_grid", "worker", "--pool", "solo", "-Q", queue,
             "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def backends(query_start: str, waiting: bool) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s"
                           + (" AND wait_event_type = 'Lock'" if waiting else ""), [db["NAME"], query_start + "%"])
            return cursor.fetchone()[0]

    def run_status():
        return ProjectionRun.objects.get(run_date=RUN_DATE, station=station).status

    previous = app.conf.task_always_eager, app.conf.task_default_queue
    blocker = connections.create_connection("default")  # holds the table while the worker writes
    killed = survivor = None
    try:
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        killed = start_worker()
        run_id = services.projection_enqueue(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
        wait_until(lambda: backends(f'DELETE FROM "{table}"', waiting=True) > 0, what="the station's DELETE")
        assert run_status() == "running"
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        blocker.rollback()
        # The dead worker's backend gets the lock, cannot answer, and rolls back.
        wait_until(lambda: backends(f'DELETE FROM "{table}"', waiting=False) == 0, what="the dead worker's backend")
        assert results(station) == before

        survivor = start_worker()
        # The run's own finishing message was reserved by the killed worker (Redis gives it
        # back only after the visibility timeout, hours away): the finishing step again.
        tasks.finish_run.apply_async((run_id,))
        wait_until(lambda: run_status() == "failed", what="the run to be marked failed")
        run = ProjectionRun.objects.get(pk=run_id)
        assert station.code in run.error and run.chunks_done == 0
        assert results(station) == before

        services.projection_enqueue(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
        wait_until(lambda: run_status() == "done", what="the next run to complete")
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        for worker in (killed, survivor):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        blocker.rollback()
        blocker.close()
    run = ProjectionRun.objects.get(pk=run_id)
    assert run.chunks_done == run.chunks_total == 1 and not run.error
    after = results(station)
    assert len(after) == len(before) and after != before  # the new rating, projected
