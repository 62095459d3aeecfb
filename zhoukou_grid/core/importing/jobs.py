"""The life cycle of an uploaded spreadsheet, as an ImportJob run by id (in-process or
on a Celery worker):

    queued ──check──> previewed ──confirm──> queued ──import──> done
                 └──> rejected (file unusable)            └──> rejected (rows rejected)
    any stage ──> failed (server error: nothing written; can be run again)

A queued job that was never checked (its counts have no header row yet) is checked (a
dry run); one that was checked is imported. Large files and, when Redis is configured,
every file from the web UI go to a worker (`runs_in_background`); the job records its
progress (ImportJob.progress, and the cache while the writing transaction is open), its
counts and its timings. The import writes in one transaction: a worker killed midway
leaves nothing half-written, and the job can be run again.

When the task queue (Redis) is down, a job for a worker stays queued, marked as waiting
for it (`job_waits_for_queue`), and its page says so; the beat's `import_jobs_watch`
(every minute) or the next look at the job sends it once the queue is back, behind a
claim so that it is sent once. The same watch marks failed the running jobs whose
runner is gone (`import_jobs_fail_interrupted`).
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.importing.engine import ImportContext, ImportResult, best_sheet, run_import
from zhoukou_grid.core.importing.exporting import error_workbook_bytes
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.service import import_file, job_record
from zhoukou_grid.core.importing.spec import ImportKind, get_kind
from zhoukou_grid.core.models import ImportJob
from zhoukou_grid.core.queue import (
    QUEUE_UNAVAILABLE_MESSAGE,
    QueueUnavailable,
    queue_is_eager,
    queue_send,
    queue_waiting_clear,
    queue_waiting_mark,
    queue_waiting_q,
    queue_waiting_since,
)
from zhoukou_grid.core.scoping import roles_of
from zhoukou_grid.territory.models import Role

logger = logging.getLogger(__name__)

# Files with more data rows than this run on a worker even outside the web UI.
BACKGROUND_ROWS = 5000
PHASE_LABELS = {
    "queued": _lazy("Waiting for a worker"),
    "queue_unavailable": _lazy("Waiting for the task queue, which is unavailable (the file is saved)"),
    "read": _lazy("Reading the file"),
    "parse": _lazy("Checking the rows"),
    "resolve": _lazy("Looking up villages, codes and households"),
    "compare": _lazy("Comparing with the records"),
    "write": _lazy("Writing"),
}
FINISHED = (ImportJob.Status.PREVIEWED, ImportJob.Status.DONE, ImportJob.Status.FAILED, ImportJob.Status.REJECTED)


def jobs_visible_to(user):
    """Import jobs a user may see: their own; company admins see all."""
    jobs = ImportJob.objects.select_related("user")
    if user.is_superuser or Role.COMPANY_ADMIN in roles_of(user):
        return jobs
    return jobs.filter(user=user)


def runs_in_background(*, web: bool, data_rows: int | None = None) -> bool:
    """Whether a job goes to a Celery worker: every file from the web UI when Redis is
    configured, and any file of more than BACKGROUND_ROWS data rows."""
    return bool(web and settings.REDIS_URL) or (data_rows is not None and data_rows > BACKGROUND_ROWS)


def job_data_rows(job: ImportJob) -> int | None:
    """Data rows of a checked job (None before the check)."""
    counts = job.counts or {}
    if "header_row" not in counts:
        return None
    return sum(int(counts.get(name) or 0) for name in ("new", "updated", "unchanged", "rejected"))


def job_was_checked(job: ImportJob) -> bool:
    return "header_row" in (job.counts or {})


def import_job_create(*, user, kind: ImportKind, data: bytes, file_name: str, skip_invalid: bool,
                      season: int | None = None) -> ImportJob:
    """Store an upload on a new queued job (nothing is checked yet). A kind that imports for a
    season (`ImportKind.job_season`: residents lists) fixes it now, the coming one by default,
    so that the check and the later import read the file alike."""
    job = ImportJob(user=user, kind=kind.name, file_name=file_name[:255], skip_invalid=skip_invalid,
                    status=ImportJob.Status.QUEUED, season=kind.job_season(season))
    job.file.save(file_name.rsplit("/", 1)[-1][-100:] or "upload", ContentFile(data), save=False)
    job.save()
    return job


def import_job_submit(*, user, kind: ImportKind, data: bytes, file_name: str, skip_invalid: bool,
                      web: bool = True, season: int | None = None) -> ImportJob:
    """Store an upload and have it checked: on a worker (see `runs_in_background`) or now."""
    job = import_job_create(user=user, kind=kind, data=data, file_name=file_name, skip_invalid=skip_invalid,
                            season=season)
    return job_dispatch(job, background=runs_in_background(web=web))


def import_job_preview(*, user, kind: ImportKind, data: bytes, file_name: str, skip_invalid: bool,
                       season: int | None = None) -> ImportJob:
    """Store the upload on a new job and check it now, without writing any data."""
    job = import_job_create(user=user, kind=kind, data=data, file_name=file_name, skip_invalid=skip_invalid,
                            season=season)
    return import_job_run(job.pk)


def import_job_confirm(job: ImportJob, *, web: bool = True, valid_rows_only: bool = False) -> ImportJob:
    """Queue the import of a previewed job: on a worker for large files (or any file from
    the web UI when Redis is configured), otherwise now. `valid_rows_only`: import the
    valid rows of a preview with rejected rows, without uploading the file again."""
    changes = {"skip_invalid": True} if valid_rows_only else {}
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEWED).update(
        status=ImportJob.Status.QUEUED, progress=0, attempts=0, **changes)
    job.refresh_from_db()
    if not claimed:
        return job
    return job_dispatch(job, background=runs_in_background(web=web, data_rows=job_data_rows(job)))


def import_job_rerun(job: ImportJob, *, web: bool = True) -> ImportJob:
    """Run a failed (or interrupted) job again from where it stood: check or import."""
    if not job_can_be_rerun(job):
        return job
    ImportJob.objects.filter(pk=job.pk, status=job.status).update(
        status=ImportJob.Status.QUEUED, progress=0, message="", finished_at=None, attempts=0)
    job.refresh_from_db()
    return job_dispatch(job, background=runs_in_background(web=web, data_rows=job_data_rows(job)))


def job_dispatch(job: ImportJob, *, background: bool) -> ImportJob:
    """Hand a queued job to a worker once the transaction commits, or run it now. When the
    queue is unavailable the job stays queued, marked as waiting for it (`job_waits_for_queue`)."""
    if background and not queue_is_eager():
        transaction.on_commit(lambda: job_send(job))
        return job
    # In-process (no Redis, or the test suite's eager mode): what the task would do, now.
    return import_job_run(job.pk)


# --- Waiting for the queue (Redis down) --------------------------------------------------


def job_waits_for_queue(job: ImportJob) -> bool:
    """A queued job whose message the queue could not take: it is sent again once it is back."""
    return job.status == ImportJob.Status.QUEUED and queue_waiting_since(job.timings) is not None


def job_send(job: ImportJob) -> bool:
    """Send a queued job's message to the workers. When the queue is unavailable, mark the job
    as waiting (its file and row are kept; `import_jobs_redispatch` sends it later) and tell
    its page why. Returns whether the message was sent."""
    from zhoukou_grid.core.importing.tasks import run_import_job

    try:
        queue_send(run_import_job, (str(job.pk),))
    except QueueUnavailable as error:
        logger.warning("import job %s waits for the task queue (%s)", job.pk, error)
        timings = queue_waiting_mark(job.timings)
        message = str(QUEUE_UNAVAILABLE_MESSAGE)
        if ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(timings=timings,
                                                                                      message=message):
            job.timings, job.message = timings, message
        return False
    return True


def job_claim_for_redispatch(job: ImportJob) -> bool:
    """Take a waiting job off the waiting list before sending it again: of two re-dispatchers
    (two beats, a page view and the beat) one only sends it."""
    since = queue_waiting_since(job.timings)
    if not since:
        return False
    timings = queue_waiting_clear(job.timings)
    claimed = ImportJob.objects.filter(queue_waiting_q(since), pk=job.pk, status=ImportJob.Status.QUEUED).update(
        timings=timings, message="")
    if claimed:
        job.timings, job.message = timings, ""
    return bool(claimed)


def job_redispatch(job: ImportJob) -> bool:
    """Send a job that waits for the queue, once (see `job_claim_for_redispatch`); False when
    it does not wait, another re-dispatcher took it, or the queue is still unavailable."""
    if not job_waits_for_queue(job) or not job_claim_for_redispatch(job):
        return False
    return job_send(job)


def import_jobs_redispatch(*, limit: int = 500) -> int:
    """Send the jobs that wait for the queue, oldest first; stops at the first refusal (the
    queue is still down). Returns how many were sent."""
    sent = 0
    waiting = ImportJob.objects.filter(queue_waiting_q(), status=ImportJob.Status.QUEUED)
    for job in waiting.order_by("created_at")[:limit]:
        if job_redispatch(job):
            sent += 1
        elif job_waits_for_queue(job):
            break
    return sent


def job_valid_rows(job: ImportJob) -> int:
    counts = job.counts or {}
    return counts.get("new", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)


def job_can_be_confirmed(job: ImportJob, *, valid_rows_only: bool = False) -> bool:
    counts = job.counts or {}
    return (job.status == ImportJob.Status.PREVIEWED and job_valid_rows(job) > 0
            and (not counts.get("rejected") or job.skip_invalid or valid_rows_only))


def job_can_be_rerun(job: ImportJob) -> bool:
    return bool(job.file) and (job.status == ImportJob.Status.FAILED or job_is_interrupted(job))


# --- Running a job -------------------------------------------------------------------------
def _lock_key(job_id) -> int:
    """A signed 64-bit advisory-lock key from the job's UUID."""
    return int(str(job_id).replace("-", "")[:16], 16) - (1 << 63)


