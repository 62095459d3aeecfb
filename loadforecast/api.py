"""REST API of the load forecast (``/api/v1/projection-runs/``, ``projections/``,
``alerts/``, ``measures/``, ``projection-settings/``), scoped like every viewset.

Reads start from `scoping.for_user` (ScopedModelViewSet) or a selector the pages use too
(the runs: `selectors.runs_visible_to`); the filters are the pages' (`filters.py`); every
write goes through a service of `loadforecast.services` (which checks the verb and the
territory again and writes the audit and history rows), so the API and the pages cannot
drift apart.
Assets are answered as their type and code; an object outside the user's territory
answers 404 like a missing one.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from zhoukou_grid.core.api import (
    MAX_ID,
    ScopedModelViewSet,
    api_validation_error,
    path_id,
    queue_unavailable_response,
    territory_field,
)
from zhoukou_grid.core.scoping import for_user, territory_of
from zhoukou_grid.territory.models import County, Station, Transformer

from . import engine, selectors, services
from .filters import ASSET_TYPES, AlertFilterSet, MeasureFilterSet, ProjectionFilterSet, RunFilterSet
from .models import LEVEL_CODES, Alert, AlertHistory, AssetProjection, Measure, ProjectionRun, ProjectionSettings


# --- Shared asset fields --------------------------------------------------------------
class AssetFieldsMixin(serializers.Serializer):
    """`asset_type`, `asset_code`, `grid` and `level_code` of a row that belongs to an asset."""

    asset_type = serializers.ChoiceField(choices=ASSET_TYPES, read_only=True)
    asset_code = serializers.SerializerMethodField()
    grid = serializers.CharField(source="grid.code", read_only=True)
    level_code = serializers.SerializerMethodField()

    def get_asset_code(self, obj) -> str:
        return obj.transformer.code if obj.transformer_id else obj.line.code

    def get_level_code(self, obj) -> str:
        return LEVEL_CODES[obj.level]


# --- Runs -----------------------------------------------------------------------------
class RunSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station.code", read_only=True, allow_null=True, default=None,
                                    help_text="Station code; null for a run of all stations.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ProjectionRun
        fields = ["id", "run_date", "days", "station", "status", "created_at", "started_at", "finished_at",
                  "chunks_total", "chunks_done", "counts", "timings", "settings_snapshot", "skipped", "error",
                  "created_by"]
        read_only_fields = fields

    def to_representation(self, run):
        data = super().to_representation(run)
        visible = self.context.get("run_visibility")
        if visible is None or visible == selectors.RunVisibility(None, None):
            return data
        # What the runs page shows of the run: the user's stations (and a grid manager's own assets).
        summary = selectors.run_summary(run, visible)
        counts = data["counts"] if isinstance(data["counts"], dict) else {}
        if set(summary["stations"]) != set(counts.get("stations", {})):
            counts = {**{k: v for k, v in counts.items() if not isinstance(v, int) and k != "stations"},
                      **summary["totals"], "stations": summary["stations"]}
        timings = data["timings"] if isinstance(data["timings"], dict) else {}
        if "stations" in timings:
            timings = {**timings, "stations": summary["timings"]}
        data.update(counts=counts, timings=timings, skipped=summary["skipped"], error="\n".join(summary["errors"]))
        return data


class RunStartSerializer(serializers.Serializer):
    station = territory_field(Station)
    run_date = serializers.DateField(required=False, help_text="Default: today (Asia/Shanghai).")
    days = serializers.IntegerField(required=False, min_value=1, max_value=engine.MAX_HORIZON_DAYS,
                                    help_text="Default: the station's horizon setting.")


class RunQueueUnavailableSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why: the task queue is unavailable; the run is saved as queued.")
    code = serializers.CharField(help_text="queue_unavailable")
    run = RunSerializer(help_text="The saved run (status queued): poll its `status/`.")


class RunStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectionRun
        fields = ["id", "status", "chunks_total", "chunks_done", "started_at", "finished_at", "error"]
        read_only_fields = fields


class ProjectionRunViewSet(ScopedModelViewSet):
    """Projection runs: those the runs page lists (`selectors.runs_visible_to`: the user's
    stations, the station of a grid manager's grid, and the runs of all stations), each
    showing what the page shows of it (the user's stations; a grid manager's own assets).

    `POST` is the page's "run now" (`services.projection_request`): a run of one station
    (station staff of that station, and admins above it); a run of that date and station
    still in flight is answered (200) instead of a second one.
    """

    queryset = ProjectionRun.objects.select_related("station", "created_by")
    serializer_class = RunSerializer
    filterset_class = RunFilterSet
    ordering_fields = ["run_date", "created_at", "status"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.runs_visible_to(self.request.user).select_related("station", "created_by")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["run_visibility"] = selectors.run_visibility(self.request.user)
        return context

    @extend_schema(request=RunStartSerializer, responses={
        201: RunSerializer, 200: RunSerializer,
        503: OpenApiResponse(RunQueueUnavailableSerializer, description="The task queue (Redis) is unavailable: the "
                             "run is saved as queued and starts by itself once the queue is back.")},
                   summary="Start a projection run of one station (enqueued when the request commits)")
    def create(self, request, *args, **kwargs):
        payload = RunStartSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            requested = services.projection_request(user=request.user, station_id=data["station"].pk,
                                                    run_date=data.get("run_date"), days=data.get("days"))
        except ValueError as exc:
            raise ApiValidationError({"days": [str(exc)]}) from None
        run = self.get_queryset().get(pk=requested.run.pk)  # as its messages left it, once committed
        body = RunSerializer(run, context=self.get_serializer_context()).data
        if services.run_waits_for_queue(run):
            return queue_unavailable_response(run=body)
        return Response(body, status=status.HTTP_201_CREATED if requested.started else status.HTTP_200_OK)

    @extend_schema(responses=RunStatusSerializer, summary="Progress of a run")
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        return Response(RunStatusSerializer(self.get_object()).data)


# --- Projections ----------------------------------------------------------------------
class ProjectionSerializer(AssetFieldsMixin, serializers.ModelSerializer):
    run_date = serializers.DateField(source="run.run_date", read_only=True)

    class Meta:
        model = AssetProjection
        fields = ["id", "run", "run_date", "asset_type", "asset_code", "grid", "date", "peak_kw", "peak_a",
                  "peak_load_rate", "hours_ge_80", "hours_ge_100", "returning_households", "level", "level_code"]
        read_only_fields = fields


class AssetProjectionViewSet(ScopedModelViewSet):
    """Projected asset-days (filter by `run`, asset type and code, day, level)."""

    queryset = AssetProjection.objects.select_related("transformer", "line", "grid", "run")
    serializer_class = ProjectionSerializer
    filterset_class = ProjectionFilterSet
    ordering_fields = ["date", "peak_load_rate", "peak_kw", "level"]
    http_method_names = ["get", "head", "options"]


# --- Alerts and measures ----------------------------------------------------------------
class MeasureSerializer(serializers.ModelSerializer):
    asset_code = serializers.SerializerMethodField()
    neighbour = serializers.CharField(source="neighbour.code", read_only=True, allow_null=True, default=None)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Measure
        fields = ["id", "alert", "asset_code", "kind", "neighbour", "kva", "kw", "planned_date", "status", "note",
                  "created_at", "created_by", "done_at", "done_by"]
        read_only_fields = fields

    def get_asset_code(self, measure: Measure) -> str:
        alert = measure.alert
        return alert.transformer.code if alert.transformer_id else alert.line.code


class HistorySerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AlertHistory
        fields = ["at", "user", "action", "status", "level", "note"]
        read_only_fields = fields


class AlertSerializer(AssetFieldsMixin, serializers.ModelSerializer):
    station = serializers.CharField(source="grid.station.code", read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "asset_type", "asset_code", "grid", "station", "level", "level_code", "first_date",
                  "last_date", "peak_date", "peak_kw", "peak_load_rate", "returning_households", "thresholds",
                  "measures", "status", "runs_below_watch", "last_run", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {"measures": {"help_text": "Recommended measures, sized (docs/domain.md 6.5)."}}


class AlertDetailSerializer(AlertSerializer):
    planned_measures = MeasureSerializer(source="measure_set", many=True, read_only=True)
    history = HistorySerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "planned_measures", "history"]
        read_only_fields = fields


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AlertViewSet(ScopedModelViewSet):
    """Overload alerts, most severe first. Status changes: `acknowledge`, `dismiss` (with a
    reason), `close` (a mitigated alert); measures are planned with `POST /measures/` and marked done there."""

    queryset = Alert.objects.select_related("transformer", "line", "grid__station")
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    ordering_fields = ["level", "first_date", "peak_load_rate", "updated_at"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("measure_set", queryset=Measure.objects.select_related(
                    "alert__transformer", "alert__line", "neighbour", "created_by", "done_by")),
                Prefetch("history", queryset=AlertHistory.objects.select_related("user")))
        return queryset

    def filter_queryset(self, queryset):
        # The filters (and their default: active alerts only) choose a list; an alert itself
        # answers whatever its status.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        return AlertDetailSerializer if self.action in ("retrieve", "acknowledge", "dismiss", "close") else AlertSerializer

    def get_permissions(self):
        if self.action in ("acknowledge", "dismiss", "close"):
            # The service checks loadforecast.change_alert and the territory itself.
            return [IsAuthenticated()]
        return super().get_permissions()

    def create(self, request, *args, **kwargs):
        raise ApiValidationError({"non_field_errors": [_("Alerts are created by projection runs.")]})

    def _answer(self, alert_id: int):
        return Response(AlertDetailSerializer(self.get_queryset().get(pk=alert_id)).data)

    @extend_schema(request=None, responses=AlertDetailSerializer, summary="Acknowledge an open alert")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        try:
            alert = services.alert_acknowledge(user=request.user, alert_id=path_id(pk))
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(alert.pk)

    @extend_schema(request=DismissSerializer, responses=AlertDetailSerializer,
                   summary="Dismiss an active alert with a reason")
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        payload = DismissSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            alert = services.alert_dismiss(user=request.user, alert_id=path_id(pk),
                                           reason=payload.validated_data["reason"])
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(alert.pk)


    @extend_schema(request=None, responses=AlertDetailSerializer, summary="Close a mitigated alert")
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        try:
            alert = services.alert_close(user=request.user, alert_id=path_id(pk))
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return self._answer(alert.pk)


class MeasurePlanSerializer(serializers.Serializer):
    alert = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=Measure.Kind.choices)
    planned_date = serializers.DateField()
    kva = serializers.FloatField(required=False, allow_null=True)
    kw = serializers.FloatField(required=False, allow_null=True)
    neighbour = serializers.CharField(required=False, allow_blank=True, max_length=32,
                                      help_text="Code of the tied transformer taking the load (transfers).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class MeasureViewSet(ScopedModelViewSet):
    """Measures against alerts: list (filter by `alert`), plan (`POST`), mark `done`."""

    queryset = Measure.objects.select_related("alert__transformer", "alert__line", "neighbour", "created_by", "done_by")
    body_object_actions = ("create",)  # an alert outside the territory answers 404 like a missing one
    serializer_class = MeasureSerializer
    filterset_class = MeasureFilterSet
    ordering_fields = ["planned_date", "created_at"]
    http_method_names = ["get", "post", "head", "options"]

    def get_permissions(self):
        if self.action == "done":
            return [IsAuthenticated()]  # measure_done checks loadforecast.change_measure and the territory
        return super().get_permissions()

    @extend_schema(request=MeasurePlanSerializer, responses={201: MeasureSerializer},
                   summary="Plan a measure against an active alert")
    def create(self, request, *args, **kwargs):
        payload = MeasurePlanSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        neighbour_id = None
        if data.get("neighbour"):
            neighbour_id = for_user(request.user, Transformer).filter(code=data["neighbour"]).values_list(
                "pk", flat=True).first()
            if neighbour_id is None:
                raise ApiValidationError({"neighbour": [_("No such transformer.")]})
        try:
            measure = services.measure_plan(
                user=request.user, alert_id=data["alert"], kind=data["kind"], planned_date=data["planned_date"],
                kva=data.get("kva"), kw=data.get("kw"), neighbour_id=neighbour_id, note=data.get("note", ""))
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return Response(MeasureSerializer(self.get_queryset().get(pk=measure.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MeasureSerializer, summary="Mark a planned measure done")
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        try:
            measure = services.measure_done(user=request.user, measure_id=path_id(pk))
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        return Response(MeasureSerializer(self.get_queryset().get(pk=measure.pk)).data)


# --- Settings ---------------------------------------------------------------------------
@extend_schema_field(OpenApiTypes.OBJECT)
class SettingsValuesField(serializers.JSONField):
    """Only the settings that differ from the defaults (engine.ProjectionSettings names)."""


class SettingsSerializer(serializers.ModelSerializer):
    county = territory_field(County)
    station = territory_field(Station, required=False, allow_null=True)
    values = SettingsValuesField(help_text="The settings that differ from the defaults (or from the county's).")
    effective = serializers.SerializerMethodField(help_text="Every setting as a run would use it.")
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ProjectionSettings
        fields = ["id", "county", "station", "values", "effective", "updated_at", "updated_by"]
        read_only_fields = ["updated_at", "updated_by"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_effective(self, row: ProjectionSettings) -> dict:
        county_values = self.context.get("county_values", {}).get(row.county_id, {})
        layers = [row.values] if row.station_id is None else [county_values, row.values]
        try:
            return engine.ProjectionSettings.from_dict(*layers).to_dict()
        except engine.SettingsError:
            return {}

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None:
            for name in ("county", "station"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise ApiValidationError({name: [_("The county or station of settings cannot change.")]})
        station = attrs.get("station")
        county = attrs.get("county") or getattr(self.instance, "county", None)
        if station is not None and county is not None and station.county_id != county.pk:
            raise ApiValidationError({"station": [_("The station is in another county.")]})
        return attrs

    def save(self, **kwargs):
        instance = self.instance
        county = self.validated_data.get("county") or instance.county
        station = self.validated_data.get("station", instance.station if instance else None)
        try:
            self.instance = services.settings_update(
                county_id=county.pk, station_id=station.pk if station else None,
                values=self.validated_data.get("values", instance.values if instance else {}),
                user=self.context["request"].user)
        except engine.SettingsError as exc:
            raise ApiValidationError({"values": [str(exc)]}) from None
        return self.instance


class ProjectionSettingsViewSet(ScopedModelViewSet):
    """Projection settings of a county and the overrides of its stations (`values` holds
    only what differs; `effective` is what a run uses). County admins change them."""

    queryset = ProjectionSettings.objects.select_related("county", "station", "updated_by")
    serializer_class = SettingsSerializer
    filterset_fields = ["county__code", "station__code"]
    ordering_fields = ["county__code", "updated_at"]
    ordering = ["county__code", "station__code", "pk"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        territory = territory_of(self.request.user)
        if self.request.method in SAFE_METHODS and not territory.everything:
            # Everyone reads the settings that apply to them: their county's (seen as context)
            # and the overrides of their stations; only county admins change them.
            queryset = queryset | self.queryset.filter(
                Q(station__isnull=True, county_id__in=territory.context_county_ids)
                | Q(station_id__in=territory.context_station_ids))
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        # The county rows under the station overrides, in one query: those of the counties the
        # user sees (a station's staff see their county as context, not its settings row).
        context["county_values"] = dict(ProjectionSettings.objects.filter(
            station__isnull=True, county__in=for_user(self.request.user, County)).values_list("county_id", "values"))
        return context

    def perform_create(self, serializer):
        # settings_update writes the audit row; an existing row of that scope is replaced.
        serializer.save()

    def perform_update(self, serializer):
        serializer.save()
