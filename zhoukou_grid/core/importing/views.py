"""Web UI of imports and exports: upload -> preview with per-row errors -> confirm.

Every view starts from the user's permissions and territory: the kinds offered are the
ones the user may import, jobs are visible to their owner and to company admins only
(anyone else gets a 404, as for a missing job), exports go through `for_user`.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods

from zhoukou_grid.core.importing import engine
from zhoukou_grid.core.importing.exporting import export_to_tempfile, iter_csv, template_bytes
from zhoukou_grid.core.importing.jobs import (
    FINISHED,
    import_job_confirm,
    import_job_rerun,
    import_job_submit,
    job_can_be_confirmed,
    job_can_be_rerun,
    job_error_workbook_download,
    job_progress,
    job_redispatch,
    job_valid_rows,
    job_waits_for_queue,
    jobs_visible_to,
)
from zhoukou_grid.core.importing.service import export_audit
from zhoukou_grid.core.importing.spec import ImportKind, all_kinds, get_kind, kinds_for
from zhoukou_grid.core.lunar_calendar import season_of
from zhoukou_grid.core.queue import QUEUE_UNAVAILABLE_MESSAGE
from zhoukou_grid.core.seasons import season_label
from zhoukou_grid.core.views import display_name

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREVIEW_ERROR_LIMIT = 500


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("Kind of data"))
    file = forms.FileField(label=_lazy("Spreadsheet (XLSX, XLS or CSV)"))
    skip_invalid = forms.BooleanField(label=_lazy("Import valid rows only"), required=False,
                                      help_text=_lazy("Rejected rows are left out and listed in an error workbook."))
    # `import_data residents --season YEAR` on the web: the coming season or the last one.
    season = forms.TypedChoiceField(
        label=_lazy("Season of the list"), coerce=int, required=False, empty_value=None,
        help_text=_lazy("Returning residents lists only: the Spring Festival the list is about. Last season's "
                        "lists give the season outlook its estimates."),
        error_messages={"invalid_choice": _lazy("Choose the coming season or last season for the list.")})

    def __init__(self, *args, kinds: list[ImportKind], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind.name, kind.verbose_name) for kind in kinds]
        coming = season_of(engine.local_today())
        self.fields["season"].choices = [(coming, season_label(coming, coming)),
                                         (coming - 1, season_label(coming - 1, coming))]
        self.fields["season"].initial = coming
        if not any(kind.job_season(None) is not None for kind in kinds):
            del self.fields["season"]

    def clean(self):
        cleaned = super().clean()
        try:
            seasonal = get_kind(cleaned.get("kind") or "").job_season(None) is not None
        except LookupError:
            seasonal = False
        if not seasonal:
            cleaned["season"] = None  # other kinds have no season: whatever was sent is ignored
        return cleaned

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is too large (%(size)s). The limit is %(limit)s: split it into smaller files.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)})
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty. Fill in the header row and at least one data row."))
        return upload


def job_rows_url(kind: ImportKind | None, job) -> str:
    """The list page filtered to the rows a finished import wrote or changed last ("" when the
    kind does not record its job on its rows). The list is the viewer's own, scoped like any."""
    if kind is None or job.status != job.Status.DONE or not kind.list_url_name:
        return ""
    query = kind.job_rows_query(job)
    return f"{reverse(kind.list_url_name)}?{urlencode(query)}" if query else ""


def _importable_kind(user, name: str) -> ImportKind:
    try:
        kind = get_kind(name)
    except LookupError:
        raise Http404 from None
    if not kind.may_import(user):
        raise PermissionDenied
    return kind


def _job_or_404(user, job_id):
    return get_object_or_404(jobs_visible_to(user), pk=job_id)


