"""REST API of households (``/api/v1/households/``), scoped like every other viewset."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from zhoukou_grid.core.api import ScopedModelViewSet, territory_field
from zhoukou_grid.territory.models import LVLine, Transformer, Village

from .filters import HouseholdFilterSet
from .models import Household

account_no_validator = RegexValidator(
    r"^[0-9]{10,13}$", _("An account number has 10 to 13 digits.")
)


class HouseholdSerializer(serializers.ModelSerializer):
    village = territory_field(Village)
    village_name = serializers.CharField(source="village.name", read_only=True)
    grid = serializers.CharField(source="village.grid.code", read_only=True)
    transformer = territory_field(Transformer)
    line = territory_field(LVLine, required=False, allow_null=True)

    class Meta:
        model = Household
        fields = ["id", "account_no", "name", "village", "village_name", "grid", "transformer", "line",
                  "phase", "address"]

    def get_fields(self):
        fields = super().get_fields()
        # The database checks the format too; checking here answers 400 instead of 500.
        fields["account_no"].validators.append(account_no_validator)
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        transformer = attrs.get("transformer", getattr(self.instance, "transformer", None))
        line = attrs.get("line", getattr(self.instance, "line", None))
        if line is not None and transformer is not None and line.transformer_id != transformer.pk:
            raise serializers.ValidationError({"line": _("This LV line belongs to another transformer.")})
        return attrs


class HouseholdViewSet(ScopedModelViewSet):
    """Households (electricity accounts); `village`, `transformer` and `line` are codes."""

    queryset = Household.objects.select_related("village__grid", "transformer", "line")
    serializer_class = HouseholdSerializer
    filterset_class = HouseholdFilterSet
    ordering_fields = ["account_no", "name", "village__code", "transformer__code"]
