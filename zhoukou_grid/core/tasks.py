"""Periodic housekeeping of the portal's ground floor."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone


@shared_task(name="zhoukou_grid.core.tasks.purge_import_files")
def purge_import_files(days: int = 30) -> int:
    """Delete uploaded spreadsheets older than `days`; the job rows and counts stay."""
    from zhoukou_grid.core.models import ImportJob

    cutoff = timezone.now() - timedelta(days=days)
    purged = 0
    for job in ImportJob.objects.filter(created_at__lt=cutoff).exclude(file="").only("id", "file"):
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        purged += 1
    return purged


@shared_task(name="zhoukou_grid.core.tasks.import_jobs_watch", ignore_result=True)
def import_jobs_watch() -> dict:
    """Every minute (beat): send the import jobs that wait for the task queue (Redis was
    down when they were submitted) and fail the ones whose worker was killed."""
    from zhoukou_grid.core.importing.jobs import import_jobs_fail_interrupted, import_jobs_redispatch

    return {"sent": import_jobs_redispatch(), "failed": import_jobs_fail_interrupted()}


@shared_task(name="zhoukou_grid.core.tasks.purge_stale_sessions")
def purge_stale_sessions() -> int:
    """Delete expired sessions (Django never does by itself) and the login records of
    sessions past the absolute limit (they cannot be valid any more). Returns the number
    of login records deleted."""
    from importlib import import_module

    from django.conf import settings

    from zhoukou_grid.core.models import LoginSession

    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT)
    deleted, _ = LoginSession.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="zhoukou_grid.core.tasks.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: int) -> str:
    """One attempt at one webhook delivery; a failure schedules the next attempt itself
    (exponential backoff, zhoukou_grid/core/webhooks.py). Idempotent: a sent delivery is
    never sent again."""
    from zhoukou_grid.core.webhooks import webhook_deliver as deliver

    return deliver(delivery_id=delivery_id)


@shared_task(name="zhoukou_grid.core.tasks.webhooks_retry_due", ignore_result=True)
def webhooks_retry_due() -> int:
    """Every minute (beat): webhook deliveries due for a retry or never handed to a worker."""
    from zhoukou_grid.core.webhooks import webhooks_retry_due as retry_due

    return retry_due()
