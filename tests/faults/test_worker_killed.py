"""A Celery worker killed in the middle of an import and of a projection: the beat's watch
marks the job or run failed within its time limit (an import at once on PostgreSQL, where
the runner's advisory lock dies with it), nothing is half-written, and a re-run completes.

The first two tests need no worker: a job or run left running by a runner that is gone. The
last two kill a real worker process (SIGKILL) while it writes (PostgreSQL and Redis, in CI)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from customers.models import ReturningResident
from loadforecast import services as load_services
from loadforecast import tasks as load_tasks
from loadforecast.models import AssetProjection, ProjectionRun
from loadforecast.services import projection_run, projection_start
from tests.faults.conftest import wait_until
from tests.imports.conftest import _english, _media_root, csv_bytes  # noqa: F401 - autouse fixtures
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing import jobs
from zhoukou_grid.core.importing.engine import local_today
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.lunar_calendar import lunar_new_year, season_of
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.core.tasks import import_jobs_watch

ROOT = Path(__file__).resolve().parents[2]
REAL_WORKER = pytest.mark.skipif(not os.environ.get("REDIS_URL") or connection.vendor != "postgresql",
                                 reason="a real worker process needs REDIS_URL and PostgreSQL (set in CI)")


def residents_csv(count: int) -> bytes:
    new_year = lunar_new_year(season_of(local_today()))
    rows = [["姓名", "联系电话", "村", "返乡日期"]] + [
        [f"人{i}", f"13{i:09d}", "朱口村", (new_year - timedelta(days=1 + i % 20)).isoformat()] for i in range(count)]
    return csv_bytes(rows)


def queued_import(taikang, count=40) -> ImportJob:
    job = jobs.import_job_preview(user=taikang.manager, kind=get_kind("residents"), data=residents_csv(count),
                                  file_name="返乡.csv", skip_invalid=False)
    assert job.status == "previewed" and job.counts["new"] == count
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    return job


def left_running(job: ImportJob, *, started: dt.datetime) -> None:
    """What a runner killed after its claim leaves behind (its transaction rolled back)."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING,
                                               timings={**job.timings, "started_at": started.isoformat()})


@pytest.mark.django_db(transaction=True)
def test_the_watch_fails_an_import_whose_runner_is_gone_and_only_then(taikang, settings):
    settings.CELERY_TASK_TIME_LIMIT = 30
    job = queued_import(taikang)
    left_running(job, started=timezone.now())
    if connection.vendor == "postgresql":
        # A live runner holds the job's advisory lock on its own connection.
        runner = connections.create_connection("default")
        with runner.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [jobs._lock_key(job.pk)])
        assert import_jobs_watch() == {"sent": 0, "failed": 0}
        runner.close()  # the worker is killed: its connection, and the lock, go with it
    else:
        assert import_jobs_watch() == {"sent": 0, "failed": 0}  # within its time limit
        left_running(job, started=timezone.now() - timedelta(seconds=30 + jobs.WATCHDOG_MARGIN_SECONDS + 1))
    assert import_jobs_watch() == {"sent": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert job.message == "The import was interrupted (its worker stopped) and nothing was written. Run it again."
    assert import_jobs_watch() == {"sent": 0, "failed": 0}
    assert not ReturningResident.objects.exists()

    job = jobs.import_job_rerun(job, web=False)
    assert job.status == "done" and ReturningResident.objects.count() == 40


def results(station):
    return sorted(AssetProjection.objects.filter(grid__station=station).values_list(
        "transformer_id", "line_id", "date", "peak_kw", "peak_load_rate", "level"), key=str)


@pytest.mark.django_db
def test_the_watch_fails_a_run_no_station_reported_to_within_the_time_limit(world, settings):
    settings.LOADFORECAST_FINISH_GRACE_SECONDS = 0
    _tiny(world)
    station = world.station_a1
    assert projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk).status == "done"
    before = results(station)
    run, _stations = projection_start(run_date=RUN_DATE, days=DAYS, station_id=station.pk)  # its worker dies
    assert load_tasks.runs_watch() == {"sent": 0, "failed": 0}  # within the time limit
    ProjectionRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - timedelta(seconds=load_services.station_time_limit() + 1))
    assert load_tasks.runs_watch() == {"sent": 0, "failed": 1}
    run.refresh_from_db()
    assert run.status == "failed" and station.code in run.error and results(station) == before
    assert projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk).status == "done"


