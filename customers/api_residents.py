"""REST API of returning residents (``/api/v1/residents/``), scoped like every viewset.

Phone and ID numbers are answered masked, for every role; the full value of one field of
one resident is answered only by the audited `reveal` action, to holders of
`customers.view_personal_data`. The village is written as its code and the household
as its account number, both limited to the writer's territory. Status changes go through
the `mark-arrived` / `mark-departed` actions (one or many ids), not through updates.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from zhoukou_grid.core.api import (
    MAX_ID,
    ScopedModelViewSet,
    ScopedSlugRelatedField,
    api_validation_error,
    territory_field,
)
from zhoukou_grid.territory.models import Village

from . import personal_data, services
from .filters import ReturningResidentFilterSet
from .models import Household, ReturningResident
from .parsing import MAX_PERSONS, ValueProblem, parse_id_number, parse_mobile
from .selectors import possible_duplicate


class _Keep(str):
    """What PersonalDataField answers for "the masked value I read": keep the stored number.
    An (empty) str, so that the field's length validators accept it."""


_KEEP = _Keep("")


class PersonalDataField(serializers.CharField):
    """A phone or ID number: written in full, read masked (the stored masked form: a list
    never decrypts).

    Sending back the masked value a GET answered keeps the stored number, so a client may
    PUT what it read without knowing the full value.
    """

    def __init__(self, *, personal_field: str, parser, **kwargs):
        self.personal_field = personal_field
        self.parser = parser
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return getattr(instance, f"{self.personal_field}_masked", "")

    def to_representation(self, value):
        return value or ""

    def to_internal_value(self, data):
        text = super().to_internal_value(data).strip()
        if not text:
            return ""
        instance = getattr(self.parent, "instance", None)
        current = getattr(instance, f"{self.personal_field}_masked", "") if isinstance(
            instance, ReturningResident) else ""
        if current and text == current:
            return _KEEP
        try:
            return self.parser(text)
        except ValueProblem:
            raise ValidationError(self.error_messages["invalid_personal"]) from None

    default_error_messages = {"invalid_personal": _("Not a valid number.")}


class ResidentSerializer(serializers.ModelSerializer):
    village = territory_field(Village)
    village_name = serializers.CharField(source="village.name", read_only=True)
    grid = serializers.CharField(source="village.grid.code", read_only=True)
    household = ScopedSlugRelatedField(model=Household, slug_field="account_no", required=False, allow_null=True)
    transformer = serializers.CharField(source="household.transformer.code", read_only=True, allow_null=True,
                                        default=None)
    phone = PersonalDataField(personal_field="phone", parser=parse_mobile, max_length=20,
                              help_text="Mobile phone; answered masked (138****1234).")
    id_number = PersonalDataField(personal_field="id_number", parser=parse_id_number, max_length=18,
                                  help_text="ID number (GB 11643); answered masked (411627********3526).")
    persons = serializers.IntegerField(min_value=1, max_value=MAX_PERSONS, required=False)
    page_url = serializers.SerializerMethodField(help_text="Path of the resident's page in the portal.")
    possible_duplicate = serializers.SerializerMethodField(
        help_text="The same ID number is listed in another village you can see (one person on two lists?).")

    class Meta:
        model = ReturningResident
        fields = ["id", "name", "village", "village_name", "village_group", "grid", "household", "transformer",
                  "account_no", "head_name", "phone", "id_number", "workplace", "persons", "arrival_date",
                  "season", "departure_date", "heating", "extra_load", "note", "status", "arrived_at", "departed_at",
                  "source", "created_at", "updated_at", "page_url", "possible_duplicate"]
        # The season follows the arrival date (the New Year nearest to it; an import sets its own).
        read_only_fields = ["account_no", "season", "status", "arrived_at", "departed_at", "source", "created_at",
                            "updated_at"]

    def get_page_url(self, resident: ReturningResident) -> str:
        return reverse("customers:resident_detail", args=[resident.pk])

    def get_possible_duplicate(self, resident: ReturningResident) -> bool:
        flagged = getattr(resident, "_possible_duplicate", None)
        if flagged is None:  # a written entry, not read through the viewset's queryset
            request = self.context.get("request")
            if request is None or not resident.id_number_hmac:
                return False
            flagged = ReturningResident.objects.filter(pk=resident.pk).filter(
                possible_duplicate(request.user)).exists()
        return bool(flagged)

    def validate(self, attrs):
        # The rules of an entry (same village, dates, duplicates) are customers.services'.
        attrs = super().validate(attrs)
        return {name: value for name, value in attrs.items() if value is not _KEEP}

    def service_fields(self) -> dict:
        data = dict(self.validated_data)
        for name in ("village", "household"):
            if name in data:
                data[f"{name}_id"] = data[name].pk if data[name] is not None else None
                del data[name]
        return data


class ResidentIdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=5000)


class StatusChangeSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many residents changed status.")


class RevealRequestSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=personal_data.PERSONAL_FIELDS)


class RevealSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField(help_text="The full value (empty when none is recorded).")
    tel = serializers.CharField(help_text="A tel: link for a phone; empty otherwise.")


class ResidentViewSet(ScopedModelViewSet):
    """Returning residents; `village` is the village code, `household` the account number.

    `season` is the festival an entry is listed for (the Gregorian year of its Lunar New
    Year); `?season=2026` lists one season's entries, `?import_job=<id>` those an import wrote.

    `phone` and `id_number` are answered masked; `POST …/{id}/reveal/` answers one full
    value (audited). Status changes: `POST mark-arrived/` and `POST mark-departed/` with ids.
    """

    queryset = ReturningResident.objects.select_related("village__grid", "household__transformer")
    serializer_class = ResidentSerializer
    filterset_class = ReturningResidentFilterSet
    ordering_fields = ["arrival_date", "departure_date", "name", "persons", "status", "village__code"]
    audit_object_type = "returningresident"
    # Ids in the body outside the territory answer 404 like missing ones (schema: ScopedAutoSchema).
    body_object_actions = ("mark_arrived", "mark_departed")
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.method in ("GET", "HEAD"):
            queryset = queryset.annotate(_possible_duplicate=possible_duplicate(self.request.user))
        return queryset

    def perform_create(self, serializer):
        try:
            serializer.instance = services.resident_create(user=self.request.user, audit_action="api.create",
                                                           **serializer.service_fields())
        except DjangoValidationError as error:
            raise api_validation_error(error) from None

    def perform_update(self, serializer):
        try:
            serializer.instance = services.resident_update(
                user=self.request.user, resident_id=serializer.instance.pk, audit_action="api.update",
                **serializer.service_fields())
        except DjangoValidationError as error:
            raise api_validation_error(error) from None

    def _status_change(self, request, mark):
        payload = ResidentIdsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changed = mark(user=request.user, resident_ids=payload.validated_data["ids"])
        return Response(StatusChangeSerializer({"changed": changed}).data)

    @extend_schema(request=ResidentIdsSerializer, responses=StatusChangeSerializer,
                   summary="Mark residents as arrived (those already departed stay departed)")
    @action(detail=False, methods=["post"], url_path="mark-arrived")
    def mark_arrived(self, request):
        return self._status_change(request, services.residents_mark_arrived)

    @extend_schema(request=ResidentIdsSerializer, responses=StatusChangeSerializer,
                   summary="Mark residents as departed")
    @action(detail=False, methods=["post"], url_path="mark-departed")
    def mark_departed(self, request):
        return self._status_change(request, services.residents_mark_departed)

    @extend_schema(request=RevealRequestSerializer, responses=RevealSerializer,
                   summary="Reveal one phone or ID number (audited; needs customers.view_personal_data)")
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        payload = RevealRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        field = payload.validated_data["field"]
        try:
            resident_id = int(pk)
        except (TypeError, ValueError):
            resident_id = 0
        value = personal_data.resident_reveal(user=request.user, resident_id=resident_id, field=field)
        tel = personal_data.tel_url(value) if field == "phone" else ""
        response = Response(RevealSerializer({"field": field, "value": value, "tel": tel}).data,
                            status=status.HTTP_200_OK)
        response["Cache-Control"] = "no-store"
        return response

