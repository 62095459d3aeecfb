"""API of visit logs (``/api/v1/visit-logs/``): list, detail, and one POST for a whole visit.

The POST takes JSON; photos travel inside it as base64 (a phone app that lost its
connection simply sends the same body again). It records the log with its checklist,
hazards, issues, service cards, confirmed arrivals and photos through
`services.visit_log_submit`; the client's `client_key` makes it idempotent: the same key
again answers 200 with the first log and writes nothing.
"""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from zhoukou_grid.core.api import MAX_ID, ScopedModelViewSet, api_validation_error

from . import services
from .forms_field import GUIDANCE_CHOICES
from .models import ChecklistItem, ChecklistResult, CustomerIssue, Hazard, Photo, VisitLog
from .photos import photo_prepare, photos_attach
from .views_media import photo_url

MAX_PHOTOS = 10
MAX_CARDS = 10_000  # service cards of one visit: more is a typing error (and overflowed the column)


class ChecklistResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChecklistResult
        fields = ["item", "result", "note"]


class LogHazardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hazard
        fields = ["id", "severity", "description", "deadline", "status"]


class LogIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerIssue
        fields = ["id", "category", "description", "status", "due_at"]


class LogPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The image, for a user who may see the photo.")
    thumbnail_url = serializers.SerializerMethodField(help_text="A small JPEG of the image.")

    class Meta:
        model = Photo
        # A photo with a hazard shows it before rectification.
        fields = ["id", "hazard", "content_type", "size_bytes", "url", "thumbnail_url"]

    def get_url(self, photo) -> str:
        return photo_url(photo.pk)

    def get_thumbnail_url(self, photo) -> str:
        return photo_url(photo.pk, thumb=True)


class VisitLogSerializer(serializers.ModelSerializer):
    """A visit log as recorded, with what was recorded with it."""

    checklist = ChecklistResultSerializer(many=True, read_only=True)
    hazards = LogHazardSerializer(many=True, read_only=True)
    issues = LogIssueSerializer(many=True, read_only=True)
    photos = LogPhotoSerializer(many=True, read_only=True)
    cards_handed_out = serializers.SerializerMethodField()
    cards_posted = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField(help_text="Path of the log's page in the portal.")

    class Meta:
        model = VisitLog
        fields = ["id", "visit", "client_key", "submitted_at", "submitted_by", "met_person", "needs", "concerns",
                  "recommendations", *VisitLog.GUIDANCE_FIELDS, "residents_confirmed", "checklist", "hazards",
                  "issues", "photos", "cards_handed_out", "cards_posted", "page_url"]
        read_only_fields = fields

    def _cards(self, log):
        return getattr(log.visit, "cards", None)

    def get_cards_handed_out(self, log) -> int:
        cards = self._cards(log)
        return cards.handed_out if cards else 0

    def get_cards_posted(self, log) -> int:
        cards = self._cards(log)
        return cards.posted if cards else 0

    def get_page_url(self, log) -> str:
        return reverse("visits:field_log_detail", args=[log.pk])


class VisitLogSubmitResultSerializer(VisitLogSerializer):
    """The answer to a submitted log: the log, and what went wrong storing its photos."""

    photo_warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="One message per photo that could not be stored (the server's storage full or not writable): "
                  "the log is saved without it. Empty when all were stored.")

    class Meta(VisitLogSerializer.Meta):
        fields = [*VisitLogSerializer.Meta.fields, "photo_warnings"]
        read_only_fields = fields


class SubmitChecklistSerializer(serializers.Serializer):
    item = serializers.ChoiceField(choices=ChecklistItem.choices)
    result = serializers.ChoiceField(choices=ChecklistResult.Result.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SubmitHazardSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Hazard.Severity.choices)
    deadline = serializers.DateField(help_text="Rectify by; not in the past.")
    description = serializers.CharField()


class SubmitIssueSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=CustomerIssue.Category.choices)
    description = serializers.CharField()


class SubmitPhotoSerializer(serializers.Serializer):
    data = serializers.CharField(help_text="The image file (JPEG, PNG or WebP, at most 8 MB), base64-encoded.")
    hazard = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0,
        help_text="Index in `hazards` of the hazard the photo shows; empty for a photo of the visit.",
    )


