"""Redis stops: pages and the API keep serving (cache misses), /healthz answers 503 naming
Redis, an upload or a "run now" says the queue is unavailable and loses nothing, and when
Redis is back the beat's watch sends the waiting work, which a real worker runs once.

Redis here is a redis-server of the test's own on a private port, killed and started again."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import ReturningResident
from loadforecast import services as load_services
from loadforecast import tasks as load_tasks
from loadforecast.models import AssetProjection, ProjectionRun
from tests.api.test_import_jobs_api import residents_csv
from tests.faults.conftest import redis_is_back, wait_until
from tests.imports.conftest import _english, _media_root  # noqa: F401 - autouse fixtures
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.celery import app
from zhoukou_grid.core import tasks as portal_tasks
from zhoukou_grid.core.importing.jobs import job_waits_for_queue
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.core.queue import QueueUnavailable, queue_send

QUEUE_MESSAGE = "The task queue is unavailable at the moment."


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_pages_and_the_api_keep_serving_and_healthz_names_redis(portal_on, county_admin, world, caplog):
    cache.set("probe", 1)
    assert cache.get("probe") == 1  # the portal really uses the private Redis
    portal_on.stop()
    client = Client()
    client.force_login(county_admin)
    with caplog.at_level(logging.WARNING):
        for url in (reverse("home"), reverse("portal:station_list"), reverse("portal:village_list")):
            response = client.get(url)
            assert response.status_code == 200, url
            assert "甲一所" in response.content.decode() or url == reverse("home")
        listed = api(county_admin).get("/api/v1/stations/")
        assert listed.status_code == 200 and listed.json()["count"] == 2
        # The token endpoint's throttle (DRF, in the cache) lets the request through; axes (in the
        # database) still counts the failure.
        token = APIClient().post("/api/v1/auth/token/", {"username": county_admin.username, "password": "wrong"})
        assert token.status_code == 400
        assert AccessAttempt.objects.filter(username=county_admin.username).get().failures_since_start == 1
        assert cache.get("probe") is None  # a miss, not an error
        assert cache.add("lock", 1) is False  # a lock taken with add is never wrongly granted
    outage_logs = [r for r in caplog.records if r.name == "zhoukou_grid.core.cache"]
    assert len(outage_logs) == 1 and "unavailable (ConnectionError)" in outage_logs[0].getMessage()
    assert county_admin.username not in caplog.text

    health = Client().get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["redis"].startswith("down") and health.json()["checks"]["database"] == "ok"

    redis_is_back(portal_on)
    assert Client().get("/healthz").status_code == 200
    cache.set("probe", 2)
    assert cache.get("probe") == 2


@pytest.mark.django_db
def test_the_breaker_answers_without_waiting_on_a_hung_redis(portal_on, monkeypatch):
    """A Redis that hangs (not refusing): one call waits for the socket timeout, the next ones
    do not even try until the breaker's time is up."""
    import redis

    cache.get("warm")  # a pooled connection
    attempts = []

    def hang(self, *args, **kwargs):
        attempts.append(args[0] if args else "")
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(redis.Redis, "execute_command", hang)
    assert cache.get("a", "miss") == "miss"
    assert [cache.get(f"k{i}", "miss") for i in range(20)] == ["miss"] * 20
    cache.set("x", 1)
    assert len(attempts) == 1  # the first call only reached Redis
    monkeypatch.undo()
    from zhoukou_grid.core import cache as resilient_cache

    resilient_cache.reset_breakers()  # as when RETRY_AFTER has passed
    cache.set("x", 3)
    assert cache.get("x") == 3


@pytest.mark.django_db
def test_queue_send_fails_fast_and_then_not_at_all_while_the_breaker_is_open(portal_on):
    from zhoukou_grid.core import queue

    portal_on.stop()
    with pytest.raises(QueueUnavailable):
        queue_send(portal_tasks.import_jobs_watch)
    assert queue.breaker.is_open
    with pytest.raises(QueueUnavailable, match="moments ago"):
        queue_send(portal_tasks.import_jobs_watch)


def _worker(queue_name="celery"):
    return start_worker(app, pool="solo", perform_ping_check=False, queues=[queue_name], shutdown_timeout=30)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("import_day")