@contextmanager
def runner_lock(job_id):
    """Held by whoever runs a job, for as long as it runs. On PostgreSQL a session-level
    advisory lock: it dies with the runner's connection, so a job whose worker was killed
    is seen as interrupted at once. Yields whether the lock was taken."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = _lock_key(job_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def job_is_interrupted(job: ImportJob) -> bool:
    """A running job whose runner is gone (worker killed, server restarted)."""
    if job.status != ImportJob.Status.RUNNING:
        return False
    if connection.vendor == "postgresql":
        with runner_lock(job.pk) as free:
            return free
    started = (job.timings or {}).get("started_at")
    if not started:
        return True
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    return timezone.now() - datetime.fromisoformat(started) > limit


# --- The watchdog (beat, every minute) -------------------------------------------------------
# Beyond the task's hard time limit Celery has killed the task; the margin covers the clock.
WATCHDOG_MARGIN_SECONDS = 60


def _past_time_limit(job: ImportJob) -> bool:
    started = (job.timings or {}).get("started_at")
    if not started:
        return True
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + WATCHDOG_MARGIN_SECONDS)
    return timezone.now() - datetime.fromisoformat(started) > limit


def import_jobs_fail_interrupted() -> int:
    """Mark FAILED the running jobs whose runner is gone: on PostgreSQL as soon as the runner's
    advisory lock is free (its worker was killed, its connection closed), elsewhere once the
    task time limit (plus a margin) has passed since the job started. Nothing was written (the
    import writes in one transaction); the failed job can be run again. Returns how many."""
    failed = 0
    for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING).only("pk", "timings"):
        with runner_lock(job.pk) as free:  # held while we mark it: no runner can claim it meanwhile
            if not free or (connection.vendor != "postgresql" and not _past_time_limit(job)):
                continue
            failed += ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                message=_("The import was interrupted (its worker stopped) and nothing was written. Run it again."))
    if failed:
        logger.warning("%d interrupted import job(s) marked failed", failed)
    return failed


def import_job_deliver(job_id) -> ImportJob:
    """What the Celery task does with each delivery of its message. The delivery is counted
    on the job first, in an UPDATE of its own that commits before anything can crash: a worker
    that dies mid-task (a native crash, an out-of-memory kill) has its message delivered again
    (acks_late with reject_on_worker_lost), and the broker keeps no count. Past
    IMPORT_MAX_DELIVERIES the job is not run again but marked failed, and the queue goes on."""
    ImportJob.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    limit = int(getattr(settings, "IMPORT_MAX_DELIVERIES", 2))
    unfinished = (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    if job.attempts <= limit or job.status not in unfinished:
        return import_job_run(job_id)
    with runner_lock(job_id) as free:  # a runner that still holds the job is alive: leave it
        if free and ImportJob.objects.filter(pk=job_id, status__in=unfinished).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(), progress=0,
                message=_("The import process stopped abnormally %(count)d times on this file (a damaged or "
                          "unusual file can crash it, or the server ran out of memory), so it was not run again "
                          "and nothing was written. Check the file, save it again from Excel or WPS and upload it "
                          "again; if it happens again, ask the administrator.") % {"count": job.attempts - 1}):
            logger.error("import job %s failed: its task was delivered %d times without finishing",
                         job_id, job.attempts)
    job.refresh_from_db()
    return job


def progress_key(job_id) -> str:
    return f"import-progress:{job_id}"


def _progress_reporter(job_id):
    """Record progress: in the cache always, on the job row when no transaction is open
    (inside the import's transaction an UPDATE would stay invisible until the end)."""
    last = {"percent": -1, "at": 0.0}

    def report(phase: str, percent: int) -> None:
        now = time.monotonic()
        if percent == last["percent"] or (now - last["at"] < 0.3 and percent - last["percent"] < 10):
            return
        last.update(percent=percent, at=now)
        cache.set(progress_key(job_id), {"phase": phase, "percent": percent}, timeout=6 * 3600)
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=job_id).update(progress=percent)

    return report


