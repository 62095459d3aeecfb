"""Celery wrapper of the import job runner: takes the job id, calls one function.

`zhoukou_grid.core.importing.jobs.job_dispatch` enqueues it when the transaction commits
(`job_send`, through `core.queue.queue_send`) for the uploads of the web UI when Redis is configured and for files of more than 5,000 data
rows; the task checks a queued job (a dry run) or imports a confirmed one.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="zhoukou_grid.core.importing.tasks.run_import_job")
def run_import_job(job_id: str) -> str:
    """Run the next stage of an import job; returns its status. Idempotent: a job that is
    finished or held by a live runner is left as it is; one whose task was delivered more
    than IMPORT_MAX_DELIVERIES times (its worker died each time) is failed, not run."""
    from zhoukou_grid.core.importing.jobs import import_job_deliver

    return import_job_deliver(job_id).status
