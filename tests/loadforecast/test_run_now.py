""""Run now" is one service (services.projection_request) behind the runs page and
POST /api/v1/projection-runs/, with one "still running?" rule (services.run_in_flight)."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loadforecast import services
from loadforecast.models import ProjectionRun
from tests.loadforecast.factories import ProjectionRunFactory
from zhoukou_grid.core.queue import queue_waiting_mark

pytestmark = pytest.mark.django_db


def _age(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(("status", "started", "waiting", "in_flight"), [
    ("queued", 0, False, True),
    ("running", 60, False, True),
    ("running", 3600 + 60, False, False),  # older than the task time limit: stuck, its worker died
    ("queued", 60, True, False),  # waiting for the queue: a click sends it again
    ("done", 0, False, False),
    ("failed", 0, False, False),
    ("running", None, False, True),  # never started: young while it was created recently
])
def test_the_one_still_running_rule(world, settings, status, started, waiting, in_flight):
    settings.CELERY_TASK_TIME_LIMIT = 3600
    run = ProjectionRunFactory(station=world.station_a1, status=status,
                               started_at=None if started is None else _age(started),
                               timings=queue_waiting_mark() if waiting else {})
    assert services.run_in_flight(run) is in_flight


def test_a_run_with_no_start_time_is_stuck_once_it_was_created_long_ago(world, settings):
    settings.CELERY_TASK_TIME_LIMIT = 3600
    run = ProjectionRunFactory(station=world.station_a1, status="queued", started_at=None)
    ProjectionRun.objects.filter(pk=run.pk).update(created_at=_age(3600 + 60))
    run.refresh_from_db()
    assert not services.run_in_flight(run)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_a_click_on_the_page_and_a_post_to_the_api_join_the_same_run(
        client, station_staff, world, django_capture_on_commit_callbacks):
    today = timezone.localdate().isoformat()
    client.force_login(station_staff)

    def click():
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("loadforecast:load_runs"), {"station": world.station_a1.pk})

    def post():
        with django_capture_on_commit_callbacks(execute=True):
            return _api(station_staff).post("/api/v1/projection-runs/", {"station": world.station_a1.code,
                                                                         "run_date": today}, format="json")

    with mock.patch("loadforecast.services.projection_send") as send:
        click()
        run = ProjectionRun.objects.get(station=world.station_a1)
        answer = post()
        assert answer.status_code == 200 and answer.json()["id"] == run.pk
        assert send.call_count == 1
        # A stuck run (its worker died) is started again by either.
        ProjectionRun.objects.filter(pk=run.pk).update(started_at=_age(7200))
        answer = post()
        assert answer.status_code == 201 and answer.json()["id"] == run.pk
        assert send.call_count == 2
        click()
        assert send.call_count == 2  # the API's restart is in flight: the click joins it
    assert ProjectionRun.objects.count() == 1


def test_a_click_on_a_run_that_waits_for_the_queue_sends_it_again(
        station_staff, world, django_capture_on_commit_callbacks):
    run = ProjectionRunFactory(station=world.station_a1, run_date=timezone.localdate(), status="queued",
                               started_at=timezone.now(), timings=queue_waiting_mark())
    with mock.patch("loadforecast.services.projection_send") as send, \
            django_capture_on_commit_callbacks(execute=True):
        requested = services.projection_request(user=station_staff, station_id=world.station_a1.pk)
    assert requested.started and requested.run.pk == run.pk and send.call_count == 1
    run.refresh_from_db()
    assert run.status == "running" and not services.run_waits_for_queue(run)


def test_run_now_is_refused_without_the_verb_or_outside_the_own_stations(grid_manager, station_staff, world):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    with pytest.raises(PermissionDenied):
        services.projection_request(user=grid_manager, station_id=world.station_a1.pk)
    with pytest.raises(Http404):
        services.projection_request(user=station_staff, station_id=world.station_a2.pk)
    with pytest.raises(ValueError):
        services.projection_request(user=station_staff, station_id=world.station_a1.pk, days=999)
    assert not ProjectionRun.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections at once: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_first_clicks_at_once_start_one_run(station_staff, world):
    barrier = threading.Barrier(2)
    results = []

    def click():
        try:
            barrier.wait(timeout=10)
            results.append(services.projection_request(user=station_staff, station_id=world.station_a1.pk))
        finally:
            connection.close()

    with mock.patch("loadforecast.services.projection_send") as send:
        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(r.started for r in results) == [False, True]
    assert send.call_count == 1 and ProjectionRun.objects.count() == 1
