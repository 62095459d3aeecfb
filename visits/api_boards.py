"""REST API of hazards and customer issues (``/api/v1/hazards/``, ``/api/v1/issues/``).

Lists filter by status, severity or category, channel, grid and `overdue`; creation and
every step go through `visits.services` (scoped, audited, a skipped step refused with a
400 naming the status). Hazards and issues are never edited or deleted through the API:
they move only by their steps.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from customers.models import Household
from zhoukou_grid.core.api import (
    ScopedModelViewSet,
    ScopedSlugRelatedField,
    api_validation_error,
    path_id,
    territory_field,
)
from zhoukou_grid.territory.models import Grid, Village

from . import services
from .api_field import LogPhotoSerializer
from .filters import HazardFilterSet, IssueFilterSet
from .models import CustomerIssue, Hazard, HazardEvent, IssueEvent
from .selectors import OPEN_ISSUE_STATUSES


class _TargetFields(serializers.Serializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    station = serializers.CharField(source="grid.station.code", read_only=True)
    village = serializers.CharField(source="village.code", read_only=True, allow_null=True, default=None)
    household = serializers.CharField(source="household.account_no", read_only=True, allow_null=True, default=None)
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True, default=None)
    url = serializers.SerializerMethodField(help_text="The page of this record in the portal.")

    detail_route = ""

    def get_url(self, obj) -> str:
        return reverse(self.detail_route, args=[obj.pk])


class SafetyHazardEventSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="by.username", read_only=True)

    class Meta:
        model = HazardEvent
        fields = ["from_status", "to_status", "at", "by", "note"]


class IssueEventSerializer(serializers.ModelSerializer):
    # None: the customer, on a service card's public page.
    by = serializers.CharField(source="by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = IssueEvent
        fields = ["from_status", "to_status", "at", "by", "note"]


class SafetyHazardSerializer(_TargetFields, serializers.ModelSerializer):
    detail_route = "visits:hazard_detail"
    found_by = serializers.CharField(source="found_by.username", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Hazard
        fields = ["id", "grid", "grid_name", "station", "village", "household", "severity", "description",
                  "deadline", "status", "owner", "found_at", "found_by", "closed_at", "overdue", "url"]
        read_only_fields = fields

    def get_overdue(self, hazard: Hazard) -> bool:
        return hazard.status != Hazard.Status.RECHECKED and hazard.deadline < timezone.localdate()


class SafetyHazardDetailSerializer(SafetyHazardSerializer):
    events = SafetyHazardEventSerializer(many=True, read_only=True)
    photos = LogPhotoSerializer(many=True, read_only=True)

    class Meta(SafetyHazardSerializer.Meta):
        fields = [*SafetyHazardSerializer.Meta.fields, "events", "photos"]
        read_only_fields = fields


class IssueSerializer(_TargetFields, serializers.ModelSerializer):
    detail_route = "visits:issue_detail"
    # None: left by a customer on a service card's public page (channel service_card).
    raised_by = serializers.CharField(source="raised_by.username", read_only=True, allow_null=True, default=None)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = CustomerIssue
        fields = ["id", "grid", "grid_name", "station", "village", "household", "channel", "category",
                  "description", "status", "owner", "raised_at", "raised_by", "due_at", "resolved_at",
                  "confirmed_at", "overdue", "url"]
        read_only_fields = fields

    def get_overdue(self, issue: CustomerIssue) -> bool:
        return issue.status in OPEN_ISSUE_STATUSES and issue.due_at < timezone.now()


class IssueDetailSerializer(IssueSerializer):
    events = IssueEventSerializer(many=True, read_only=True)

    class Meta(IssueSerializer.Meta):
        fields = [*IssueSerializer.Meta.fields, "events"]
        read_only_fields = fields


class _NewTargetFields(serializers.Serializer):
    grid = territory_field(Grid)
    village = territory_field(Village, required=False, allow_null=True)
    household = ScopedSlugRelatedField(model=Household, slug_field="account_no", required=False, allow_null=True)

    def target_kwargs(self) -> dict:
        data = self.validated_data
        return {
            "grid_id": data["grid"].pk,
            "village_id": data["village"].pk if data.get("village") else None,
            "household_id": data["household"].pk if data.get("household") else None,
        }


class SafetyHazardReportSerializer(_NewTargetFields):
    """A hazard found outside a visit; `grid`, `village` are codes, `household` an account number."""

    severity = serializers.ChoiceField(choices=Hazard.Severity.choices)
    description = serializers.CharField(max_length=2000)
    deadline = serializers.DateField()

    def validate_deadline(self, value):
        if value < timezone.localdate():
            raise serializers.ValidationError(_("A hazard's deadline cannot be in the past."))
        return value


class IssueOpenSerializer(_NewTargetFields):
    """An issue that came by phone or the hotline (visit issues come with the visit log)."""

    channel = serializers.ChoiceField(choices=CustomerIssue.Channel.choices,
                                      help_text="phone or hotline: issues met at a visit come with the visit log")
    category = serializers.ChoiceField(choices=CustomerIssue.Category.choices)
    description = serializers.CharField(max_length=2000)

    def validate_channel(self, value):
        if value == CustomerIssue.Channel.VISIT:
            raise serializers.ValidationError(_("Issues met at a visit are recorded with the visit log."))
        if value == CustomerIssue.Channel.SERVICE_CARD:
            raise serializers.ValidationError(_("Only customers leave requests through a service card."))
        return value


class StepSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class _StepViewSet(ScopedModelViewSet):
    http_method_names = ["get", "post", "head", "options"]
    step_actions: tuple[str, ...] = ()
    detail_serializer = None

    def get_serializer_class(self):
        if self.action == "retrieve" or self.action in self.step_actions:
            return self.detail_serializer
        return self.serializer_class

    def get_permissions(self):
        if self.action in self.step_actions:
            # The service checks the change permission and the territory itself.
            return [IsAuthenticated()]
        return super().get_permissions()

    def _answer(self, pk: int, *, code=status.HTTP_200_OK):
        return Response(self.detail_serializer(self.get_queryset().get(pk=pk)).data, status=code)

    def _step(self, request, pk, service, id_kwarg: str):
        payload = StepSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            obj = service(user=request.user, note=payload.validated_data["note"], **{id_kwarg: path_id(pk)})
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(obj.pk)


class HazardViewSet(_StepViewSet):
    """Safety hazards: find → notify → rectify → re-check. Filters: status, severity, grid
    (id), overdue. Steps: `notify`, `rectify`, `recheck`; a step out of order is a 400."""

    queryset = Hazard.objects.select_related("grid__station", "owner", "found_by", "village", "household")
    serializer_class = SafetyHazardSerializer
    detail_serializer = SafetyHazardDetailSerializer
    filterset_class = HazardFilterSet
    ordering_fields = ["deadline", "found_at", "severity", "status"]
    step_actions = ("notify", "rectify", "recheck")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve" or self.action in self.step_actions:
            queryset = queryset.prefetch_related(
                Prefetch("events", queryset=HazardEvent.objects.select_related("by")), "photos")
        return queryset

    @extend_schema(request=SafetyHazardReportSerializer, responses={201: SafetyHazardDetailSerializer},
                   summary="Report a hazard found outside a visit")
    def create(self, request, *args, **kwargs):
        payload = SafetyHazardReportSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            hazard = services.hazard_report(user=request.user, severity=data["severity"],
                                            description=data["description"], deadline=data["deadline"],
                                            **payload.target_kwargs())
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(hazard.pk, code=status.HTTP_201_CREATED)

    @extend_schema(request=StepSerializer, responses=SafetyHazardDetailSerializer, summary="The customer was notified")
    @action(detail=True, methods=["post"])
    def notify(self, request, pk=None):
        return self._step(request, pk, services.hazard_notify, "hazard_id")

    @extend_schema(request=StepSerializer, responses=SafetyHazardDetailSerializer, summary="Rectification started")
    @action(detail=True, methods=["post"])
    def rectify(self, request, pk=None):
        return self._step(request, pk, services.hazard_rectify, "hazard_id")

    @extend_schema(request=StepSerializer, responses=SafetyHazardDetailSerializer,
                   summary="Re-checked on site: the hazard is closed")
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        return self._step(request, pk, services.hazard_recheck, "hazard_id")


class IssueViewSet(_StepViewSet):
    """Customer issues: open → in progress → resolved → confirmed, due by the category's
    target time. Filters: status, category, channel, grid (id), overdue. Steps: `start`,
    `resolve`, `confirm`; a step out of order is a 400."""

    queryset = CustomerIssue.objects.select_related("grid__station", "owner", "raised_by", "village", "household")
    serializer_class = IssueSerializer
    detail_serializer = IssueDetailSerializer
    filterset_class = IssueFilterSet
    ordering_fields = ["due_at", "raised_at", "category", "status"]
    step_actions = ("start", "resolve", "confirm")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve" or self.action in self.step_actions:
            queryset = queryset.prefetch_related(Prefetch("events", queryset=IssueEvent.objects.select_related("by")))
        return queryset

    @extend_schema(request=IssueOpenSerializer, responses={201: IssueDetailSerializer},
                   summary="Record an issue that came by phone or the hotline")
    def create(self, request, *args, **kwargs):
        payload = IssueOpenSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            issue = services.issue_open(user=request.user, channel=data["channel"], category=data["category"],
                                        description=data["description"], **payload.target_kwargs())
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(issue.pk, code=status.HTTP_201_CREATED)

    @extend_schema(request=StepSerializer, responses=IssueDetailSerializer, summary="Work on the issue started")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._step(request, pk, services.issue_start, "issue_id")

    @extend_schema(request=StepSerializer, responses=IssueDetailSerializer, summary="The issue is resolved")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._step(request, pk, services.issue_resolve, "issue_id")

    @extend_schema(request=StepSerializer, responses=IssueDetailSerializer,
                   summary="The customer confirmed the resolution")
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._step(request, pk, services.issue_confirm, "issue_id")
