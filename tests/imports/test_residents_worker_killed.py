"""A worker killed in the middle of writing an import: nothing is half-written, the job is
seen as interrupted, and it runs again to the end. A real Celery worker process, killed
with SIGKILL while its INSERT waits on a table lock held by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection, connections

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing import jobs
from zhoukou_grid.core.importing.engine import local_today
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.lunar_calendar import lunar_new_year, season_of
from zhoukou_grid.core.models import AuditLog, ImportJob

# The worker process writes the job's progress to the cache under the usual prefix.
pytestmark = pytest.mark.shared_cache

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition, seconds=60, what=""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
                    reason="a real worker process needs REDIS_URL and PostgreSQL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_writing_leaves_nothing_and_the_job_runs_again(taikang, settings):
    # The worker process reads dates relative to the real day, as in production.
    new_year = lunar_new_year(season_of(local_today()))
    rows = [["姓名", "联系电话", "村", "返乡日期"]] + [
        [f"人{i}", f"13{i:09d}", "朱口村", (new_year - timedelta(days=1 + i % 20)).isoformat()] for i in range(3000)]
    job = jobs.import_job_preview(user=taikang.manager, kind=get_kind("residents"), data=csv_bytes(rows),
                                  file_name="返乡.csv", skip_invalid=False)
    assert job.status == "previewed" and job.counts["new"] == 3000
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)

    db = connection.settings_dict
    env = {**os.environ, "ZG_TESTING": "1", "MEDIA_ROOT": str(settings.MEDIA_ROOT), "DB_CONN_MAX_AGE": "0",
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}"}
    queue = f"test-{uuid.uuid4().hex}"
    blocker = connections.create_connection("default")  # holds the table while the worker writes
    worker = None
    previous_eager = app.conf.task_always_eager
    try:
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {ReturningResident._meta.db_table} IN SHARE MODE")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "zhoukou_grid", "worker", "--pool", "solo", "-Q", queue,
             "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app.conf.task_always_eager = False
        run_import_job.apply_async(args=[str(job.pk)], queue=queue)

        def inserting() -> bool:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                               "AND query LIKE %s", [db["NAME"], f'INSERT INTO "{ReturningResident._meta.db_table}"%'])
                return cursor.fetchone()[0] > 0

        wait_until(inserting, what="the worker's INSERT")
        assert (cache.get(jobs.progress_key(job.pk)) or {}).get("phase") == "write"
        job.refresh_from_db()
        assert job.status == "running" and not jobs.job_is_interrupted(job)  # its worker holds the job
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        app.conf.task_always_eager = previous_eager
        if worker is not None and worker.poll() is None:
            worker.kill()
        blocker.rollback()
        blocker.close()
    # The killed worker's transaction is rolled back and its lock on the job released.
    wait_until(lambda: jobs.job_is_interrupted(ImportJob.objects.get(pk=job.pk)), what="the job to be interrupted")
    assert not ReturningResident.objects.exists()
    assert not AuditLog.objects.filter(action="import").exists()
    job.refresh_from_db()
    assert job.status == "running" and jobs.job_can_be_rerun(job)
    job = jobs.import_job_rerun(job, web=False)
    assert job.status == "done" and ReturningResident.objects.count() == 3000
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1