def job_progress(job: ImportJob) -> dict:
    """What the status endpoint says about a job's progress."""
    phase, percent = "", job.progress
    if job.status == ImportJob.Status.QUEUED:
        phase = "queue_unavailable" if job_waits_for_queue(job) else "queued"
    elif job.status == ImportJob.Status.RUNNING:
        cached = cache.get(progress_key(job.pk)) or {}
        phase = cached.get("phase", "read")
        percent = max(percent, int(cached.get("percent") or 0))
    elif job.status in FINISHED:
        percent = 100
    return {"phase": phase, "phase_label": str(PHASE_LABELS.get(phase, "")), "percent": min(percent, 100)}


def import_job_run(job_id) -> ImportJob:
    """Run a queued job's next stage (check or import), or the import of a previewed job.
    Idempotent: a job that another runner holds, or that is finished, is returned as it is.
    A job left running by a runner that died is claimed again."""
    with runner_lock(job_id) as held:
        if not held:
            return ImportJob.objects.select_related("user").get(pk=job_id)
        job = ImportJob.objects.select_related("user").get(pk=job_id)
        runnable = [ImportJob.Status.PREVIEWED, ImportJob.Status.QUEUED]
        if job.status == ImportJob.Status.RUNNING and job_is_interrupted(job):
            runnable.append(ImportJob.Status.RUNNING)
        # A message that reached a worker although its sender saw the queue fail: not waiting any more.
        timings = {**queue_waiting_clear(job.timings), "started_at": timezone.now().isoformat()}
        extra = {"message": ""} if job_waits_for_queue(job) else {}
        claimed = ImportJob.objects.filter(pk=job_id, status__in=runnable).update(
            status=ImportJob.Status.RUNNING, progress=0, timings=timings, **extra)
        job.refresh_from_db()
        if not claimed:
            return job
        cache.delete(progress_key(job_id))
        return _run_claimed(job)


