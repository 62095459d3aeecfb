"""REST API of the territory and the network (``/api/v1/``), and of the requesting
user (`me`).

Foreign keys are read and written as codes (the stable identifiers every spreadsheet
uses); a code outside the writer's territory is rejected as if it did not exist.
"""


from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response

from zhoukou_grid.core.api import API_AUTHENTICATION_CLASSES, ScopedAutoSchema, ScopedModelViewSet, territory_field
from zhoukou_grid.core.scoping import for_user, territory_of
from zhoukou_grid.territory.filters import (
    CountyFilterSet,
    GridFilterSet,
    LVLineFilterSet,
    StationFilterSet,
    TransformerFilterSet,
    VillageFilterSet,
)
from zhoukou_grid.territory.models import County, Grid, LVLine, Role, RoleAssignment, Station, Transformer, Village


# --- Serializers ----------------------------------------------------------------
class CountySerializer(serializers.ModelSerializer):
    class Meta:
        model = County
        fields = ["id", "code", "name"]


class StationSerializer(serializers.ModelSerializer):
    county = territory_field(County)
    county_name = serializers.CharField(source="county.name", read_only=True)

    class Meta:
        model = Station
        fields = ["id", "code", "name", "county", "county_name"]


class GridSerializer(serializers.ModelSerializer):
    station = territory_field(Station)
    station_name = serializers.CharField(source="station.name", read_only=True)
    county = serializers.CharField(source="station.county.code", read_only=True)
    # Managers are assigned with roles (admin), not through this API.
    manager = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Grid
        fields = ["id", "code", "name", "station", "station_name", "county", "manager"]


class VillageSerializer(serializers.ModelSerializer):
    grid = territory_field(Grid)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    station = serializers.CharField(source="grid.station.code", read_only=True)

    class Meta:
        model = Village
        fields = ["id", "code", "name", "grid", "grid_name", "station"]


ALL = object()  # every row is visible (a company admin)


class TransformerSerializer(serializers.ModelSerializer):
    grid = territory_field(Grid)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    station = serializers.CharField(source="grid.station.code", read_only=True)
    ties = territory_field(Transformer, many=True, required=False)

    class Meta:
        model = Transformer
        fields = ["id", "code", "name", "grid", "grid_name", "station", "rated_kva", "p0_w", "pk_w", "year", "ties"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and data.get("ties"):
            # A tie to a transformer of another grid names it only to those who may see it.
            visible = self.context.get("_visible_transformer_codes")
            if visible is None:
                visible = ALL if territory_of(request.user).everything else set(
                    for_user(request.user, Transformer).values_list("code", flat=True))
                self.context["_visible_transformer_codes"] = visible
            if visible is not ALL:
                data["ties"] = [code for code in data["ties"] if code in visible]
        return data

    def validate_ties(self, ties):
        if self.instance is not None and any(tie.pk == self.instance.pk for tie in ties):
            raise serializers.ValidationError(_("A transformer cannot be tied to itself."))
        return ties


class LVLineSerializer(serializers.ModelSerializer):
    transformer = territory_field(Transformer)
    transformer_name = serializers.CharField(source="transformer.name", read_only=True)
    grid = serializers.CharField(source="transformer.grid.code", read_only=True)

    class Meta:
        model = LVLine
        fields = ["id", "code", "transformer", "transformer_name", "grid", "conductor", "section_mm2",
                  "ampacity_a", "length_m"]


# --- Viewsets -------------------------------------------------------------------
class CountyViewSet(ScopedModelViewSet):
    """Counties: company admins change them; everyone sees the county of their territory."""

    queryset = County.objects.all()
    serializer_class = CountySerializer
    filterset_class = CountyFilterSet
    ordering_fields = ["code", "name"]


class StationViewSet(ScopedModelViewSet):
    """Power supply stations; `county` is the county code."""

    queryset = Station.objects.select_related("county")
    serializer_class = StationSerializer
    filterset_class = StationFilterSet
    ordering_fields = ["code", "name", "county__code"]


class GridViewSet(ScopedModelViewSet):
    """Grids; `station` is the station code, `manager` the grid manager's username (read-only)."""

    queryset = Grid.objects.select_related("station__county", "manager")
    serializer_class = GridSerializer
    filterset_class = GridFilterSet
    ordering_fields = ["code", "name", "station__code"]


class VillageViewSet(ScopedModelViewSet):
    """Villages (village committees); `grid` is the grid code."""

    queryset = Village.objects.select_related("grid__station")
    serializer_class = VillageSerializer
    filterset_class = VillageFilterSet
    ordering_fields = ["code", "name", "grid__code"]


class TransformerViewSet(ScopedModelViewSet):
    """Distribution transformers (transformer districts); `grid` and `ties` are codes."""

    queryset = Transformer.objects.select_related("grid__station").prefetch_related(
        Prefetch("ties", queryset=Transformer.objects.only("id", "code"))
    )
    serializer_class = TransformerSerializer
    filterset_class = TransformerFilterSet
    ordering_fields = ["code", "name", "rated_kva", "year", "grid__code"]


class LVLineViewSet(ScopedModelViewSet):
    """Low-voltage lines; `transformer` is the transformer code."""

    queryset = LVLine.objects.select_related("transformer__grid")
    serializer_class = LVLineSerializer
    filterset_class = LVLineFilterSet
    ordering_fields = ["code", "ampacity_a", "length_m", "transformer__code"]


# --- Me -------------------------------------------------------------------------
class TerritorySerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["company", "county", "station", "grid"])
    id = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(allow_null=True)
    name = serializers.CharField()


class RoleAssignmentSerializer(serializers.ModelSerializer):
    role_display = serializers.CharField(source="get_role_display", read_only=True)
    territory = serializers.SerializerMethodField()

    class Meta:
        model = RoleAssignment
        fields = ["role", "role_display", "territory"]

    @extend_schema_field(TerritorySerializer)
    def get_territory(self, assignment: RoleAssignment) -> dict:
        for level in ("county", "station", "grid"):
            target = getattr(assignment, level)
            if target is not None:
                return {"level": level, "id": target.pk, "code": target.code, "name": target.name}
        return {"level": "company", "id": None, "code": None, "name": str(_("All counties"))}


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    roles = RoleAssignmentSerializer(many=True)
    permissions = serializers.ListField(child=serializers.CharField())


class MeView(generics.GenericAPIView):
    """The requesting user: their roles, the territory of each, and their verbs."""

    authentication_classes = API_AUTHENTICATION_CLASSES
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MeSerializer
    schema = ScopedAutoSchema()

    @extend_schema(summary="The current user's roles and territories")
    def get(self, request):
        user = request.user
        assignments = list(
            RoleAssignment.objects.filter(user=user).select_related("county", "station", "grid").order_by("role", "pk")
        )
        if user.is_superuser and not any(a.role == Role.COMPANY_ADMIN for a in assignments):
            # A superuser sees everything, like a company admin without an assignment row.
            assignments.insert(0, RoleAssignment(user=user, role=Role.COMPANY_ADMIN))
        data = {
            "username": user.get_username(),
            "full_name": user.get_full_name(),
            "roles": assignments,
            "permissions": sorted(user.get_all_permissions()),
        }
        return Response(MeSerializer(data, context={"request": request}).data)


