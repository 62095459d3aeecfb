"""Celery tasks of the projection: a task per station chunk, then one finishing step.

A plain group, not a chord (docs/library-notes.md: chords on Redis lose their body): each chunk
writes its own results and records itself on the run; the finishing task waits until
every chunk has recorded itself (retrying), then closes the run. All take ids and are
idempotent: a redelivered chunk replaces its own results.

When the queue (Redis) is down a run is kept QUEUED, waiting for it (`run_send`); the
beat's `runs_watch` starts it once the queue is back, and closes the runs no station has
reported to within the time limit (their worker was killed with their finishing message).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import current_app, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from zhoukou_grid.core.queue import QueueUnavailable, queue_send
from zhoukou_grid.territory.models import Station

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
logger = logging.getLogger(__name__)


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
    """Start a run: the run row now, the station chunks and the finishing step on the workers.
    When the task queue is unavailable the run is left queued and waiting for it (`run_send`)."""
    run, stations = projection_start(run_date=run_date, days=days, station_id=station_id, user=user)
    run_send(run.pk, stations)
    return run.pk


# --- The task queue is down (issue 6, faults) ---------------------------------------------
# A plain loop of messages, not a group: each station chunk is its own task anyway, and the
# first message checks that the broker answers (zhoukou_grid.core.queue).
QUEUE_WAITING = "queue_waiting_since"


def run_waits_for_queue(run) -> bool:
    """A queued run whose messages the queue could not take: sent again once it is back."""
    from .models import ProjectionRun

    return run.status == ProjectionRun.Status.QUEUED and bool((run.timings or {}).get(QUEUE_WAITING))


def run_send(run_id: int, stations: list[int]) -> bool:
    """Send a started run's station chunks and its finishing step. When the queue is
    unavailable the run goes back to QUEUED, marked as waiting (its previous results stay:
    they are replaced only by a station that completes); `runs_watch` sends it again."""
    from .models import ProjectionRun

    try:
        for index, station_id in enumerate(stations):
            queue_send(project_station, (run_id, station_id), check=index == 0)
        queue_send(finish_run, (run_id,), countdown=1, check=not stations)
    except QueueUnavailable as error:
        logger.warning("projection run %s waits for the task queue (%s)", run_id, error)
        ProjectionRun.objects.filter(pk=run_id).update(
            status=ProjectionRun.Status.QUEUED, chunks_done=0, timings={QUEUE_WAITING: timezone.now().isoformat()})
        return False
    return True


def run_redispatch(run) -> bool:
    """Start a run that waits for the queue, once: the row is locked and must still be waiting
    (of two re-dispatchers one only sends it). False when it does not wait any more or the
    queue is still unavailable."""
    from .models import ProjectionRun

    with transaction.atomic():
        waiting = ProjectionRun.objects.select_for_update().filter(
            pk=run.pk, status=ProjectionRun.Status.QUEUED, timings__has_key=QUEUE_WAITING).first()
        if waiting is None:
            return False
        # projection_start takes the run off the waiting list (RUNNING, timings reset).
        started, stations = projection_start(run_date=waiting.run_date, days=waiting.days,
                                             station_id=waiting.station_id, user=waiting.created_by)
    return run_send(started.pk, stations)


def runs_redispatch(*, limit: int = 100) -> int:
    """Send the runs that wait for the queue, oldest first; stops at the first refusal."""
    from .models import ProjectionRun

    sent = 0
    waiting = ProjectionRun.objects.filter(status=ProjectionRun.Status.QUEUED, timings__has_key=QUEUE_WAITING)
    for run in waiting.order_by("created_at")[:limit]:
        if run_redispatch(run):
            sent += 1
        elif run_waits_for_queue(ProjectionRun.objects.get(pk=run.pk)):
            break
    return sent


def runs_fail_silent() -> int:
    """Close the running runs that no station has reported to for longer than the station
    time limit plus the grace (their worker was killed and their finishing message went down
    with it, to come back only after the broker's visibility timeout). Returns how many."""
    from .models import ProjectionRun

    grace = getattr(settings, "LOADFORECAST_FINISH_GRACE_SECONDS", FINISH_GRACE_SECONDS)
    limit = station_time_limit() + grace
    closed = 0
    for run in ProjectionRun.objects.filter(status=ProjectionRun.Status.RUNNING):
        last = projection_last_progress(run)
        if last is not None and (timezone.now() - last).total_seconds() > limit:
            if projection_fail_unreported(run_id=run.pk).status == ProjectionRun.Status.FAILED:
                closed += 1
    return closed


@shared_task(name="loadforecast.tasks.runs_watch", ignore_result=True)
def runs_watch() -> dict:
    """Every minute (beat): send the runs that wait for the queue, fail the silent ones."""
    return {"sent": runs_redispatch(), "failed": runs_fail_silent()}


@shared_task(name="loadforecast.tasks.nightly_projection")
def nightly_projection() -> int:
    """The 02:00 run of today (Asia/Shanghai) for all stations."""
    return enqueue_run(run_date=timezone.localdate())