def _run_claimed(job: ImportJob) -> ImportJob:
    checking = not job_was_checked(job)
    try:
        kind = get_kind(job.kind)
        if job.user is None or not kind.may_import(job.user):
            job.status, job.message = ImportJob.Status.FAILED, _("You may not import this kind of data.")
            job.finished_at = timezone.now()
            job.save()
            return job
        with job.file.open("rb") as handle:
            data = handle.read()
        result = import_file(kind=kind, data=data, file_name=job.file_name, user=job.user, dry_run=checking,
                             skip_invalid=job.skip_invalid, job=job, on_progress=_progress_reporter(job.pk),
                             season=job.season)
    except SpreadsheetError as error:
        _reject(job, error)
        return job
    except Exception as error:  # noqa: BLE001 - any server error fails the job, with nothing written
        # The exception's text may quote cell values (ID numbers): log the type and the frames only.
        logger.error("import job %s failed: %s\n%s", job.pk, type(error).__name__,
                     "".join(traceback.format_tb(error.__traceback__)))
        job.refresh_from_db()
        job.status = ImportJob.Status.FAILED
        job.message = _("The import failed on the server (%(error)s) and nothing was written. Run it again; if it "
                        "fails again, ask the administrator.") % {"error": type(error).__name__}
        job.finished_at = timezone.now()
        job.save()
        return job
    if checking:
        job_record(job, result, status=ImportJob.Status.PREVIEWED)
    elif not result.written:
        job_record(job, result, status=ImportJob.Status.REJECTED)
        job.message = _("Rows were rejected, so nothing was written. Fix them or import the valid rows only.")
        job.save(update_fields=["message"])
    job.refresh_from_db()
    return job


