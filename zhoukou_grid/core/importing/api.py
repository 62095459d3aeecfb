"""REST API of import jobs (``/api/v1/import-jobs/``): upload, preview, status, errors, run.

The API drives the same job machinery as the web UI (`importing.jobs`), never an import
of its own:

- which jobs a user sees is `jobs.jobs_visible_to` (their own; company admins all), so
  another user's job answers 404 exactly like a missing one;
- who may upload a kind is the kind's own permissions (`ImportKind.may_import`: add +
  change of its model), as on the web; only the owner confirms (runs) a job;
- an upload goes through the web's `UploadForm` (size limit, empty file) and the workbook
  limits (`reader.check_workbook_limits`: zip bomb, too many rows or columns), each
  answered 400 without a job, and is checked at once (`import_job_preview`); the file's
  content (not a spreadsheet, protected, corrupt, another kind) is judged by the reader while checking, and a job it refuses
  is answered with status ``rejected`` and its message;
- unless ``dry_run``, a job that can be confirmed is confirmed with `import_job_confirm`,
  like the web's confirm button: in-process without Redis, on a worker with Redis (or
  for files over 5,000 rows). Running a job twice imports it once.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from zhoukou_grid.core.api import (
    API_AUTHENTICATION_CLASSES,
    ApiPagination,
    Conflict,
    ErrorSerializer,
    ScopedAutoSchema,
    queue_unavailable_response,
)
from zhoukou_grid.core.importing.jobs import (
    FINISHED,
    import_job_confirm,
    import_job_preview,
    job_can_be_confirmed,
    job_progress,
    job_redispatch,
    job_waits_for_queue,
    jobs_visible_to,
)
from zhoukou_grid.core.importing.reader import WorkbookTooLarge, check_workbook_limits
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.importing.views import XLSX, UploadForm, error_workbook_response
from zhoukou_grid.core.models import ImportJob

COUNT_NAMES = ("new", "updated", "unchanged", "rejected")
# Errors answered with an upload; the rest are in the paginated `errors` action and the workbook.
UPLOAD_ERROR_LIMIT = 100
# Plain strings in the schema: an enum named "status" or "kind" would collide with other components.
STATUS_HELP = "previewed, queued, running, done, failed or rejected (see status_label)."


def job_was_confirmed(job: ImportJob) -> bool:
    """A checked job that was confirmed: queued or running its import, or done."""
    return "header_row" in (job.counts or {}) and job.status in (
        ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.DONE)


# --- Serializers ----------------------------------------------------------------
class ImportCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    unlinked = serializers.IntegerField(allow_null=True,
                                        help_text="Residents linked to no household (residents only; else null).")

    def to_representation(self, counts):
        counts = counts or {}
        return {**{name: int(counts.get(name) or 0) for name in COUNT_NAMES}, "unlinked": counts.get("unlinked")}


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="Row number as Excel shows it (null: the whole file).")
    column = serializers.CharField(allow_blank=True, help_text="The column header as written in the file.")
    value = serializers.CharField(allow_blank=True, help_text="The cell as written in the file.")
    message = serializers.CharField(help_text="What is wrong and how to fix it, in the user's language.")

    def to_representation(self, error):
        value = error.get("value")
        return {"row": error.get("row") or None, "column": error.get("column") or "",
                "value": "" if value is None else str(value), "message": error.get("message") or ""}


class ImportJobSerializer(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    counts = ImportCountsSerializer(read_only=True)
    header_row = serializers.SerializerMethodField(help_text="Row of the header in the file (null before the check).")
    ignored_columns = serializers.SerializerMethodField(help_text="Columns of the file that this kind ignores.")
    errors_total = serializers.SerializerMethodField(help_text="How many errors the check found.")
    can_run = serializers.SerializerMethodField(help_text="Whether the requesting user may confirm it now (`run`).")
    page_url = serializers.SerializerMethodField(help_text="Path of the job's page in the portal.")
    errors_xlsx_url = serializers.SerializerMethodField(help_text="Path of the error workbook (null without errors).")

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "kind_label", "file_name", "user", "status", "status_label", "skip_invalid",
                  "season", "progress", "counts", "header_row", "ignored_columns", "errors_total", "message", "created_at",
                  "finished_at", "can_run", "page_url", "errors_xlsx_url"]
        read_only_fields = fields

    def get_kind_label(self, job: ImportJob) -> str:
        try:
            return str(get_kind(job.kind).verbose_name)
        except LookupError:
            return job.kind

    def get_header_row(self, job: ImportJob) -> int | None:
        return (job.counts or {}).get("header_row")

    def get_ignored_columns(self, job: ImportJob) -> list[str]:
        return list((job.counts or {}).get("ignored_columns") or [])

    def get_errors_total(self, job: ImportJob) -> int:
        return int((job.counts or {}).get("errors_total") or 0)

    def get_can_run(self, job: ImportJob) -> bool:
        request = self.context.get("request")
        return bool(request and job.user_id == request.user.pk and job_can_be_confirmed(job))

    def get_page_url(self, job: ImportJob) -> str:
        return reverse("imports:preview", args=[job.pk])

    def get_errors_xlsx_url(self, job: ImportJob) -> str | None:
        if not self.get_errors_total(job) and job.status != ImportJob.Status.REJECTED:
            return None
        return reverse("api:importjob-errors-xlsx", args=[job.pk])


class ImportUploadResultSerializer(ImportJobSerializer):
    errors = serializers.SerializerMethodField(
        help_text=f"The first {UPLOAD_ERROR_LIMIT} errors; all of them are under `errors/`.")

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "errors"]
        read_only_fields = fields

    @extend_schema_field(ImportErrorSerializer(many=True))
    def get_errors(self, job: ImportJob) -> list[dict]:
        return ImportErrorSerializer((job.errors or [])[:UPLOAD_ERROR_LIMIT], many=True).data


class ImportUploadSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=32, help_text="Kind of data (docs/import-formats.md), e.g. residents.")
    file = serializers.FileField(allow_empty_file=True, help_text="The spreadsheet: XLSX, XLS or CSV.")
    dry_run = serializers.BooleanField(default=False, help_text="Check only: nothing is written.")
    skip_invalid = serializers.BooleanField(default=False, help_text="Import the valid rows and leave out the "
                                                                     "rejected ones.")
    season = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="Residents lists only: the season the list is about (the year of "
                                                "its Lunar New Year), the coming one (default) or the last one.")

    def validate_kind(self, name: str) -> str:
        try:
            return get_kind(name).name
        except LookupError as error:
            raise ValidationError(str(error)) from None


class ImportQueueUnavailableSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why: the task queue is unavailable; the job is saved and starts "
                                             "by itself once it is back.")
    code = serializers.CharField(help_text="queue_unavailable")
    job = ImportUploadResultSerializer(help_text="The saved job (status queued): poll its `status/`.")


QUEUE_UNAVAILABLE_ANSWER = OpenApiResponse(ImportQueueUnavailableSerializer,
                                           description="The task queue (Redis) is unavailable: the job is saved, "
                                                       "queued, and starts by itself once the queue is back.")


class ImportJobStatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text=STATUS_HELP)
    status_label = serializers.CharField()
    finished = serializers.BooleanField()
    phase = serializers.CharField(allow_blank=True)
    phase_label = serializers.CharField(allow_blank=True)
    percent = serializers.IntegerField(min_value=0, max_value=100)
    counts = ImportCountsSerializer()
    message = serializers.CharField(allow_blank=True)


# --- Viewset --------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="The import jobs the user may see (their own; company admins all)"),
    retrieve=extend_schema(summary="One import job: its counts and outcome"),
)
class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Import jobs. `POST` uploads a spreadsheet (multipart), checks it and, unless
    `dry_run`, imports it; `run` confirms a previewed job; `status`, `errors` and
    `errors.xlsx` read a job. Visible: the user's own jobs (company admins: all)."""

    queryset = ImportJob.objects.all()  # the model, for the schema; rows come from jobs_visible_to
    serializer_class = ImportJobSerializer
    authentication_classes = API_AUTHENTICATION_CLASSES
    # The verbs are the kind's own (checked per upload), as on the web: no ImportJob model permission.
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = ApiPagination
    schema = ScopedAutoSchema()
    filterset_fields = ["kind", "status"]
    ordering_fields = ["created_at", "finished_at", "kind", "status"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        jobs = jobs_visible_to(self.request.user)
        if self.action not in ("errors", "error_workbook"):
            jobs = jobs.defer("errors")  # up to 5,000 entries: read only where they are answered
        return jobs

    def _owned_job(self) -> ImportJob:
        job = self.get_object()
        if job.user_id != self.request.user.pk:
            raise PermissionDenied
        return job

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportUploadResultSerializer,
                   400: OpenApiResponse(description="The upload is refused: too large (bytes, or a workbook over "
                                                    "the row, column or cell limits), empty, or an unknown kind"),
                   503: QUEUE_UNAVAILABLE_ANSWER},
        summary="Upload a spreadsheet: check it (preview) and, unless dry_run, import it",
    )
    def create(self, request):
        payload = ImportUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        kind = get_kind(payload.validated_data["kind"])
        if not kind.may_import(request.user):
            raise PermissionDenied
        skip_invalid = payload.validated_data["skip_invalid"]
        # The web's form: the same size limit and messages.
        season = payload.validated_data.get("season")
        form = UploadForm(data={"kind": kind.name, "skip_invalid": skip_invalid,
                                "season": "" if season is None else str(season)},
                          files={"file": payload.validated_data["file"]}, kinds=[kind])
        if not form.is_valid():
            raise ValidationError({field: list(messages) for field, messages in form.errors.items()})
        upload = form.cleaned_data["file"]
        data = upload.read()
        try:  # over a size limit, like an oversize upload: 400 and no job
            check_workbook_limits(data)
        except WorkbookTooLarge as error:
            raise ValidationError({"file": [error.message]}) from None
        job = import_job_preview(user=request.user, kind=kind, data=data, file_name=upload.name,
                                 skip_invalid=skip_invalid, season=form.cleaned_data.get("season"))
        if not payload.validated_data["dry_run"] and job_can_be_confirmed(job):
            job = import_job_confirm(job)
        data = ImportUploadResultSerializer(job, context=self.get_serializer_context()).data
        if job_waits_for_queue(job):
            return queue_unavailable_response(job=data)
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ImportJobSerializer, 202: ImportJobSerializer, 503: QUEUE_UNAVAILABLE_ANSWER,
                   409: OpenApiResponse(ErrorSerializer, description="The job cannot be confirmed (rows rejected "
                                                                     "without skip_invalid, or not checked yet).")},
        summary="Confirm a previewed job (idempotent: a confirmed job is not imported again)",
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def run(self, request, pk=None):
        job = self._owned_job()
        try:
            kind = get_kind(job.kind)
        except LookupError:
            raise Http404 from None
        if not kind.may_import(request.user):
            raise PermissionDenied
        if job_can_be_confirmed(job):
            job = import_job_confirm(job)
        elif job_waits_for_queue(job):
            job_redispatch(job)  # the queue may be back
        elif not job_was_confirmed(job):
            raise Conflict(job.message if job.status in (ImportJob.Status.FAILED, ImportJob.Status.REJECTED)
                           and job.message else
                           _("This import cannot be confirmed: fix the rejected rows and upload the file again."))
        if job_waits_for_queue(job):
            return queue_unavailable_response(
                job=ImportUploadResultSerializer(job, context=self.get_serializer_context()).data)
        code = status.HTTP_200_OK if job.status in FINISHED else status.HTTP_202_ACCEPTED
        return Response(self.get_serializer(job).data, status=code)

    @extend_schema(responses=ImportJobStatusSerializer, summary="Progress, counts, status and message of a job")
    @action(detail=True, methods=["get"], url_path="status", filter_backends=[])
    def job_status(self, request, pk=None):
        job = self.get_object()
        return Response(ImportJobStatusSerializer({
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "finished": job.status in FINISHED,
            **job_progress(job),
            "counts": job.counts,
            "message": job.message,
        }).data)

    @extend_schema(responses=ImportErrorSerializer(many=True),
                   summary="The rejected rows' problems: row as Excel shows it, column as written, value, message")
    @action(detail=True, methods=["get"], filter_backends=[])
    def errors(self, request, pk=None):
        job = self.get_object()
        page = self.paginate_queryset(list(job.errors or []))
        return self.get_paginated_response(ImportErrorSerializer(page, many=True).data)

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY}, operation_id="import_jobs_errors_xlsx_retrieve",
                   summary="The error workbook: the rejected rows as in the file, with an error column")
    @action(detail=True, methods=["get"], url_path="errors.xlsx", url_name="errors-xlsx", filter_backends=[])
    def error_workbook(self, request, pk=None):
        # Named to sort before `errors`: the router adds format-suffix twins of each route
        # (errors.<format>/), which would otherwise catch errors.xlsx/ first.
        return error_workbook_response(request.user, self.get_object())