def test_an_upload_waits_for_the_queue_and_runs_once_when_redis_is_back(portal_on, county_admin, world):
    village = world.grids["a1"].village.name
    portal_on.stop()
    client = Client()
    client.force_login(county_admin)
    # The web upload: saved and told.
    response = client.post(reverse("imports:new"), {
        "kind": "residents", "file": SimpleUploadedFile("返乡.csv", residents_csv(village, count=3))}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert QUEUE_MESSAGE in page and "Waiting for the task queue" in page
    web_job = ImportJob.objects.get(file_name="返乡.csv")
    assert job_waits_for_queue(web_job) and web_job.file.storage.exists(web_job.file.name)
    status = client.get(reverse("imports:status", args=[web_job.pk])).json()
    assert status["finished"] is False and status["phase"] == "queue_unavailable"

    # The API upload: checked in the request, its import could not be queued: 503 with the job.
    answer = api(county_admin).post("/api/v1/import-jobs/", {
        "kind": "residents", "file": SimpleUploadedFile("api.csv", residents_csv(village, count=2))},
        format="multipart")
    assert answer.status_code == 503 and answer["Retry-After"]
    body = answer.json()
    assert body["code"] == "queue_unavailable" and QUEUE_MESSAGE in body["detail"]
    api_job = ImportJob.objects.get(pk=body["job"]["id"])
    assert api_job.status == "queued" and job_waits_for_queue(api_job) and api_job.counts["new"] == 2
    # Asking again while Redis is still down: still 503, still kept.
    assert api(county_admin).post(f"/api/v1/import-jobs/{api_job.pk}/run/").status_code == 503
    assert portal_tasks.import_jobs_watch() == {"sent": 0, "failed": 0}
    assert not ReturningResident.objects.exists()

    redis_is_back(portal_on)
    assert portal_tasks.import_jobs_watch() == {"sent": 2, "failed": 0}
    assert portal_tasks.import_jobs_watch() == {"sent": 0, "failed": 0}  # sent once
    with _worker():
        wait_until(lambda: ImportJob.objects.get(pk=api_job.pk).status == "done", what="the API job's import")
        wait_until(lambda: ImportJob.objects.get(pk=web_job.pk).status == "previewed", what="the web job's check")
    assert ReturningResident.objects.count() == 2
    assert AuditLog.objects.filter(action="import", object_id=str(api_job.pk)).count() == 1
    web_job.refresh_from_db()
    assert web_job.counts["new"] == 3 and web_job.message == ""
    page = client.get(reverse("imports:preview", args=[web_job.pk])).content.decode()
    assert QUEUE_MESSAGE not in page


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_run_now_waits_for_the_queue_and_runs_when_redis_is_back(portal_on, station_staff, world):
    _tiny(world)
    station = world.station_a1
    portal_on.stop()
    client = Client()
    client.force_login(station_staff)
    page = client.post(reverse("loadforecast:load_runs"), {"station": station.pk}, follow=True)
    assert page.status_code == 200 and QUEUE_MESSAGE in page.content.decode()
    web_run = ProjectionRun.objects.get(station=station)
    assert web_run.status == "queued" and load_services.run_waits_for_queue(web_run)

    answer = api(station_staff).post("/api/v1/projection-runs/", {"station": station.code, "run_date": str(RUN_DATE),
                                                                  "days": DAYS}, format="json")
    assert answer.status_code == 503 and answer.json()["code"] == "queue_unavailable"
    api_run = ProjectionRun.objects.get(pk=answer.json()["run"]["id"])
    assert api_run.status == "queued" and load_services.run_waits_for_queue(api_run)
    assert not AssetProjection.objects.filter(run=api_run).exists()

    redis_is_back(portal_on)
    assert load_tasks.runs_watch() == {"sent": 2, "failed": 0}
    assert load_tasks.runs_watch() == {"sent": 0, "failed": 0}
    with _worker():
        wait_until(lambda: set(ProjectionRun.objects.values_list("status", flat=True)) == {"done"}, seconds=60,
                   what="both runs to complete")
    api_run.refresh_from_db()
    assert api_run.chunks_done == api_run.chunks_total == 1 and not api_run.error
    assert AssetProjection.objects.filter(run=api_run).exists()
