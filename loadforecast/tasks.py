"""Celery tasks of the projection: a task per station chunk, then one finishing step.

A plain group, not a chord (FIELD_NOTES: chords on Redis lose their body): each chunk
writes its own results and records itself on the run; the finishing task waits until
every chunk has recorded itself (retrying), then closes the run. All take ids and are
idempotent: a redelivered chunk replaces its own results.
"""

from __future__ import annotations

import datetime as dt

from celery import current_app, group, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from zhoukou_grid.models import Station

from .services import (
    projection_fail_unreported,
    projection_finish,
    projection_last_progress,
    projection_record_station,
    projection_start,
    projection_station,
)

# Transient database errors (a restarted server, a dropped connection, a deadlock) are
# retried with backoff, a bounded number of times; anything else is recorded on the run.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
# How long the finishing step waits past the station time limit before it calls a silent
# station lost (a worker killed mid-task; its message comes back only after the
# broker's visibility timeout, hours later).
FINISH_GRACE_SECONDS = 60


@shared_task(name="loadforecast.tasks.project_station", acks_late=True, autoretry_for=TRANSIENT_DB_ERRORS,
             retry_backoff=True, retry_backoff_max=120, retry_jitter=True, max_retries=3)
def project_station(run_id: int, station_id: int) -> dict:
    from .models import ProjectionRun

    if not ProjectionRun.objects.filter(pk=run_id, status=ProjectionRun.Status.RUNNING).exists():
        # A message redelivered after its run was closed (failed for want of it): the next
        # run projects the station; writing now would change a closed run's results.
        return {"station_id": station_id, "skipped": "run not running"}
    try:
        outcome = projection_station(run_id=run_id, station_id=station_id)
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the other stations still run
        code = Station.objects.filter(pk=station_id).values_list("code", flat=True).first()
        outcome = {"station": code, "error": f"{type(exc).__name__}: {exc}"}
    projection_record_station(run_id=run_id, outcome=outcome)
    return {k: v for k, v in outcome.items() if k != "skipped"}


def station_time_limit() -> float:
    """The station task's hard time limit (its own, else the app's), in seconds."""
    return float(project_station.time_limit or current_app.conf.task_time_limit or 3600)


@shared_task(name="loadforecast.tasks.finish_run", bind=True, acks_late=True, max_retries=None,
             autoretry_for=TRANSIENT_DB_ERRORS, retry_backoff=True)
def finish_run(self, run_id: int) -> str:
    """Close the run once every station has reported, or FAILED once no station has
    reported for longer than the station time limit (plus a grace): a station task still
    alive would have ended by then, so the missing ones are lost. Retrying ends there."""
    from .models import ProjectionRun

    run = ProjectionRun.objects.get(pk=run_id)
    if run.status != ProjectionRun.Status.RUNNING:
        return run.status  # already closed (a second finishing message)
    if run.chunks_done < run.chunks_total:
        grace = getattr(settings, "LOADFORECAST_FINISH_GRACE_SECONDS", FINISH_GRACE_SECONDS)
        last = projection_last_progress(run)
        if last is not None and (timezone.now() - last).total_seconds() > station_time_limit() + grace:
            return projection_fail_unreported(run_id=run_id).status
        raise self.retry(countdown=5)
    return projection_finish(run_id=run_id).status


def enqueue_run(*, run_date: dt.date, days: int | None = None, station_id: int | None = None, user=None) -> int:
    """Start a run: the run row now, the station chunks and the finishing step on the workers."""
    run, stations = projection_start(run_date=run_date, days=days, station_id=station_id, user=user)
    group(project_station.si(run.pk, s) for s in stations).apply_async()
    finish_run.apply_async((run.pk,), countdown=1)
    return run.pk


@shared_task(name="loadforecast.tasks.nightly_projection")
def nightly_projection() -> int:
    """The 02:00 run of today (Asia/Shanghai) for all stations."""
    return enqueue_run(run_date=timezone.localdate())