class VisitLogSubmitSerializer(serializers.Serializer):
    """A whole visit in one request. Repeat the same `client_key` to retry safely."""

    visit = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Id of the planned visit (in the user's grid).")
    client_key = serializers.CharField(max_length=64, help_text="Chosen by the client once per visit log.")
    met_person = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    needs = serializers.CharField(required=False, allow_blank=True, default="")
    concerns = serializers.CharField(required=False, allow_blank=True, default="")
    recommendations = serializers.CharField(required=False, allow_blank=True, default="")
    guidance = serializers.ListField(child=serializers.ChoiceField(choices=GUIDANCE_CHOICES), required=False,
                                     default=list)
    checklist = SubmitChecklistSerializer(many=True, required=False, default=list)
    hazards = SubmitHazardSerializer(many=True, required=False, default=list)
    issues = SubmitIssueSerializer(many=True, required=False, default=list)
    cards_handed_out = serializers.IntegerField(min_value=0, max_value=MAX_CARDS, required=False, default=0)
    cards_posted = serializers.IntegerField(min_value=0, max_value=MAX_CARDS, required=False, default=0)
    residents_confirmed = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, default=list,
                                                help_text="Ids of returning residents confirmed as arrived.")
    photos = SubmitPhotoSerializer(many=True, required=False, default=list)

    def validate_photos(self, photos):
        if len(photos) > MAX_PHOTOS:
            raise ValidationError(f"At most {MAX_PHOTOS} photos.")
        prepared = []
        for photo in photos:
            try:
                data = base64.b64decode(photo["data"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError("A photo is not valid base64.") from None
            try:
                prepared.append(photo_prepare(data, hazard_index=photo["hazard"]))
            except DjangoValidationError as error:
                raise ValidationError(error.messages) from None
        return prepared

    def validate(self, attrs):
        for photo in attrs["photos"]:
            if photo.hazard_index is not None and photo.hazard_index >= len(attrs["hazards"]):
                raise ValidationError({"photos": "A photo names a hazard that is not in `hazards`."})
        return attrs


@extend_schema_view(
    create=extend_schema(
        request=VisitLogSubmitSerializer,
        responses={
            201: OpenApiResponse(VisitLogSubmitResultSerializer, description="The log was recorded (see "
                                                                             "photo_warnings)."),
            200: OpenApiResponse(VisitLogSubmitResultSerializer, description="The key was used before: the first "
                                                                             "log, nothing new written."),
            413: OpenApiResponse(description="The request is larger than API_VISIT_LOG_MAX_BYTES (20 MB unless "
                                             "set): send fewer or smaller photos."),
        },
        description=__doc__,
    ),
)
class VisitLogViewSet(ScopedModelViewSet):
    """Visit logs of the user's territory; POST records a whole visit."""

    queryset = VisitLog.objects.select_related("visit__cards").prefetch_related(
        "checklist", "hazards", "issues", "photos", "residents_confirmed"
    )
    serializer_class = VisitLogSerializer
    http_method_names = ["get", "post", "head", "options"]
    audit_object_type = "visitlog"
    body_object_actions = ("create",)  # a visit outside the territory answers 404 like a missing one

    def create(self, request, *args, **kwargs):
        too_large = _read_body_up_to(request, settings.API_VISIT_LOG_MAX_BYTES)
        if too_large is not None:
            return too_large
        submit = VisitLogSubmitSerializer(data=request.data)
        submit.is_valid(raise_exception=True)
        data = submit.validated_data
        existed = VisitLog.objects.filter(client_key=data["client_key"].strip(), visit_id=data["visit"]).exists()
        try:
            log = services.visit_log_submit(
                user=request.user, visit_id=data["visit"], client_key=data["client_key"],
                met_person=data["met_person"], needs=data["needs"], concerns=data["concerns"],
                recommendations=data["recommendations"], guidance=data["guidance"], checklist=data["checklist"],
                hazards=data["hazards"], issues=data["issues"], cards_handed_out=data["cards_handed_out"],
                cards_posted=data["cards_posted"], resident_ids=data["residents_confirmed"],
            )
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        warnings = [] if existed else photos_attach(user=request.user, log=log, photos=data["photos"])
        body = VisitLogSerializer(self.get_queryset().get(pk=log.pk), context=self.get_serializer_context()).data
        body["photo_warnings"] = [str(warning) for warning in warnings]
        headers = {"X-Photo-Warnings": str(len(warnings))} if warnings else {}
        return Response(body, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED, headers=headers)


def _read_body_up_to(request, limit: int) -> Response | None:
    """Read a visit log's JSON body under its own limit instead of DATA_UPLOAD_MAX_MEMORY_SIZE.

    Photos travel base64 inside the JSON, so a log with a few phone photos is well above
    Django's 5 MB limit for form data, which DRF applies to every JSON body (it reads
    `request.body`). Here the body is read once, up to `limit` (nginx's
    client_max_body_size caps it as well); a larger one answers 413 without being read."""
    raw = request._request
    try:
        length = int(raw.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return Response({"detail": _("The request is too large (at most %(mb)d MB): send fewer or smaller photos.")
                         % {"mb": limit // (1024 * 1024)}}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if length and not raw._read_started and not hasattr(raw, "_body"):
        # Django's HttpRequest.body returns a body already read and checks the limit otherwise.
        raw._body = raw.read(length)
    return None
