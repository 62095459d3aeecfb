"""PostgreSQL restarts: the first request after it is back succeeds (connection health
checks), a request while it is down gets the plain error page, and an import or a
projection caught by the restart fails cleanly, writes nothing, and runs again.

The database connection goes through a TCP proxy of the test's own (tests/faults/tcp_proxy.py),
cut and restored: the shared server is never touched. PostgreSQL only."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from customers.models import ReturningResident
from loadforecast import services as load_services
from loadforecast.models import AssetProjection, ProjectionRun
from tests.faults.tcp_proxy import TcpProxy
from tests.imports.conftest import _english, _media_root, csv_bytes  # noqa: F401 - autouse fixtures
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.core.importing import jobs
from zhoukou_grid.core.importing.engine import local_today
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.lunar_calendar import lunar_new_year, season_of
from zhoukou_grid.core.models import AuditLog, ImportJob

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only (DATABASE_URL is set in CI)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def proxy():
    """The default connection, through a proxy to the test database's server."""
    settings_dict = connection.settings_dict
    original = settings_dict["HOST"], settings_dict["PORT"]
    tcp = TcpProxy(original[0] or "127.0.0.1", int(original[1] or 5432))
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", tcp.port
    try:
        yield tcp
    finally:
        tcp.restore()
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = original
        tcp.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


class Wsgi:
    """Requests through Django's real WSGI handler (the test client switches off the
    request signals that close stale connections; production has them)."""

    def __init__(self, session_cookie: str):
        self.handler = WSGIHandler()
        self.cookie = session_cookie

    def get(self, path: str) -> tuple[int, str]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
                   "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_COOKIE": self.cookie,
                   "HTTP_ACCEPT_LANGUAGE": "en"}
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"] = int(status.split()[0])

        body = b"".join(self.handler(environ, start_response)).decode()
        return answer["status"], body


def test_the_next_request_after_a_restart_succeeds_and_a_request_while_down_gets_the_error_page(proxy, world,
                                                                                                 county_admin):
    assert connection.settings_dict["CONN_MAX_AGE"] > 0 and connection.settings_dict["CONN_HEALTH_CHECKS"]
    client = Client()
    client.force_login(county_admin)
    wsgi = Wsgi(f"sessionid={client.cookies['sessionid'].value}")
    url = reverse("portal:station_list")

    status, body = wsgi.get(url)
    assert status == 200 and "甲一所" in body
    first = backend_pid()
    assert wsgi.get(url)[0] == 200 and backend_pid() == first  # one persistent connection

    proxy.restart()  # PostgreSQL restarts between two requests: the idle connection is dead
    status, body = wsgi.get(url)
    assert status == 200 and "甲一所" in body  # the health check replaced it
    second = backend_pid()
    assert second != first
    assert wsgi.get(url)[0] == 200 and backend_pid() == second  # and the new one is kept

    proxy.cut()  # down
    status, body = wsgi.get(url)
    assert status == 500
    assert "Something went wrong on the server" in body
    for leak in ("Traceback", "OperationalError", "SELECT", "psycopg", connection.settings_dict["NAME"]):
        assert leak not in body
    assert wsgi.get("/healthz")[0] == 503

    proxy.restore()
    status, body = wsgi.get(url)
    assert status == 200 and "甲一所" in body
    assert wsgi.get("/healthz")[0] == 200


def _residents_csv(count: int) -> bytes:
    new_year = lunar_new_year(season_of(local_today()))
    rows = [["姓名", "联系电话", "村", "返乡日期"]] + [
        [f"人{i}", f"13{i:09d}", "朱口村", (new_year - timedelta(days=1 + i % 20)).isoformat()] for i in range(count)]
    return csv_bytes(rows)


def _queued_import(taikang, count=300) -> ImportJob:
    job = jobs.import_job_preview(user=taikang.manager, kind=get_kind("residents"), data=_residents_csv(count),
                                  file_name="返乡.csv", skip_invalid=False)
    assert job.status == "previewed" and job.counts["new"] == count
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    return job




def test_an_import_caught_by_a_restart_fails_cleanly_and_runs_again(proxy, taikang):
    job = _queued_import(taikang)
    kind = get_kind("residents")
    with pytest.MonkeyPatch.context() as patch:
        original = kind.write

        def write_then_restart(ctx, plan):
            original(ctx, plan)
            assert ReturningResident.objects.count() == 300  # written, in the open transaction
            proxy.restart()

        patch.setattr(kind, "write", write_then_restart)
        job = jobs.import_job_run(job.pk)
    assert job.status == "failed"
    assert "nothing was written" in job.message and "OperationalError" in job.message
    assert not ReturningResident.objects.exists()
    assert not AuditLog.objects.filter(action="import").exists()

    job = jobs.import_job_rerun(job, web=False)
    assert job.status == "done" and ReturningResident.objects.count() == 300
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1


def test_an_import_whose_database_stays_down_is_failed_by_the_watch_and_runs_again(proxy, taikang):
    job = _queued_import(taikang, count=50)
    kind = get_kind("residents")
    with pytest.MonkeyPatch.context() as patch:
        original = kind.write

        def write_then_cut(ctx, plan):
            original(ctx, plan)
            proxy.cut()

        patch.setattr(kind, "write", write_then_cut)
        with pytest.raises(OperationalError):  # not even the failure can be recorded
            jobs.import_job_run(job.pk)
    proxy.restore()
    job.refresh_from_db()
    assert job.status == "running"  # as a killed worker leaves it
    from zhoukou_grid.core.tasks import import_jobs_watch

    assert import_jobs_watch() == {"sent": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and "interrupted" in job.message and jobs.job_can_be_rerun(job)
    assert not ReturningResident.objects.exists()
    job = jobs.import_job_rerun(job, web=False)
    assert job.status == "done" and ReturningResident.objects.count() == 50


def results(station):
    return sorted(AssetProjection.objects.filter(grid__station=station).values_list(
        "transformer_id", "line_id", "date", "peak_kw", "peak_load_rate", "level"), key=str)


def test_a_projection_caught_by_a_restart_fails_cleanly_keeps_its_results_and_runs_again(proxy, world):
    g = _tiny(world)
    station = world.station_a1
    assert load_services.projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk).status == "done"
    before = results(station)
    assert before
    g.transformer.rated_kva = 250  # the next projection differs
    g.transformer.save()

    with pytest.MonkeyPatch.context() as patch:
        upsert = load_services.upsert_alerts

        def upsert_then_restart(*args, **kwargs):
            counts = upsert(*args, **kwargs)
            proxy.restart()  # the station's rows are written, not committed
            return counts

        patch.setattr(load_services, "upsert_alerts", upsert_then_restart)
        run = load_services.projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert run.status == "failed" and "OperationalError" in run.error and station.code in run.error
    assert results(station) == before  # the previous results, intact

    again = load_services.projection_run(run_date=RUN_DATE, days=DAYS, station_id=station.pk)
    assert again.pk == run.pk and again.status == "done" and not again.error
    after = results(station)
    assert len(after) == len(before) and after != before
    assert ProjectionRun.objects.count() == 1