def worker_env(**extra) -> dict:
    db = connection.settings_dict
    return {**os.environ, "ZG_TESTING": "1", "DB_CONN_MAX_AGE": "0", **extra,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
                            f"{db['PORT'] or 5432}/{db['NAME']}"}


def start_worker_process(queue: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "zhoukou_grid", "worker", "--pool", "solo", "-Q", queue,
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def waiting_on_lock(query_start: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                       "AND query LIKE %s", [connection.settings_dict["NAME"], query_start + "%"])
        return cursor.fetchone()[0] > 0


def stop(worker):
    if worker is not None and worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.celery_worker
@pytest.mark.shared_cache
@REAL_WORKER
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_the_watch_fails_the_job_and_a_rerun_completes(taikang, settings):
    job = queued_import(taikang, count=200)
    queue = f"test-{uuid.uuid4().hex}"
    table = ReturningResident._meta.db_table
    blocker = connections.create_connection("default")  # holds the table while the worker writes
    worker = None
    previous_eager = app.conf.task_always_eager
    try:
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        worker = start_worker_process(queue, worker_env(MEDIA_ROOT=str(settings.MEDIA_ROOT)))
        app.conf.task_always_eager = False
        run_import_job.apply_async(args=[str(job.pk)], queue=queue)
        wait_until(lambda: waiting_on_lock(f'INSERT INTO "{table}"'), seconds=60, what="the worker's INSERT")
        assert import_jobs_watch() == {"sent": 0, "failed": 0}  # its worker holds it
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        app.conf.task_always_eager = previous_eager
        stop(worker)
        blocker.rollback()
        blocker.close()
    # The next tick of the watch after the dead backend is gone.
    wait_until(lambda: import_jobs_watch()["failed"] == 1, seconds=30, what="the watch to fail the job", step=0.2)
    job.refresh_from_db()
    assert job.status == "failed" and "interrupted" in job.message
    assert not ReturningResident.objects.exists() and not AuditLog.objects.filter(action="import").exists()
    job = jobs.import_job_rerun(job, web=False)
    assert job.status == "done" and ReturningResident.objects.count() == 200


@pytest.mark.celery_worker
@REAL_WORKER
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_projection_the_watch_fails_the_run_and_a_rerun_completes(world, settings, monkeypatch):
    g = _tiny(world)
    station = world.station_a1
    assert projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk).status == "done"
    before = results(station)
    g.transformer.rated_kva = 250
    g.transformer.save()
    queue = f"test-{uuid.uuid4().hex}"
    env = worker_env(ZG_TEST_QUEUE=queue, DJANGO_SETTINGS_MODULE="tests.loadforecast.worker_settings")
    table = AssetProjection._meta.db_table
    # The watch judges with the workers' limits (tests/loadforecast/worker_settings.py: 4 s + 1 s).
    settings.LOADFORECAST_FINISH_GRACE_SECONDS = 1
    monkeypatch.setattr(load_services, "station_time_limit", lambda: 4.0)
    previous = app.conf.task_always_eager, app.conf.task_default_queue
    blocker = connections.create_connection("default")
    worker = None
    try:
        app.conf.task_always_eager, app.conf.task_default_queue = False, queue
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        worker = start_worker_process(queue, env)
        run_id = load_services.projection_enqueue(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
        wait_until(lambda: waiting_on_lock(f'DELETE FROM "{table}"'), seconds=60, what="the station's DELETE")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        blocker.rollback()
        # No finishing message will come (the killed worker had it): the watch closes the run.
        wait_until(lambda: load_tasks.runs_watch()["failed"] == 1, seconds=60, what="the watch to fail the run",
                   step=0.5)
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        stop(worker)
        blocker.rollback()
        blocker.close()
    run = ProjectionRun.objects.get(pk=run_id)
    assert run.status == "failed" and station.code in run.error and "never reported" in run.error
    assert results(station) == before
    again = projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert again.pk == run_id and again.status == "done"
    assert results(station) != before


def pool_children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a prefork worker's pool)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


@pytest.mark.django_db
def test_a_task_delivered_past_the_limit_fails_its_job_instead_of_running_again(taikang, settings):
    settings.IMPORT_MAX_DELIVERIES = 2
    job = queued_import(taikang)
    # Two deliveries whose worker died: the job was left running by a runner that is gone.
    ImportJob.objects.filter(pk=job.pk).update(attempts=2)
    left_running(job, started=timezone.now() - timedelta(hours=2))
    assert run_import_job(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.attempts == 3 and job.finished_at is not None
    assert job.message.startswith("The import process stopped abnormally 2 times on this file")
    assert not ReturningResident.objects.exists()
    # A re-run by the user is a new run: its deliveries count from zero.
    job = jobs.import_job_rerun(job, web=False)
    assert job.attempts == 0 and job.status == "done" and ReturningResident.objects.count() == 40
    # Within the limit the task runs the job; a finished job is left as it is whatever the count.
    second = jobs.import_job_create(user=taikang.manager, kind=get_kind("residents"), data=residents_csv(3),
                                    file_name="再一个.csv", skip_invalid=False)
    ImportJob.objects.filter(pk=second.pk).update(attempts=1)
    assert run_import_job(str(second.pk)) == "previewed"
    ImportJob.objects.filter(pk=job.pk).update(attempts=5)
    assert run_import_job(str(job.pk)) == "done" and ImportJob.objects.get(pk=job.pk).attempts == 6


@pytest.mark.celery_worker
@pytest.mark.shared_cache
@REAL_WORKER
@pytest.mark.django_db(transaction=True)
def test_a_task_whose_worker_keeps_dying_fails_after_the_limit_and_the_queue_goes_on(taikang, settings):
    """A prefork worker whose pool process is killed while it writes: the task is delivered
    again (acks_late, reject_on_worker_lost) to a new pool process; after IMPORT_MAX_DELIVERIES
    deliveries the job is failed, and the next job in the queue runs."""
    job = queued_import(taikang, count=200)
    following = jobs.import_job_create(user=taikang.manager, kind=get_kind("residents"), data=residents_csv(5),
                                       file_name="下一个.csv", skip_invalid=False)
    queue = f"test-{uuid.uuid4().hex}"
    table = ReturningResident._meta.db_table
    blocker = connections.create_connection("default")  # holds the table while the worker writes
    worker = None
    previous_eager = app.conf.task_always_eager
    kills = 0
    try:
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "zhoukou_grid", "worker", "--pool", "prefork", "--concurrency", "1",
             "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            cwd=ROOT, env=worker_env(MEDIA_ROOT=str(settings.MEDIA_ROOT), IMPORT_MAX_DELIVERIES="2"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app.conf.task_always_eager = False
        run_import_job.apply_async(args=[str(job.pk)], queue=queue)
        run_import_job.apply_async(args=[str(following.pk)], queue=queue)
        for delivery in (1, 2):
            wait_until(lambda: waiting_on_lock(f'INSERT INTO "{table}"'), seconds=90, what="the worker's INSERT")
            assert ImportJob.objects.get(pk=job.pk).attempts == delivery
            (child,) = pool_children(worker.pid)
            # A native crash happens while the process reads, its connection idle: PostgreSQL sees
            # it close at once. Here the process waits on a lock, where PostgreSQL would not notice
            # until the lock is freed: freeze it, end its backend, then kill it.
            os.kill(child, signal.SIGSTOP)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                               "AND wait_event_type = 'Lock' AND query LIKE %s",
                               [connection.settings_dict["NAME"], f'INSERT INTO "{table}"%'])
            wait_until(lambda: not waiting_on_lock(f'INSERT INTO "{table}"'), what="its backend to end")
            os.kill(child, signal.SIGKILL)  # what an abort in native code does to the pool process
            kills += 1
        # The third delivery fails the job without running it; the next job is checked.
        wait_until(lambda: ImportJob.objects.get(pk=job.pk).status == "failed", seconds=90,
                   what="the job to fail after two deliveries")
        wait_until(lambda: ImportJob.objects.get(pk=following.pk).status == "previewed", seconds=90,
                   what="the next job in the queue")
        assert worker.poll() is None  # the worker itself lives on
    finally:
        app.conf.task_always_eager = previous_eager
        stop(worker)
        blocker.rollback()
        blocker.close()
    job.refresh_from_db()
    assert kills == 2 and job.attempts == 3
    assert job.message.startswith("导入进程在处理此文件时异常终止了 2 次")  # the worker speaks the portal's language
    assert not ReturningResident.objects.exists()
    assert ImportJob.objects.get(pk=following.pk).counts["new"] == 5


def test_a_worker_process_registers_the_import_and_watch_tasks():
    code = ("import django; django.setup(); from zhoukou_grid.celery import app; "
            "app.loader.import_default_modules(); print(' '.join(sorted(app.tasks)))")
    process = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "ZG_TESTING": "1", "DJANGO_SETTINGS_MODULE": "zhoukou_grid.settings"})
    registered = process.stdout.split()
    for name in ("zhoukou_grid.core.importing.tasks.run_import_job", "zhoukou_grid.core.tasks.import_jobs_watch",
                 "zhoukou_grid.core.tasks.purge_import_files", "loadforecast.tasks.runs_watch"):
        assert name in registered, process.stderr[-2000:]


