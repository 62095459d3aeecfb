"""REST API of the season outlook (``/api/v1/outlook-runs/``, ``outlook-items/``, read-only;
``outlook-settings/``, changed by county admins), scoped like every viewset: a run is seen by the users of its station's territory, an
item by the users of its asset's grid (docs/domain.md §6.7)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as ApiValidationError

from zhoukou_grid.core.api import ScopedModelViewSet
from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import County

from . import engine, outlook_engine
from .api import AssetFieldsMixin, ProjectionSettingsViewSet, SettingsSerializer
from .filters import OutlookItemFilterSet, OutlookRunFilterSet
from .models import OutlookItem, OutlookRun, OutlookSettings
from .outlook_services import outlook_settings_update


class OutlookRunSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station.code", read_only=True)

    class Meta:
        model = OutlookRun
        fields = ["id", "station", "run_date", "season", "new_year", "window_start", "window_end", "first_day",
                  "days_projected", "days", "headline", "message", "created_at"]
        read_only_fields = fields


class OutlookItemSerializer(AssetFieldsMixin, serializers.ModelSerializer):
    run_date = serializers.DateField(source="run.run_date", read_only=True)
    station = serializers.CharField(source="run.station.code", read_only=True)

    class Meta:
        model = OutlookItem
        fields = ["id", "run", "run_date", "station", "asset_type", "asset_code", "grid", "level", "level_code",
                  "peak_date", "peak_kw", "peak_load_rate", "first_heavy_date", "registered_households",
                  "estimated_households", "order_by", "late", "daily", "measures"]
        read_only_fields = fields


class OutlookRunViewSet(ScopedModelViewSet):
    """Season outlook runs, one per station and run date (filter `latest=true`)."""

    queryset = OutlookRun.objects.select_related("station")
    serializer_class = OutlookRunSerializer
    filterset_class = OutlookRunFilterSet
    ordering_fields = ["run_date", "created_at"]
    http_method_names = ["get", "head", "options"]


class OutlookItemViewSet(ScopedModelViewSet):
    """Assets at watch or above in an outlook run (default: each station's latest run)."""

    queryset = OutlookItem.objects.select_related("transformer", "line", "grid", "run__station")
    serializer_class = OutlookItemSerializer
    filterset_class = OutlookItemFilterSet
    ordering_fields = ["level", "peak_load_rate", "order_by", "peak_date"]
    http_method_names = ["get", "head", "options"]


class OutlookSettingsSerializer(SettingsSerializer):
    """The §6.7 settings of a county or a station's overrides; `effective` is what an outlook uses."""

    class Meta(SettingsSerializer.Meta):
        model = OutlookSettings

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_effective(self, row: OutlookSettings) -> dict:
        county_values = self.context.get("county_values", {}).get(row.county_id, {})
        layers = [row.values] if row.station_id is None else [county_values, row.values]
        try:
            return outlook_engine.OutlookSettings.from_dict(*layers).to_dict()
        except engine.SettingsError:
            return {}

    def save(self, **kwargs):
        instance = self.instance
        county = self.validated_data.get("county") or instance.county
        station = self.validated_data.get("station", instance.station if instance else None)
        try:
            self.instance = outlook_settings_update(
                county_id=county.pk, station_id=station.pk if station else None,
                values=self.validated_data.get("values", instance.values if instance else {}),
                user=self.context["request"].user)
        except engine.SettingsError as exc:
            raise ApiValidationError({"values": [str(exc)]}) from None
        return self.instance


class OutlookSettingsViewSet(ProjectionSettingsViewSet):
    """Season-outlook settings of a county and its stations' overrides (`values` holds only
    what differs from the defaults). County admins change them; every change is audited."""

    queryset = OutlookSettings.objects.select_related("county", "station", "updated_by")
    serializer_class = OutlookSettingsSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["county_values"] = dict(OutlookSettings.objects.filter(
            station__isnull=True, county__in=for_user(self.request.user, County)).values_list("county_id", "values"))
        return context
