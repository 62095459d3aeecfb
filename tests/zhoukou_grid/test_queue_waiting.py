"""The "waiting for the queue" mark (zhoukou_grid.core.queue), shared by import jobs and
projection runs: the same key, the same claim, and a task sent by its registered name."""

from __future__ import annotations

import pytest

from loadforecast.models import ProjectionRun
from tests.loadforecast.factories import ProjectionRunFactory
from zhoukou_grid.core import queue
from zhoukou_grid.core.models import ImportJob


def test_a_mark_keeps_its_first_time_and_clears_without_touching_the_rest():
    marked = queue.queue_waiting_mark({"started_at": "x"})
    since = queue.queue_waiting_since(marked)
    assert since and marked["started_at"] == "x"
    assert queue.queue_waiting_mark(marked)[queue.QUEUE_WAITING] == since  # waited since then
    assert queue.queue_waiting_clear(marked) == {"started_at": "x"}
    assert queue.queue_waiting_since(None) is None and queue.queue_waiting_since({}) is None


@pytest.mark.django_db
def test_jobs_and_runs_are_found_and_claimed_by_the_same_mark(world, county_admin):
    job = ImportJob.objects.create(user=county_admin, kind="households", file_name="a.csv",
                                   status=ImportJob.Status.QUEUED, timings=queue.queue_waiting_mark())
    run = ProjectionRunFactory(station=world.station_a1, status=ProjectionRun.Status.QUEUED,
                               timings=queue.queue_waiting_mark())
    ProjectionRunFactory(station=world.station_a2, status=ProjectionRun.Status.QUEUED)
    assert list(ImportJob.objects.filter(queue.queue_waiting_q())) == [job]
    assert list(ProjectionRun.objects.filter(queue.queue_waiting_q())) == [run]
    since = queue.queue_waiting_since(run.timings)
    assert ProjectionRun.objects.filter(queue.queue_waiting_q(since), pk=run.pk).update(timings={}) == 1
    assert ProjectionRun.objects.filter(queue.queue_waiting_q(since), pk=run.pk).update(timings={}) == 0  # claimed once


def test_a_task_is_sent_by_its_registered_name():
    task = queue.queue_task("loadforecast.tasks.runs_watch")
    assert task.name == "loadforecast.tasks.runs_watch"
    with pytest.raises(KeyError):
        queue.queue_task("loadforecast.tasks.no_such_task")
