"""REST API of service cards handed out outside a visit (``/api/v1/service-cards/``).

A list of the card records of the user's territory (those of visits too, marked by
`visit`), and a create that records a grid manager's cards in a village on a day, for a
round or none. Writes go through `services.service_cards_record` (scoped, audited).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from zhoukou_grid.core.api import ScopedModelViewSet, api_validation_error, territory_field
from zhoukou_grid.territory.models import Village

from . import services
from .models import ServiceCardRecord

MAX_CARDS = 10_000  # cards of one village on one day: more is a typing error


class ServiceCardSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    village = serializers.CharField(source="village.code", read_only=True, allow_null=True, default=None)
    village_name = serializers.CharField(source="village.name", read_only=True, allow_null=True, default=None)
    grid_manager = serializers.CharField(source="grid_manager.username", read_only=True)

    class Meta:
        model = ServiceCardRecord
        fields = ["id", "grid", "village", "village_name", "grid_manager", "round", "visit", "date", "handed_out",
                  "posted", "created_at"]


class ServiceCardCreateSerializer(serializers.Serializer):
    village = territory_field(Village)
    round = serializers.IntegerField(required=False, allow_null=True, help_text="The round the cards belong to.")
    date = serializers.DateField(required=False, help_text="Today when left out.")
    handed_out = serializers.IntegerField(min_value=0, max_value=MAX_CARDS, default=0)
    posted = serializers.IntegerField(min_value=0, max_value=MAX_CARDS, default=0)
    grid_manager = serializers.IntegerField(required=False,
                                            help_text="The grid manager's user id; the requesting user when left out.")

    def validate(self, attrs):
        if not attrs.get("handed_out") and not attrs.get("posted"):
            raise serializers.ValidationError({"posted": [_("Record at least one card handed out or posted.")]})
        return attrs


class ServiceCardViewSet(ScopedModelViewSet):
    """Service cards by village: list (filter by village id, round, date) and create."""

    queryset = ServiceCardRecord.objects.select_related("grid", "village", "grid_manager")
    serializer_class = ServiceCardSerializer
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["village", "round", "date"]
    ordering_fields = ["date", "created_at"]

    @extend_schema(request=ServiceCardCreateSerializer, responses={201: ServiceCardSerializer},
                   summary="Record cards handed out or posted in a village outside a visit")
    def create(self, request, *args, **kwargs):
        payload = ServiceCardCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            record = services.service_cards_record(
                user=request.user, grid_manager_id=data.get("grid_manager") or request.user.pk,
                village_id=data["village"].pk, date=data.get("date") or timezone.localdate(),
                handed_out=data["handed_out"], posted=data["posted"], round_id=data.get("round"))
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from None
        record = self.get_queryset().get(pk=record.pk)
        return Response(ServiceCardSerializer(record).data, status=status.HTTP_201_CREATED)
