"""REST API of the season outlook (``/api/v1/outlook-runs/``, ``outlook-items/``), read-only
and scoped like every viewset: a run is seen by the users of its station's territory, an
item by the users of its asset's grid (docs/domain.md §6.7)."""

from __future__ import annotations

from rest_framework import serializers

from zhoukou_grid.core.api import ScopedModelViewSet

from .api import AssetFieldsMixin
from .filters import OutlookItemFilterSet, OutlookRunFilterSet
from .models import OutlookItem, OutlookRun


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
