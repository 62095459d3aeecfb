"""The import job runs on a real Celery worker (Redis), by job id, exactly once."""

from __future__ import annotations

import os
import uuid

import pytest
from celery.contrib.testing.worker import start_worker

from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing.jobs import import_job_preview
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.territory.models import Village


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_previewed_import_job(county_admin):
    data = xlsx_bytes([["网格编码", "村编码", "村名称"], ["JA-WG-01", "411601000001", "新一村"]])
    job = import_job_preview(user=county_admin, kind=get_kind("villages"), data=data, file_name="v.xlsx",
                             skip_invalid=False)
    assert job.status == "previewed"
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    queue = f"test-{uuid.uuid4().hex}"
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
            first = run_import_job.apply_async(args=[str(job.pk)], queue=queue)
            assert first.get(timeout=30) == "done"
            second = run_import_job.apply_async(args=[str(job.pk)], queue=queue)
            assert second.get(timeout=30) == "done"
    finally:
        app.conf.task_always_eager = previous_eager
    assert Village.objects.filter(code="411601000001").count() == 1
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1
