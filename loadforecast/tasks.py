"""Celery tasks of the projection: a task per station chunk, then one finishing step.

A plain group, not a chord (FIELD_NOTES: chords on Redis lose their body): each chunk
writes its own results and records itself on the run; the finishing task waits until
every chunk has recorded itself (retrying), then closes the run. All take ids and are
idempotent: a redelivered chunk replaces its own results.
"""

from __future__ import annotations

import datetime as dt

from celery import group, shared_task
from django.db import OperationalError
from django.utils import timezone

from zhoukou_grid.models import Station

from .services import projection_finish, projection_record_station, projection_start, projection_station


@shared_task(name="loadforecast.tasks.project_station", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3)
def project_station(run_id: int, station_id: int) -> dict:
    try:
        outcome = projection_station(run_id=run_id, station_id=station_id)
    except OperationalError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run; the other stations still run
        code = Station.objects.filter(pk=station_id).values_list("code", flat=True).first()
        outcome = {"station": code, "error": f"{type(exc).__name__}: {exc}"}
    projection_record_station(run_id=run_id, outcome=outcome)
    return {k: v for k, v in outcome.items() if k != "skipped"}


@shared_task(name="loadforecast.tasks.finish_run", bind=True, acks_late=True, max_retries=720)
def finish_run(self, run_id: int) -> str:
    from .models import ProjectionRun

    run = ProjectionRun.objects.get(pk=run_id)
    if run.chunks_done < run.chunks_total:
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
