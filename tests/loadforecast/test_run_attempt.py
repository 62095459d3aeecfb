"""Attempts of a run: each start of the same run row (date and scope) is a new attempt, every
station message and finishing step carries it, and a message of an earlier attempt still
queued when the run was started again does nothing (docs/scaling.md, "Messages of an
earlier attempt")."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from unittest import mock

import pytest
from django.utils import timezone

from loadforecast import services, tasks
from loadforecast.models import AssetProjection, ProjectionRun
from loadforecast.services import projection_start
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.core.queue import QueueUnavailable


def rows(station):
    return AssetProjection.objects.filter(grid__station=station).count()


def project(run, station, attempt):
    return tasks.project_station.apply(args=(run.pk, station.pk, attempt), throw=True).get()


def finish(run, attempt):
    return tasks.finish_run.apply(args=(run.pk, attempt)).get()


@pytest.mark.django_db
def test_each_start_is_a_new_attempt_of_the_same_row(world):
    station = world.station_a1
    first, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    second, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert second.pk == first.pk
    assert (first.attempt, second.attempt) == (1, 2)


@pytest.mark.django_db
def test_a_stale_chunk_writes_nothing_and_its_finishing_step_does_not_close_the_new_attempt(world, caplog):
    _tiny(world)
    station = world.station_a1
    old, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    run, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)  # e.g. re-requested

    with mock.patch.object(services, "projection_station", wraps=services.projection_station) as station_work, \
            caplog.at_level("INFO", logger="loadforecast.services"):
        outcome = project(run, station, old.attempt)  # attempt 1's message, still queued
    assert outcome["skipped"] == "stale" and outcome["attempt"] == old.attempt
    assert station_work.call_count == 0  # not even computed
    assert "stale" in caplog.text
    run.refresh_from_db()
    assert run.status == "running" and run.chunks_done == 0 and run.counts["stations"] == {}
    assert rows(station) == 0

    # Attempt 1's finishing step: nothing reported for attempt 2, so it must neither close
    # it as done nor, once the stations have been silent past the limit, fail it.
    assert finish(run, old.attempt) == "stale"
    ProjectionRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - dt.timedelta(seconds=services.station_time_limit() + 3600))
    assert finish(run, old.attempt) == "stale"
    run.refresh_from_db()
    assert run.status == "running" and not run.error and run.finished_at is None

    # Attempt 2's own chunk and finishing step complete the run.
    ProjectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now())
    assert project(run, station, run.attempt)["station"] == station.code
    assert finish(run, old.attempt) == "stale"  # still not the old step's to close
    run.refresh_from_db()
    assert run.status == "running" and run.chunks_done == 1
    assert finish(run, run.attempt) == "done"
    run.refresh_from_db()
    assert run.status == "done" and run.chunks_done == run.chunks_total == 1
    assert rows(station) == DAYS * 2  # a1's transformer and line, one row a day


@pytest.mark.django_db
def test_a_chunk_overtaken_by_a_new_start_while_computing_writes_and_records_nothing(world):
    _tiny(world)
    station = world.station_a1
    run, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    real_compute = services.compute_station

    def compute_then_restart(*args, **kwargs):
        result = real_compute(*args, **kwargs)
        projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)  # a re-run starts meanwhile
        return result

    with mock.patch.object(services, "compute_station", side_effect=compute_then_restart):
        outcome = project(run, station, run.attempt)
    assert outcome["skipped"] == "stale"
    run.refresh_from_db()
    assert run.attempt == 2 and run.chunks_done == 0 and run.counts["stations"] == {}
    assert rows(station) == 0


@pytest.mark.django_db
def test_a_redelivered_chunk_of_the_current_attempt_replaces_its_own_results(world):
    _tiny(world)
    station = world.station_a1
    projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    run, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    first = project(run, station, run.attempt)
    again = project(run, station, run.attempt)  # redelivered
    assert first["station"] == again["station"] == station.code
    assert again["asset_days"] == first["asset_days"] > 0
    run.refresh_from_db()
    assert run.chunks_done == 1 and list(run.counts["stations"]) == [station.code]
    assert rows(station) == first["asset_days"]
    assert finish(run, run.attempt) == "done"


@pytest.mark.django_db
def test_a_message_without_an_attempt_is_taken_as_the_current_one(world):
    """Messages sent before attempts existed (queued across the deployment)."""
    _tiny(world)
    station = world.station_a1
    projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    run, _ = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert tasks.project_station.apply(args=(run.pk, station.pk), throw=True).get()["station"] == station.code
    assert tasks.finish_run.apply(args=(run.pk,)).get() == "done"


@pytest.mark.django_db
def test_a_run_sent_again_after_the_queue_was_down_is_the_same_attempt(world):
    station = world.station_a1
    with mock.patch.object(services, "queue_send", side_effect=QueueUnavailable("down")):
        run_id = services.projection_enqueue(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    run = ProjectionRun.objects.get(pk=run_id)
    assert services.run_waits_for_queue(run) and run.attempt == 1

    with mock.patch.object(services, "queue_send") as send:
        assert services.projection_watch()["sent"] == 1
    run.refresh_from_db()
    assert run.status == "running" and run.attempt == 1
    assert [c.args for c in send.call_args_list] == [
        (services.PROJECT_STATION_TASK, (run.pk, station.pk, 1)), (services.FINISH_RUN_TASK, (run.pk, 1))]

    # A queue failure reported by a sender of an earlier attempt does not mark a newer one waiting.
    again, stations = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    with mock.patch.object(services, "queue_send", side_effect=QueueUnavailable("down")):
        assert services.projection_send(run_id=run.pk, stations=stations, attempt=1) is False
    again.refresh_from_db()
    assert again.attempt == 2 and again.status == "running" and not services.run_waits_for_queue(again)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_on_a_real_worker_the_messages_of_an_earlier_attempt_do_nothing(world):
    from celery.contrib.testing.worker import start_worker

    from zhoukou_grid.celery import app

    _tiny(world)
    queue = f"test-{uuid.uuid4().hex}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    try:
        # Attempt 1's messages wait in the queue (no worker yet, e.g. a run that timed out),
        # then the run of the same date is started again.
        run_id = services.projection_enqueue(run_date=RUN_DATE, days=DAYS)
        assert services.projection_enqueue(run_date=RUN_DATE, days=DAYS) == run_id
        with mock.patch.object(services, "projection_station", wraps=services.projection_station) as work, \
                start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
            run = ProjectionRun.objects.get(pk=run_id)
            for _ in range(240):
                run.refresh_from_db()
                if run.status in ("done", "failed"):
                    break
                time.sleep(0.25)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
    assert run.status == "done", run.error
    assert run.attempt == 2 and run.chunks_done == run.chunks_total == 3
    # Only attempt 2's chunks did the work: attempt 1's were dropped before computing.
    assert sorted(c.kwargs["attempt"] for c in work.call_args_list) == [2, 2, 2]
