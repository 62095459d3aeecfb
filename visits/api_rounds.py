"""REST API of rounds and planned visits (``/api/v1/rounds/``, ``/api/v1/visits/``).

Reads start from `rounds_for_user` / `for_user`; every write goes through
`visits.services` (territory, capacity and period rules, audit rows). Grid managers
read the rounds of their station and their own grid's visits; opening and scheduling
rounds needs `visits.add_round` (station staff and above).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from customers.models import Household, KeyCustomer
from zhoukou_grid.core.api import ScopedModelViewSet, api_validation_error, territory_field
from zhoukou_grid.core.scoping import for_user, writable_for_user
from zhoukou_grid.territory.models import Station, Village

from . import services
from .filters import VisitFilterSet
from .models import Round, RoundTarget, Visit
from .views_rounds import VISIT_SELECT, rounds_for_user, target_label, unplaced_targets


class _Absent:
    """An action a viewset does not offer: `hasattr` is False, so the router maps no route
    to it and the schema lists none (http_method_names alone would still document it)."""

    def __get__(self, instance, owner=None):
        raise AttributeError


# --- Rounds ---------------------------------------------------------------------------

class RoundSerializer(serializers.ModelSerializer):
    station = territory_field(Station, required=False, allow_null=True)
    county = serializers.CharField(source="county.code", read_only=True)
    holidays = serializers.ListField(child=serializers.DateField(), required=False)
    target_count = serializers.IntegerField(read_only=True)
    visit_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Round
        fields = ["id", "name", "county", "station", "period_start", "period_end", "daily_capacity", "holidays",
                  "status", "target_count", "visit_count", "created_at", "closed_at", "summary"]
        read_only_fields = ["status", "created_at", "closed_at", "summary"]
        extra_kwargs = {"daily_capacity": {"min_value": 0}}

    def validate(self, attrs):
        start, end = attrs.get("period_start"), attrs.get("period_end")
        if start and end and end < start:
            raise ValidationError({"period_end": [_("The last day lies before the first day.")]})
        if attrs.get("daily_capacity") == 0:
            raise ValidationError({"daily_capacity": [_("A grid manager must be able to make at least one visit a "
                                                        "day.")]})
        return attrs


class RoundTargetSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    target_type = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = RoundTarget
        fields = ["id", "grid", "source", "target_type", "target", "household", "key_customer", "village", "earliest",
                  "cadence_days"]

    def get_target_type(self, obj) -> str:
        return obj.target_key.partition(":")[0]

    def get_target(self, obj) -> str:
        return target_label(obj)


class PaginatedTargetsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RoundTargetSerializer(many=True)


class AddTargetsSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=RoundTarget.Source.choices)
    villages = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="Village codes, for source=villages.")
    account_numbers = serializers.ListField(child=serializers.CharField(), required=False,
                                            help_text="Household or key customer account numbers, for source=upload.")


class AddTargetsResultSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    target_count = serializers.IntegerField()


class UnplacedSerializer(serializers.Serializer):
    target_id = serializers.IntegerField()
    target = serializers.CharField()
    grid = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField()
    window_start = serializers.DateField(allow_null=True)
    window_end = serializers.DateField(allow_null=True)


class ScheduleResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    already_planned = serializers.IntegerField()
    unplaced = UnplacedSerializer(many=True)


class CloseSerializer(serializers.Serializer):
    next_round = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="An open round over the same grids: the missed targets move there.")


class UnplacedTargetSerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField()
    grid = serializers.CharField(source="grid.code")
    message = serializers.CharField(source="get_unplaced_reason_display")

    class Meta:
        model = RoundTarget
        fields = ["id", "target", "grid", "unplaced_reason", "message", "unplaced_window_start",
                  "unplaced_window_end"]

    def get_target(self, obj) -> str:
        return target_label(obj)


class RoundViewSet(ScopedModelViewSet):
    """Visit rounds: list, read, open (station staff and above), add targets, schedule."""

    queryset = Round.objects.select_related("county", "station")
    serializer_class = RoundSerializer
    http_method_names = ["get", "post", "head", "options"]
    ordering_fields = ["period_start", "name"]
    filterset_fields = ["status"]
    body_object_actions = ("create",)  # a station or county outside the territory answers 404
    # A round changes through its actions (targets, schedule), not by PUT/PATCH/DELETE.
    update = partial_update = destroy = _Absent()

    def get_queryset(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            queryset = rounds_for_user(self.request.user).select_related("county", "station")
        else:
            queryset = super().get_queryset()
        if self.action in ("list", "retrieve"):
            queryset = queryset.annotate(target_count=Count("targets", distinct=True),
                                         visit_count=Count("visits", distinct=True))
        return queryset.order_by("-period_start", "name", "pk")

    def perform_create(self, serializer):
        data = serializer.validated_data
        station = data.get("station")
        county_id = None
        if station is None:
            counties = list(writable_for_user(self.request.user, Station).values_list("county_id", flat=True)
                            .distinct()[:2])
            if len(counties) != 1:
                raise ValidationError({"station": [_("Choose the station the round covers.")]})
            county_id = counties[0]
        try:
            serializer.instance = services.round_create(
                user=self.request.user, name=data["name"], period_start=data["period_start"],
                period_end=data["period_end"], daily_capacity=data.get("daily_capacity", 8),
                holidays=data.get("holidays", []), station_id=station.pk if station else None, county_id=county_id)
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        serializer.instance.target_count = serializer.instance.visit_count = 0

    @extend_schema(responses=PaginatedTargetsSerializer, summary="The round's target list (paginated)")
    @action(detail=True, methods=["get"], serializer_class=RoundTargetSerializer)
    def targets(self, request, pk=None):
        rnd = self.get_object()
        queryset = rnd.targets.select_related("household", "key_customer", "village", "grid").order_by("pk")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(RoundTargetSerializer(page, many=True).data)

    @extend_schema(request=AddTargetsSerializer, responses=AddTargetsResultSerializer,
                   summary="Add targets to the round from one source")
    @action(detail=True, methods=["post"], url_path="add-targets", serializer_class=AddTargetsSerializer)
    def add_targets(self, request, pk=None):
        rnd = self.get_object()
        payload = AddTargetsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = request.user
        village_codes = set(data.get("villages") or [])
        numbers = set(data.get("account_numbers") or [])
        villages = dict(writable_for_user(user, Village).filter(code__in=village_codes).values_list("code", "pk"))
        households = dict(for_user(user, Household).filter(account_no__in=numbers).values_list("account_no", "pk"))
        customers = dict(for_user(user, KeyCustomer).filter(account_no__in=numbers).values_list("account_no", "pk"))
        unknown_villages = sorted(village_codes - set(villages))
        unknown_numbers = sorted(numbers - set(households) - set(customers))
        if unknown_villages:
            raise ValidationError({"villages": [_("Unknown village codes: %(codes)s") % {
                "codes": ", ".join(unknown_villages[:10])}]})
        if unknown_numbers:
            raise ValidationError({"account_numbers": [_("Unknown account numbers: %(numbers)s") % {
                "numbers": ", ".join(unknown_numbers[:10])}]})
        try:
            added = services.round_targets_build(
                user=user, round_id=rnd.pk, source=data["source"], village_ids=list(villages.values()),
                household_ids=list(households.values()), key_customer_ids=list(customers.values()))
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        return Response({"added": added, "target_count": rnd.targets.count()})

    @extend_schema(request=None, responses=ScheduleResultSerializer,
                   summary="Plan the round's visits; says what did not fit and why")
    @action(detail=True, methods=["post"], serializer_class=ScheduleResultSerializer)
    def schedule(self, request, pk=None):
        rnd = self.get_object()
        try:
            result = services.round_schedule(user=request.user, round_id=rnd.pk)
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        ids = [item.target.pk for item in result.unplaced]
        targets = {t.pk: t for t in RoundTarget.objects.filter(pk__in=ids)
                   .select_related("household", "key_customer", "village", "grid")}
        unplaced = [
            {"target_id": item.target.pk, "target": target_label(targets[item.target.pk]),
             "grid": targets[item.target.pk].grid.code, "reason": item.reason, "message": item.message,
             "window_start": item.window_start, "window_end": item.window_end}
            for item in result.unplaced
        ]
        return Response(ScheduleResultSerializer({"created": len(result.created),
                                                  "already_planned": result.already_planned,
                                                  "unplaced": unplaced}).data)


    @extend_schema(request=CloseSerializer, responses=RoundSerializer,
                   summary="Close the round: a summary of targets reached, missed and moved; no more logs")
    @action(detail=True, methods=["post"], serializer_class=CloseSerializer)
    def close(self, request, pk=None):
        rnd = self.get_object()
        serializer = CloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.round_close(user=request.user, round_id=rnd.pk,
                                 next_round_id=serializer.validated_data.get("next_round"))
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        rnd = self.get_queryset().annotate(target_count=Count("targets", distinct=True),
                                           visit_count=Count("visits", distinct=True)).get(pk=rnd.pk)
        return Response(RoundSerializer(rnd).data)

    @extend_schema(responses=UnplacedTargetSerializer(many=True),
                   summary="The targets the last scheduling found no day for (paginated)")
    @action(detail=True, methods=["get"], serializer_class=UnplacedTargetSerializer)
    def unplaced(self, request, pk=None):
        rnd = self.get_object()
        page = self.paginate_queryset(unplaced_targets(rnd).order_by("pk"))
        return self.get_paginated_response(UnplacedTargetSerializer(page, many=True).data)


# --- Visits ---------------------------------------------------------------------------

class VisitSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    grid_manager = serializers.CharField(source="grid_manager.username", read_only=True)
    target_type = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    village = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField(help_text="The visit's page in the portal.")

    class Meta:
        model = Visit
        fields = ["id", "page_url", "round", "grid", "grid_manager", "planned_date", "status", "target_type", "target",
                  "household", "key_customer", "village", "agenda", "done_at", "missed_reason", "cancel_reason",
                  "rescheduled_from"]
        read_only_fields = fields

    def get_target_type(self, obj) -> str:
        return obj.target_key.partition(":")[0]

    def get_target(self, obj) -> str:
        return target_label(obj)

    def get_page_url(self, obj) -> str:
        return reverse("visits:visit_detail", args=[obj.pk])

    def get_village(self, obj) -> str:
        village = obj.household.village if obj.household_id else obj.village
        return village.name if village else ""


class MoveSerializer(serializers.Serializer):
    planned_date = serializers.DateField()


class ReassignSerializer(serializers.Serializer):
    grid_manager = serializers.CharField(help_text="Username of a grid manager of the visit's grid.")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MissedSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class MissedResultSerializer(serializers.Serializer):
    visit = VisitSerializer()
    rescheduled_as = VisitSerializer(allow_null=True)


class VisitViewSet(ScopedModelViewSet):
    """Planned visits (read), and their changes: move, reassign, cancel, missed."""

    queryset = Visit.objects.select_related(*VISIT_SELECT)
    serializer_class = VisitSerializer
    filterset_class = VisitFilterSet
    http_method_names = ["get", "post", "head", "options"]
    ordering_fields = ["planned_date", "status"]

    # Visits are planned by a round's scheduler (or again after a missed one), and change
    # only through the actions below.
    create = update = partial_update = destroy = _Absent()

    def _change(self, request, serializer_class, call):
        visit = self.get_object()
        payload = serializer_class(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                result = call(visit, payload.validated_data)
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        return result

    def _fresh(self, pk):
        return Visit.objects.select_related(*VISIT_SELECT).get(pk=pk)

    @extend_schema(request=MoveSerializer, responses=VisitSerializer, summary="Move a planned visit to another day")
    @action(detail=True, methods=["post"], serializer_class=MoveSerializer)
    def move(self, request, pk=None):
        visit = self._change(request, MoveSerializer, lambda v, d: services.visit_move(
            user=request.user, visit_id=v.pk, planned_date=d["planned_date"]))
        return Response(VisitSerializer(self._fresh(visit.pk)).data)

    @extend_schema(request=ReassignSerializer, responses=VisitSerializer,
                   summary="Give a planned visit to another grid manager of its grid")
    @action(detail=True, methods=["post"], serializer_class=ReassignSerializer)
    def reassign(self, request, pk=None):
        def call(visit, data):
            manager = get_user_model().objects.filter(username=data["grid_manager"]).first()
            if manager is None:
                raise DjangoValidationError({"grid_manager": _("Only a grid manager of the visit's grid can take it.")})
            return services.visit_reassign(user=request.user, visit_id=visit.pk, grid_manager_id=manager.pk)

        visit = self._change(request, ReassignSerializer, call)
        return Response(VisitSerializer(self._fresh(visit.pk)).data)

    @extend_schema(request=ReasonSerializer, responses=VisitSerializer, summary="Cancel a planned visit")
    @action(detail=True, methods=["post"], serializer_class=ReasonSerializer)
    def cancel(self, request, pk=None):
        visit = self._change(request, ReasonSerializer, lambda v, d: services.visit_cancel(
            user=request.user, visit_id=v.pk, reason=d["reason"]))
        return Response(VisitSerializer(self._fresh(visit.pk)).data)

    @extend_schema(request=MissedSerializer, responses=MissedResultSerializer,
                   summary="Mark a planned visit missed, with the reason; it is planned again where a day is free")
    @action(detail=True, methods=["post"], serializer_class=MissedSerializer)
    def missed(self, request, pk=None):
        visit, proposed = self._change(request, MissedSerializer, lambda v, d: services.visit_mark_missed(
            user=request.user, visit_id=v.pk, reason=d["reason"]))
        return Response({"visit": VisitSerializer(self._fresh(visit.pk)).data,
                         "rescheduled_as": VisitSerializer(self._fresh(proposed.pk)).data if proposed else None})
