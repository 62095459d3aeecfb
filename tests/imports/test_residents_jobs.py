"""Large imports as jobs: checked and imported by id, on a worker when Redis is set (a real
one here when REDIS_URL is set) and in-process otherwise; progress the user can leave and
come back to; a failed or interrupted job shows its error, has written nothing and can be
run again."""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes
from tests.imports.residents_world import HOUCHANGYING_CSV
from tests.ui.test_csp_ready import assert_no_inline_code
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing import jobs
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.models import AuditLog, ImportJob

HEADER = ["姓名", "身份证号", "联系电话", "村", "返乡日期"]
GOOD_ID = "411627196503253526"


def upload(client, data, name="后常营村.csv", skip_invalid=True):
    form = {"kind": "residents", "file": SimpleUploadedFile(name, data)}
    if skip_invalid:
        form["skip_invalid"] = "on"
    response = client.post(reverse("imports:new"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportJob.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1]), response.url


def status(client, job):
    response = client.get(reverse("imports:status", args=[job.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


@pytest.fixture
def eager_off():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def background(settings, eager_off):
    """Redis configured and eager mode off, but no worker: jobs wait in the queue until the
    test runs the task itself (what a worker does). The tests capture the on-commit sends."""
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.django_db
def test_in_process_without_redis_the_upload_is_checked_and_confirmed_at_once(client, taikang, import_day, settings):
    settings.REDIS_URL = ""
    client.force_login(taikang.manager)
    job, url = upload(client, HOUCHANGYING_CSV.read_bytes())
    assert job.status == "previewed" and job.progress == 100 and job.counts["new"] == 11
    assert {"read", "parse", "resolve", "compare", "started_at"} <= set(job.timings)
    assert status(client, job) == {
        "status": "previewed", "status_label": "Previewed", "finished": True, "phase": "", "phase_label": "",
        "percent": 100, "counts": {"new": 11, "updated": 0, "unchanged": 0, "rejected": 1, "unlinked": 11},
        "message": ""}
    page = client.get(url).content.decode()
    assert "Import the valid rows" in page and "data-import-status" not in page
    client.post(url)
    job.refresh_from_db()
    assert job.status == "done" and ReturningResident.objects.count() == 11
    assert status(client, job)["finished"] is True


@pytest.mark.django_db
def test_with_redis_the_upload_waits_for_a_worker_behind_a_progress_bar(client, taikang, import_day, background,
                                                                      django_capture_on_commit_callbacks):
    client.force_login(taikang.manager)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job, url = upload(client, HOUCHANGYING_CSV.read_bytes())
    assert len(callbacks) == 1  # delay_on_commit: sent once the upload is committed
    assert job.status == "queued" and not ReturningResident.objects.exists()
    page = client.get(url).content.decode()
    assert f'data-import-status="{reverse("imports:status", args=[job.pk])}"' in page
    assert "<progress" in page and "js/imports.js" in page and "You may leave this page" in page
    assert_no_inline_code(page, url)
    assert status(client, job)["phase_label"] == "Waiting for a worker"
    history = client.get(reverse("imports:history")).content.decode()
    assert reverse("imports:preview", args=[job.pk]) in history and "Queued" in history
    # The worker checks the file ...
    assert run_import_job(str(job.pk)) == "previewed"
    assert status(client, job)["counts"]["new"] == 11
    # ... and, once confirmed, imports it.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        confirmed = client.post(url, follow=True)
    assert len(callbacks) == 1 and "runs in the background" in confirmed.content.decode()
    job.refresh_from_db()
    assert job.status == "queued" and "Importing" in client.get(url).content.decode()
    assert run_import_job(str(job.pk)) == "done"
    assert run_import_job(str(job.pk)) == "done"  # a task delivered twice changes nothing more
    assert ReturningResident.objects.count() == 11
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1


@pytest.mark.django_db
def test_progress_is_reported_phase_by_phase(taikang, import_day):
    rows = [HEADER] + [[f"人{i}", "", f"138{i:08d}", "朱口村", "2027-01-25"] for i in range(5001)]
    reported = []
    result = import_file(kind=get_kind("residents"), data=csv_bytes(rows), file_name="big.csv", user=taikang.manager,
                         on_progress=lambda phase, percent: reported.append((phase, percent)))
    assert result.counts["new"] == 5001
    phases = [phase for phase, _percent in reported]
    assert phases == ["read", "parse", "parse", "resolve", "compare", "write"]
    percents = [percent for _phase, percent in reported]
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 75


@pytest.mark.django_db
def test_files_over_5000_rows_and_web_uploads_with_redis_go_to_a_worker(settings):
    settings.REDIS_URL = ""
    assert not jobs.runs_in_background(web=True)
    assert not jobs.runs_in_background(web=False, data_rows=5000)
    assert jobs.runs_in_background(web=False, data_rows=5001)
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    assert jobs.runs_in_background(web=True)
    assert not jobs.runs_in_background(web=False, data_rows=10)


@pytest.mark.django_db
def test_outside_the_web_a_job_goes_to_the_worker_by_its_size(taikang, import_day, background,
                                                             django_capture_on_commit_callbacks):
    def previewed(count):
        rows = [HEADER] + [[f"人{i}", "", f"138{i:08d}", "朱口村", "2027-01-25"] for i in range(count)]
        job = jobs.import_job_preview(user=taikang.manager, kind=get_kind("residents"), data=csv_bytes(rows),
                                      file_name="big.csv", skip_invalid=False)
        assert job.status == "previewed" and jobs.job_data_rows(job) == count
        return job

    small, large = previewed(5000), previewed(5001)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        small = jobs.import_job_confirm(small, web=False)  # the command line or the API
    assert small.status == "done" and not callbacks
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        large = jobs.import_job_confirm(large, web=False)
    assert large.status == "queued" and len(callbacks) == 1
    assert run_import_job(str(large.pk)) == "done"
    assert ReturningResident.objects.count() == 5001  # the same 5,000 people, and one more


@pytest.mark.django_db
def test_a_job_that_fails_midway_has_written_nothing_shows_its_error_and_runs_again(
        client, taikang, import_day, settings, monkeypatch, caplog):
    settings.REDIS_URL = ""
    from customers import resources

    real_upsert = resources.upsert

    def upsert_then_crash(*args, **kwargs):
        real_upsert(*args, **kwargs)  # the rows are in the transaction ...
        raise RuntimeError(f"worker lost while writing {GOOD_ID}")  # ... which never commits

    client.force_login(taikang.manager)
    job, url = upload(client, csv_bytes([HEADER, ["卢红", GOOD_ID, "17948454719", "朱口村", "2027-02-01"]]))
    monkeypatch.setattr(resources, "upsert", upsert_then_crash)
    with caplog.at_level(logging.ERROR):
        client.post(url)
    job.refresh_from_db()
    assert job.status == "failed" and "(RuntimeError)" in job.message
    assert not ReturningResident.objects.exists() and not AuditLog.objects.filter(action="import").exists()
    # No personal data in the message or the log.
    assert GOOD_ID not in job.message and GOOD_ID not in caplog.text and "RuntimeError" in caplog.text
    page = client.get(url).content.decode()
    assert job.message in page and 'name="rerun"' in page
    monkeypatch.setattr(resources, "upsert", real_upsert)
    client.post(url, {"rerun": "1"})
    job.refresh_from_db()
    assert job.status == "done" and ReturningResident.objects.get().id_number == GOOD_ID
    # Only the owner may run it again, and only once it has failed.
    assert "cannot be run again" in client.post(url, {"rerun": "1"}, follow=True).content.decode()


@pytest.mark.django_db
def test_a_job_whose_runner_died_is_seen_as_interrupted_and_runs_again(client, taikang, import_day, settings):
    settings.REDIS_URL = ""
    client.force_login(taikang.manager)
    job, url = upload(client, HOUCHANGYING_CSV.read_bytes())
    # The worker took the job and was killed: the job stays "running", its transaction is gone.
    started = (timezone.now() - timedelta(hours=2)).isoformat()
    ImportJob.objects.filter(pk=job.pk).update(status="running", timings={"started_at": started}, progress=80)
    job.refresh_from_db()
    assert jobs.job_is_interrupted(job)
    page = client.get(url).content.decode()
    assert "was interrupted" in page and 'name="rerun"' in page and "data-import-status" not in page
    client.post(url, {"rerun": "1"})
    job.refresh_from_db()
    assert job.status == "done" and ReturningResident.objects.count() == 11


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the runner's lock is a PostgreSQL advisory lock")
@pytest.mark.django_db
def test_a_job_whose_runner_is_alive_is_not_taken_over(taikang, import_day):
    job = jobs.import_job_preview(user=taikang.manager, kind=get_kind("residents"),
                                  data=HOUCHANGYING_CSV.read_bytes(), file_name="a.csv", skip_invalid=True)
    ImportJob.objects.filter(pk=job.pk).update(status="running", timings={"started_at": timezone.now().isoformat()})
    job.refresh_from_db()
    from django.db import connections

    runner = connections.create_connection("default")  # another session: the live worker
    try:
        with runner.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [jobs._lock_key(job.pk)])
        assert not jobs.job_is_interrupted(job)
        assert jobs.import_job_run(job.pk).status == "running" and not ReturningResident.objects.exists()
    finally:
        runner.close()  # the worker dies: its lock goes with its connection (once its backend has ended)
    deadline = time.monotonic() + 20
    while not jobs.job_is_interrupted(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.job_is_interrupted(job)
    assert jobs.import_job_run(job.pk).status == "done"


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a real worker needs REDIS_URL (set in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_checks_and_imports_an_upload_from_the_web(client, taikang, import_day, settings, monkeypatch,
                                                                  eager_off):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    queue = f"test-{uuid.uuid4().hex}"  # a queue of our own: no stale message, no other worker
    monkeypatch.setattr(run_import_job, "queue", queue, raising=False)
    # Celery caches a task's send options (its queue among them) at the first real send: clear
    # the cache for this test and put the old one back after it, or a send of an earlier test
    # routes this one to "celery", and this one routes later tests' sends to a dead queue.
    monkeypatch.setattr(run_import_job, "_exec_options", None, raising=False)
    client.force_login(taikang.manager)

    def wait_for(job, wanted):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == wanted:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job stayed {job.status}, wanted {wanted}")

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue]):
        job, url = upload(client, HOUCHANGYING_CSV.read_bytes())
        assert wait_for(job, "previewed").counts["new"] == 11
        assert not ReturningResident.objects.exists()
        client.post(url)
        wait_for(job, "done")
    assert status(client, job)["finished"] is True and job.progress == 100
    assert ReturningResident.objects.count() == 11
    assert set(ReturningResident.objects.values_list("import_job_id", flat=True)) == {job.pk}
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1