def _reject(job: ImportJob, error: SpreadsheetError) -> None:
    job.status = ImportJob.Status.REJECTED
    job.message = error.message
    job.errors = [error.as_error()] if error.row or error.column else []
    job.progress = 100
    job.finished_at = timezone.now()
    job.save()


def job_error_workbook(job: ImportJob) -> bytes | None:
    """The rejected rows of a job's file with their messages, rebuilt from the stored file."""
    if not job.errors or not job.file:
        return None
    if (job.counts or {}).get("errors_truncated") and job.user is not None:
        with job.file.open("rb") as handle:
            data = handle.read()
        result = run_import(get_kind(job.kind), data, file_name=job.file_name,
                            ctx=ImportContext(user=job.user, season=job.season), dry_run=True)
        return error_workbook_bytes(result.header_cells, result.rejected_rows)
    messages: dict[int, list[str]] = {}
    for error in job.errors:
        if error.get("row"):
            messages.setdefault(int(error["row"]), []).append(
                f"{error['column']}: {error['message']}" if error.get("column") else error["message"])
    if not messages:
        return None
    with job.file.open("rb") as handle:
        rows, header_match = best_sheet(get_kind(job.kind), handle.read(), job.file_name)
    header_row = int((job.counts or {}).get("header_row") or 1)
    header = rows[header_row - 1] if 0 < header_row <= len(rows) else []
    if header_match is not None and header_match.row_index == header_row - 1:
        from zhoukou_grid.core.importing.engine import header_cells

        header = header_cells(rows, header_match)
    rejected = [(number, rows[number - 1] if number <= len(rows) else [], texts)
                for number, texts in sorted(messages.items()) if number != header_row]
    return error_workbook_bytes(header, rejected)


def job_error_workbook_download(*, user, job: ImportJob) -> tuple[str, bytes] | None:
    """The error workbook of `job` as (file name, content) for `user` to download; None
    when the job has no rejected rows to show.

    The rejected rows are the file's own cells (the ID and phone numbers of a residents
    list too), so each download writes an audit row, like an export (docs/security.md).
    """
    content = job_error_workbook(job)
    if content is None:
        return None
    audit_record(user=user, action="import.errors_downloaded", object_type="importjob", object_id=job.pk,
                 detail={"kind": job.kind, "rejected": len(job.errors or [])})
    stem = job.file_name.rsplit(".", 1)[0] or job.kind
    return f"{stem}_errors.xlsx", content


__all__ = ["ImportResult", "import_job_confirm", "import_job_create", "import_job_deliver", "import_job_preview", "import_job_rerun",
           "import_job_run", "import_job_submit", "job_can_be_confirmed", "job_can_be_rerun", "job_error_workbook",
           "job_error_workbook_download",
           "import_jobs_fail_interrupted", "import_jobs_redispatch", "job_progress", "job_redispatch", "job_valid_rows", "job_waits_for_queue",
           "jobs_visible_to",
           "runs_in_background"]


ATTENTION_DAYS = 14
NEEDS_ATTENTION = (ImportJob.Status.PREVIEWED, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING,
                   ImportJob.Status.FAILED)


def jobs_needing_attention(user, *, limit: int = 20) -> list[ImportJob]:
    """The user's import jobs of the last two weeks still waiting (checked but not confirmed,
    queued, running) or failed, newest first: one query."""
    since = timezone.now() - timedelta(days=ATTENTION_DAYS)
    return list(jobs_visible_to(user).filter(status__in=NEEDS_ATTENTION, created_at__gte=since)[:limit])
