"""Celery tasks of the projection: each takes ids and calls one function of
`loadforecast.services`, where the run's rules live (a station chunk, the finishing step,
the beat's watch, the nightly run). The services send these tasks by their names.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import outlook_services, services


@shared_task(name=services.PROJECT_STATION_TASK, acks_late=True, autoretry_for=services.TRANSIENT_DB_ERRORS,
             retry_backoff=True, retry_backoff_max=120, retry_jitter=True, max_retries=3)
def project_station(run_id: int, station_id: int, attempt: int | None = None) -> dict:
    """One station chunk of the run's `attempt` (a chunk of an earlier attempt does nothing)."""
    return services.projection_chunk(run_id=run_id, station_id=station_id, attempt=attempt)


@shared_task(name=services.FINISH_RUN_TASK, bind=True, acks_late=True, max_retries=None,
             autoretry_for=services.TRANSIENT_DB_ERRORS, retry_backoff=True)
def finish_run(self, run_id: int, attempt: int | None = None) -> str:
    """Close the run's `attempt`, or try again in a few seconds while stations still run;
    "stale" (nothing done) once the run has been started again."""
    status = services.projection_try_finish(run_id=run_id, attempt=attempt)
    if status is None:
        raise self.retry(countdown=5)
    return status


@shared_task(name="loadforecast.tasks.runs_watch", ignore_result=True)
def runs_watch() -> dict:
    """Every minute (beat): send the runs that wait for the queue, fail the silent ones."""
    return services.projection_watch()


@shared_task(name="loadforecast.tasks.nightly_projection")
def nightly_projection() -> int:
    """The 02:00 run of today (Asia/Shanghai) for all stations, and the season outlook while
    a window is in reach (docs/domain.md §6.7)."""
    run_id = services.projection_enqueue(run_date=timezone.localdate())
    outlook_services.outlook_enqueue(run_date=timezone.localdate())
    return run_id


@shared_task(name=outlook_services.OUTLOOK_STATION_TASK, acks_late=True,
             autoretry_for=services.TRANSIENT_DB_ERRORS, retry_backoff=True, max_retries=3)
def outlook_station(run_date: str, station_id: int) -> int:
    """One station's season outlook of a date (ISO); returns the outlook run's id."""
    return outlook_services.outlook_station(station_id=station_id, run_date=dt.date.fromisoformat(run_date)).pk
