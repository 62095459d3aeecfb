"""The life cycle of an uploaded spreadsheet: preview (a dry run stored on an
ImportJob), then the confirmed import, run by job id so a worker can run it too."""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.models import ImportJob, Role
from zhoukou_grid.scoping import roles_of

from .engine import ImportContext, ImportResult, best_sheet, run_import
from .exporting import error_workbook_bytes
from .reader import SpreadsheetError
from .service import import_file, job_record
from .spec import ImportKind, get_kind

logger = logging.getLogger(__name__)


def jobs_visible_to(user):
    """Import jobs a user may see: their own; company admins see all."""
    jobs = ImportJob.objects.select_related("user")
    if user.is_superuser or Role.COMPANY_ADMIN in roles_of(user):
        return jobs
    return jobs.filter(user=user)


def import_job_preview(*, user, kind: ImportKind, data: bytes, file_name: str, skip_invalid: bool) -> ImportJob:
    """Store the upload on a new job and check it without writing any data."""
    job = ImportJob(user=user, kind=kind.name, file_name=file_name[:255], skip_invalid=skip_invalid)
    job.file.save(file_name.rsplit("/", 1)[-1][-100:] or "upload", ContentFile(data), save=False)
    try:
        result = import_file(kind=kind, data=data, file_name=file_name, user=user, dry_run=True,
                             skip_invalid=skip_invalid)
    except SpreadsheetError as error:
        _reject(job, error)
        return job
    job_record(job, result, status=ImportJob.Status.PREVIEWED)
    return job


def _reject(job: ImportJob, error: SpreadsheetError) -> None:
    job.status = ImportJob.Status.REJECTED
    job.message = error.message
    job.errors = [error.as_error()] if error.row or error.column else []
    job.finished_at = timezone.now()
    job.save()


def job_can_be_confirmed(job: ImportJob) -> bool:
    counts = job.counts or {}
    valid = counts.get("new", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)
    return job.status == ImportJob.Status.PREVIEWED and valid > 0 and (not counts.get("rejected") or job.skip_invalid)


def import_job_run(job_id) -> ImportJob:
    """Run a previewed (or queued) job for real. Idempotent: a job that another call
    has already claimed, finished or rejected is returned as it is."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportJob.Status.PREVIEWED, ImportJob.Status.QUEUED]
    ).update(status=ImportJob.Status.RUNNING, progress=0)
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    if not claimed:
        return job
    try:
        kind = get_kind(job.kind)
        if job.user is None or not kind.may_import(job.user):
            job.status, job.message = ImportJob.Status.FAILED, _("You may not import this kind of data.")
            job.finished_at = timezone.now()
            job.save()
            return job
        with job.file.open("rb") as handle:
            data = handle.read()
        result = import_file(kind=kind, data=data, file_name=job.file_name, user=job.user,
                             skip_invalid=job.skip_invalid, job=job)
    except SpreadsheetError as error:
        _reject(job, error)
        return job
    except Exception:
        logger.exception("import job %s failed", job_id)
        job.refresh_from_db()
        job.status = ImportJob.Status.FAILED
        job.message = _("The import failed on the server and nothing was written. Try again later or ask the "
                        "administrator.")
        job.finished_at = timezone.now()
        job.save()
        return job
    if not result.written:
        job_record(job, result, status=ImportJob.Status.REJECTED)
        job.message = _("Rows were rejected, so nothing was written. Fix them or import the valid rows only.")
        job.save(update_fields=["message"])
    job.refresh_from_db()
    return job


def job_error_workbook(job: ImportJob) -> bytes | None:
    """The rejected rows of a job's file with their messages, rebuilt from the stored file."""
    if not job.errors or not job.file:
        return None
    if (job.counts or {}).get("errors_truncated") and job.user is not None:
        with job.file.open("rb") as handle:
            data = handle.read()
        result = run_import(get_kind(job.kind), data, file_name=job.file_name, ctx=ImportContext(user=job.user),
                            dry_run=True)
        return error_workbook_bytes(result.header_cells, result.rejected_rows)
    messages: dict[int, list[str]] = {}
    for error in job.errors:
        if error.get("row"):
            messages.setdefault(int(error["row"]), []).append(
                f"{error['column']}: {error['message']}" if error.get("column") else error["message"])
    if not messages:
        return None
    with job.file.open("rb") as handle:
        rows, _header = best_sheet(get_kind(job.kind), handle.read(), job.file_name)
    header_row = int((job.counts or {}).get("header_row") or 1)
    header = rows[header_row - 1] if 0 < header_row <= len(rows) else []
    rejected = [(number, rows[number - 1] if number <= len(rows) else [], texts)
                for number, texts in sorted(messages.items()) if number != header_row]
    return error_workbook_bytes(header, rejected)


__all__ = ["ImportResult", "import_job_preview", "import_job_run", "job_can_be_confirmed", "job_error_workbook",
           "jobs_visible_to"]
