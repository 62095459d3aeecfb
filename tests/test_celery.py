"""Celery wiring: the app reads the settings, the beat schedule names real tasks, and a
real worker (not eager mode) runs a task against the database."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from celery.schedules import crontab
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import override_settings
from django.utils import timezone

from zhoukou_grid.celery import app
from zhoukou_grid.core.models import ImportJob
from zhoukou_grid.core.tasks import purge_import_files


def test_the_app_reads_the_celery_settings():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.timezone == "Asia/Shanghai"
    assert conf.task_time_limit == 3600
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # Redelivery of an unacknowledged task must not come before the longest task ends.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.result_backend_transport_options["visibility_timeout"] > conf.task_time_limit


def test_the_beat_schedule_is_in_code_and_names_registered_tasks():
    app.loader.import_default_modules()  # autodiscovery of every app's tasks.py
    schedule = app.conf.beat_schedule
    assert "purge-expired-import-files" in schedule
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {name!r} names unregistered task {entry['task']!r}"
        assert isinstance(entry["schedule"], (crontab, timedelta, int, float)), name
    # In code, not in a database: Celery's own scheduler, or with Redis celery-redbeat, which
    # loads these entries and adds the lock that keeps a second beat from sending (deploy).
    expected = "zhoukou_grid.beat:PortalBeatScheduler" if settings.REDIS_URL else "celery.beat:PersistentScheduler"
    assert app.conf.beat_scheduler.replace("celery.beat.", "celery.beat:") == expected


def _old_job_with_a_file(days_old: int) -> ImportJob:
    job = ImportJob.objects.create(kind="villages", file_name="村名单.xlsx")
    job.file.save("villages.xlsx", ContentFile(b"PK\x03\x04 not really a workbook"), save=True)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return job


@pytest.mark.django_db
def test_purge_removes_old_files_once_and_keeps_the_jobs(tmp_path):
    with override_settings(MEDIA_ROOT=tmp_path):
        old = _old_job_with_a_file(40)
        recent = _old_job_with_a_file(2)
        old_path = old.file.path
        assert purge_import_files() == 1
        # Idempotent: running it again changes nothing more.
        assert purge_import_files() == 0
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.file.name == "" and not os.path.exists(old_path)
    assert recent.file.name != ""
    assert ImportJob.objects.count() == 2


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_purge_task(tmp_path):
    # A queue of our own: a stale message of another run cannot reach this worker.
    queue = f"test-{uuid.uuid4().hex}"
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with override_settings(MEDIA_ROOT=tmp_path):
            job = _old_job_with_a_file(40)
            with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
                result = purge_import_files.apply_async(queue=queue)
                assert not isinstance(result, EagerResult)
                assert result.get(timeout=30) == 1
            assert result.successful()
    finally:
        app.conf.task_always_eager = previous_eager
    job.refresh_from_db()
    assert job.file.name == ""