@pytest.mark.celery_worker
@REAL_WORKER
@pytest.mark.django_db(transaction=True)
def test_a_workbook_that_crashes_the_reader_is_rejected_once_and_the_pool_process_lives(taikang, settings):
    """The web import's path: a prefork worker checks the hostile workbook. With the extent check
    out of the way (limits raised), python-calamine aborts, in the reader's child only: the job is
    rejected with a message at its first delivery, and the same pool process checks the next file."""
    from tests.imports.office_files import sheet_workbook
    from tests.imports.residents_world import ZHUKOU_XLSX

    far = sheet_workbook('<sheetData><row r="200000"><c r="XFD200000"><v>1</v></c></row></sheetData>')
    hostile = jobs.import_job_create(user=taikang.manager, kind=get_kind("residents"), data=far,
                                     file_name="返乡.xlsx", skip_invalid=False)
    sample = jobs.import_job_create(user=taikang.manager, kind=get_kind("residents"), data=ZHUKOU_XLSX.read_bytes(),
                                    file_name=ZHUKOU_XLSX.name, skip_invalid=False)
    queue = f"test-{uuid.uuid4().hex}"
    env = worker_env(MEDIA_ROOT=str(settings.MEDIA_ROOT), IMPORT_MAX_ROWS="1000000000000",
                     IMPORT_MAX_COLUMNS="1000000000000", IMPORT_MAX_CELLS="1000000000000000",
                     IMPORT_READER_MEMORY_BYTES=str(1024 ** 3))
    worker = None
    previous_eager = app.conf.task_always_eager
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "zhoukou_grid", "worker", "--pool", "prefork", "--concurrency", "1",
             "-Q", queue, "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app.conf.task_always_eager = False
        run_import_job.apply_async(args=[str(hostile.pk)], queue=queue)
        wait_until(lambda: ImportJob.objects.get(pk=hostile.pk).status == "rejected", seconds=90,
                   what="the hostile workbook to be rejected")
        pool = pool_children(worker.pid)
        run_import_job.apply_async(args=[str(sample.pk)], queue=queue)
        wait_until(lambda: ImportJob.objects.get(pk=sample.pk).status == "previewed", seconds=90,
                   what="the sample to be checked")
        assert pool_children(worker.pid) == pool  # the same pool process: it never died
    finally:
        app.conf.task_always_eager = previous_eager
        stop(worker)
    hostile.refresh_from_db()
    assert hostile.attempts == 1 and "服务器" in hostile.message  # "…超出了服务器的允许范围…"
    assert ImportJob.objects.get(pk=sample.pk).counts["header_row"] == 2  # read and checked
