"""Imports and exports as actions: one function each, writing its audit row (and, for
imports, its ImportJob) itself. Used by the commands, the web UI and the Celery task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.importing.engine import ImportContext, ImportResult, run_import
from zhoukou_grid.core.importing.spec import ImportKind
from zhoukou_grid.core.models import ImportJob


def import_file(
    *,
    kind: ImportKind,
    data: bytes,
    file_name: str,
    user=None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    job: ImportJob | None = None,
    on_progress: Callable[[str, int], None] | None = None,
    season: int | None = None,
) -> ImportResult:
    """Check and (unless dry_run) write a spreadsheet. A real write records an ImportJob
    (the given one, or a new one holding the file) and one audit row with counts only,
    inside the import's transaction. Raises SpreadsheetError for file-level problems.

    The job's primary key is known before anything is written (rows may refer to it: a
    resident records the job that imported it); a new job is saved with the rows."""
    if job is None and not dry_run:
        job = ImportJob(user=user, kind=kind.name, file_name=file_name[:255], skip_invalid=skip_invalid,
                        season=kind.job_season(season))
    ctx = ImportContext(user=user, job=job, on_progress=on_progress, season=season)

    def record(result: ImportResult) -> None:
        if job._state.adding and not job.file:
            job.file.save(file_name.rsplit("/", 1)[-1] or "upload", ContentFile(data), save=False)
        job_record(job, result, status=ImportJob.Status.DONE)
        audit_record(
            user=user, action="import", object_type=kind.model._meta.label_lower, object_id=job.pk,
            detail={"kind": kind.name, **result.counts, "skip_invalid": skip_invalid},
        )

    return run_import(kind, data, file_name=file_name, ctx=ctx, dry_run=dry_run, skip_invalid=skip_invalid,
                      on_write=record)


# Errors kept on a job for the preview; the error workbook of a job with more is rebuilt
# by checking the stored file again.
MAX_STORED_ERRORS = 5000


def job_record(job: ImportJob, result: ImportResult, *, status: str) -> None:
    """Store a result on a job (counts, errors, ignored columns) and save it."""
    job.counts = {**result.counts, "ignored_columns": result.ignored_columns, "header_row": result.header_row,
                  "errors_total": len(result.errors), "errors_truncated": len(result.errors) > MAX_STORED_ERRORS}
    job.errors = result.errors[:MAX_STORED_ERRORS]
    job.status = status
    job.progress = 100 if status in (ImportJob.Status.DONE, ImportJob.Status.PREVIEWED) else job.progress
    job.timings = {**(job.timings or {}), **result.timings, "seconds": result.seconds}
    if status in (ImportJob.Status.DONE, ImportJob.Status.REJECTED, ImportJob.Status.FAILED):
        job.finished_at = timezone.now()
    job.save()


def export_audit(*, user, kind: ImportKind, fmt: str, rows: int | None = None, filters: dict[str, Any] | None = None,
                 personal_data: bool = False):
    """One audit row per export; an export holding personal data (ID and phone numbers in
    full) says so and counts its rows."""
    detail: dict[str, Any] = {"kind": kind.name, "format": fmt}
    if rows is not None:
        detail["rows"] = rows
    if personal_data:
        detail["personal_data"] = True
    if filters:
        detail["filters"] = sorted(filters)
    return audit_record(user=user, action="export", object_type=kind.model._meta.label_lower, detail=detail)