def history(request):
    jobs = jobs_visible_to(request.user).defer("errors")
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    kinds = {kind.name: kind for kind in all_kinds()}
    for job in page.object_list:
        kind = kinds.get(job.kind)
        job.kind_label = kind.verbose_name if kind is not None else job.kind
        job.user_name = display_name(job.user) if job.user_id else "—"
        job.season_label = season_label(job.season) if job.season else ""
        job.rows_url = job_rows_url(kind, job)
    return render(request, "imports/history.html", {
        "page_obj": page, "jobs": page.object_list, "can_import": bool(kinds_for(request.user)),
    })


@require_http_methods(["GET", "POST"])
def new(request):
    # The verb is the kind's own (add + change of its model): a grid manager imports
    # residents for their villages, a county admin the territory too.
    kinds = kinds_for(request.user)
    if not kinds:
        raise PermissionDenied
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, kinds=kinds)
        if form.is_valid():
            kind = _importable_kind(request.user, form.cleaned_data["kind"])
            upload = form.cleaned_data["file"]
            job = import_job_submit(user=request.user, kind=kind, data=upload.read(), file_name=upload.name,
                                    skip_invalid=form.cleaned_data["skip_invalid"],
                                    season=form.cleaned_data.get("season"))
            if job_waits_for_queue(job):
                messages.warning(request, QUEUE_UNAVAILABLE_MESSAGE)
            return redirect("imports:preview", job_id=job.pk)
    else:
        initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in {k.name for k in kinds} else {}
        form = UploadForm(kinds=kinds, initial=initial)
    return render(request, "imports/new.html", {
        "form": form, "kinds": kinds, "max_upload": settings.IMPORT_MAX_UPLOAD_BYTES,
    })


@require_http_methods(["GET", "POST"])
def preview(request, job_id):
    job = _job_or_404(request.user, job_id)
    if request.method == "POST":
        if job.user_id != request.user.pk:
            raise PermissionDenied
        _importable_kind(request.user, job.kind)
        if "rerun" in request.POST:  # a failed or interrupted job, run again
            if not job_can_be_rerun(job):
                messages.error(request, _("This import has not failed nor been interrupted, so it cannot be run "
                                          "again."))
            elif job_waits_for_queue(import_job_rerun(job)):
                messages.warning(request, QUEUE_UNAVAILABLE_MESSAGE)
            return redirect("imports:preview", job_id=job.pk)
        valid_rows_only = "valid_rows_only" in request.POST
        if not job_can_be_confirmed(job, valid_rows_only=valid_rows_only):
            messages.error(request, _("This import cannot be confirmed: fix the rejected rows and upload the file again."))
            return redirect("imports:preview", job_id=job.pk)
        job = import_job_confirm(job, valid_rows_only=valid_rows_only)
        if job_waits_for_queue(job):
            messages.warning(request, QUEUE_UNAVAILABLE_MESSAGE)
        elif job.status in (job.Status.QUEUED, job.Status.RUNNING):
            messages.info(request, _("The import runs in the background. You may leave this page and come back from "
                                     "the import history."))
        elif job.status == job.Status.DONE:
            messages.success(request, _("Import done: %(new)d new, %(updated)d updated, %(unchanged)d unchanged, "
                                        "%(rejected)d rejected.") % {k: job.counts.get(k, 0) for k in
                                                                     ("new", "updated", "unchanged", "rejected")})
        else:
            messages.error(request, job.message or _("Nothing was written."))
        return redirect("imports:preview", job_id=job.pk)
    if job_waits_for_queue(job):
        job_redispatch(job)  # the queue may be back (a breaker keeps this cheap while it is not)
    try:
        kind = get_kind(job.kind)
        kind_label, list_url_name = kind.verbose_name, kind.list_url_name
    except LookupError:
        kind, kind_label, list_url_name = None, job.kind, ""
    counts = job.counts or {}
    owner = job.user_id == request.user.pk
    valid_rows = job_valid_rows(job)
    can_rerun = job_can_be_rerun(job)
    return render(request, "imports/preview.html", {
        "job": job,
        "kind_label": kind_label,
        "running": job.status not in FINISHED and not can_rerun,
        "progress": job_progress(job),
        "can_rerun": can_rerun and job.user_id == request.user.pk,
        "counts": {k: counts.get(k, 0) for k in ("new", "updated", "unchanged", "rejected")},
        "unlinked": counts.get("unlinked"),
        "ignored_columns": counts.get("ignored_columns") or [],
        "errors": job.errors[:PREVIEW_ERROR_LIMIT],
        "more_errors": max(0, max(counts.get("errors_total") or 0, len(job.errors)) - min(len(job.errors),
                                                                                         PREVIEW_ERROR_LIMIT)),
        "can_confirm": job_can_be_confirmed(job) and owner,
        # A preview with rejected rows: import the valid ones from here, without uploading again.
        "can_import_valid_rows": (owner and not job_can_be_confirmed(job)
                                  and job_can_be_confirmed(job, valid_rows_only=True)),
        "valid_rows": valid_rows,
        "user_name": display_name(job.user) if job.user_id else "—",
        "list_url": reverse(list_url_name) if list_url_name and job.status == job.Status.DONE else "",
        "rows_url": job_rows_url(kind, job),
        "season_label": season_label(job.season) if job.season else "",
        "has_error_rows": any(e.get("row") for e in job.errors),
    })


