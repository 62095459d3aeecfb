"""Celery wrapper of the import job runner: takes the job id, calls one function.

The web UI runs the confirmed import synchronously today; a later issue moves large
files to a worker with `run_import_job.delay_on_commit(str(job.pk))`.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="zhoukou_grid.import_tasks.run_import_job")
def run_import_job(job_id: str) -> str:
    """Run a previewed or queued import job; returns its final status. Idempotent."""
    from zhoukou_grid.importing.jobs import import_job_run

    return import_job_run(job_id).status