def status(request, job_id):
    """The job's status and progress as JSON, polled by static/js/imports.js."""
    job = _job_or_404(request.user, job_id)
    if job_waits_for_queue(job):
        job_redispatch(job)
    counts = job.counts or {}
    return JsonResponse({
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "finished": job.status in FINISHED,
        **job_progress(job),
        "counts": {k: counts[k] for k in ("new", "updated", "unchanged", "rejected", "unlinked") if k in counts},
        "message": job.message,
    })


def errors(request, job_id):
    return error_workbook_response(request.user, _job_or_404(request.user, job_id))


def error_workbook_response(user, job) -> HttpResponse:
    """The audited download of a job's error workbook (web page and API); 404 without one."""
    download = job_error_workbook_download(user=user, job=job)
    if download is None:
        raise Http404
    file_name, content = download
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = _attachment(file_name)
    return response


def template(request, kind):
    kind_obj = _importable_kind(request.user, kind)
    response = HttpResponse(template_bytes(kind_obj, request.user), content_type=XLSX)
    response["Content-Disposition"] = _attachment(f"template_{kind_obj.name}.xlsx")
    return response


def export(request, kind):
    try:
        kind_obj = get_kind(kind)
    except LookupError:
        raise Http404 from None
    if not kind_obj.may_export(request.user):
        raise PermissionDenied
    fmt = request.GET.get("format", "xlsx")
    if fmt not in ("csv", "xlsx"):
        raise Http404
    queryset = kind_obj.export_queryset(request.user)
    filterset_class = kind_obj.filterset_class
    filters = {k: v for k, v in request.GET.items() if k not in ("format", "page", "sort") and v}
    if filterset_class and filters:
        filterset = filterset_class(request.GET, queryset=queryset, request=request)
        if filterset.is_valid():
            queryset = filterset.qs.order_by(*(queryset.query.order_by or kind_obj.unique_fields()))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"{kind_obj.name}_{stamp}.{fmt}"
    personal = kind_obj.export_has_personal_data(request.user)
    export_audit(user=request.user, kind=kind_obj, fmt=fmt, filters=filters, personal_data=personal,
                 rows=queryset.count() if personal else None)
    if fmt == "csv":
        response = StreamingHttpResponse(iter_csv(kind_obj, queryset), content_type="text/csv; charset=utf-8")
    else:
        handle, _count = export_to_tempfile(kind_obj, queryset, "xlsx")
        response = FileResponse(handle, content_type=XLSX)
    response["Content-Disposition"] = _attachment(name)
    return response


def _attachment(file_name: str) -> str:
    from urllib.parse import quote

    ascii_name = file_name.encode("ascii", "ignore").decode() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"


__all__ = ["errors", "export", "history", "new", "preview", "status", "template"]
