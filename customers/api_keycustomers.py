"""REST API of key customers and their plans (``/api/v1/keycustomers/``), scoped like the pages.

Writes go through customers.services (territory, verb and audit row there). Contact
phones and a plan's responsible phone are personal data, stored encrypted: always answered
masked, from the stored masked form (nothing is decrypted for an answer); the detail page
and the printed plan sheet are where staff allowed to see them read them in full.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from zhoukou_grid.core.api import MAX_ID, MAX_INT, ScopedModelViewSet, api_validation_error, territory_field
from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import Grid, Transformer, Village

from . import services
from .api import account_no_validator
from .filters import KeyCustomerFilterSet
from .models import KeyCustomer, ServicePlan
from .parsing import ValueProblem, parse_mobile

MASKED_FIELDS = ("contact_phone", "contact_24h_phone")


class MaskedPhoneField(serializers.CharField):
    """A phone written in full and answered as its stored masked form (`<source>_masked`)."""

    def get_attribute(self, instance):
        return getattr(instance, f"{self.source}_masked")


def _refuse_masked(value: str) -> str:
    if "*" in value:
        raise serializers.ValidationError(_("Enter the full number, not the masked one."))
    return value.strip()


class KeyCustomerSerializer(serializers.ModelSerializer):
    grid = territory_field(Grid)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    village = territory_field(Village, required=False, allow_null=True)
    transformer = territory_field(Transformer, required=False, allow_null=True)
    contact_phone = MaskedPhoneField(required=False, allow_blank=True, max_length=20,
                                     help_text="An 11-digit mobile; answered masked (138****1234).")
    contact_24h_phone = MaskedPhoneField(required=False, allow_blank=True, max_length=20,
                                         help_text="Mobile or landline; answered masked.")

    class Meta:
        model = KeyCustomer
        fields = [
            "id", "account_no", "name", "category", "importance", "grid", "grid_name", "village", "transformer",
            "address", "contact_name", "contact_phone", "contact_24h_name", "contact_24h_phone", "supply",
            "feeder", "backup_kw", "main_loads", "seasonal_needs", "last_inspection",
        ]

    def get_fields(self):
        fields = super().get_fields()
        fields["account_no"].validators.append(account_no_validator)
        return fields

    def to_internal_value(self, data):
        # A client that sends back the masked phone it was given (GET then PUT) keeps the number.
        if self.instance is not None and hasattr(data, "items"):
            data = {key: value for key, value in data.items()
                    if not (key in MASKED_FIELDS and value and value == getattr(self.instance, f"{key}_masked"))}
        return super().to_internal_value(data)

    def validate_contact_24h_phone(self, value):
        return _refuse_masked(value)

    def validate_contact_phone(self, value):
        if not value:
            return ""
        try:
            return parse_mobile(value)
        except ValueProblem:
            raise serializers.ValidationError(_("Enter an 11-digit mobile number.")) from None

    def service_fields(self) -> dict:
        data = dict(self.validated_data)
        for name in ("grid", "village", "transformer"):
            if name in data:
                related = data.pop(name)
                data[f"{name}_id"] = related.pk if related is not None else None
        return data


class HazardSerializer(serializers.Serializer):
    hazard = serializers.CharField(max_length=300)
    remedy = serializers.CharField(max_length=300)
    deadline = serializers.DateField(required=False)


class ServicePlanSerializer(serializers.ModelSerializer):
    hazards = HazardSerializer(many=True, read_only=True)
    responsible = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    responsible_phone = MaskedPhoneField(read_only=True, help_text="Answered masked (138****1234).")

    class Meta:
        model = ServicePlan
        fields = [
            "id", "version", "status", "needs", "risks", "measures", "hazards", "responsible", "responsible_phone",
            "cadence", "festival_cadence", "key_date", "key_date_margin_days", "agenda", "change_note",
            "created_at", "created_by", "approved_at",
            "approved_by",
        ]
        read_only_fields = fields


class PlanDraftSerializer(serializers.Serializer):
    """The fields to change in the open draft (or in a new version started from the latest)."""

    needs = serializers.CharField(required=False, allow_blank=True)
    risks = serializers.CharField(required=False, allow_blank=True)
    measures = serializers.CharField(required=False, allow_blank=True)
    hazards = HazardSerializer(many=True, required=False)
    responsible = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID,
                                           help_text="A user id.")
    responsible_phone = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                              help_text="Written in full; answered masked.")
    cadence = serializers.ChoiceField(choices=ServicePlan.Cadence.choices, required=False)
    festival_cadence = serializers.ChoiceField(choices=ServicePlan.Cadence.choices, required=False)
    key_date = serializers.DateField(required=False, allow_null=True,
                                     help_text="A day to visit before and after (a shutdown, a move).")
    key_date_margin_days = serializers.IntegerField(required=False, min_value=1, max_value=30,
                                                    help_text="The days before and after `key_date`.")
    agenda = serializers.CharField(required=False, allow_blank=True)
    change_note = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate_responsible_phone(self, value):
        return _refuse_masked(value)

    def service_fields(self) -> dict:
        data = dict(self.validated_data)
        if "responsible" in data:
            data["responsible_id"] = data.pop("responsible")
        if "hazards" in data:
            data["hazards"] = [
                {key: (value.isoformat() if key == "deadline" else value) for key, value in item.items()}
                for item in data["hazards"]
            ]
        return data


class PlanApproveSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_INT, help_text="The draft's version: approving names what the approver read.")


class KeyCustomerRevealRequestSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=services.KEYCUSTOMER_PERSONAL_FIELDS)


class KeyCustomerRevealSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField(help_text="The full number (empty when none is recorded).")
    tel = serializers.CharField(help_text="A tel: link for the number; empty when none is recorded.")


class KeyCustomerViewSet(ScopedModelViewSet):
    """Key customers (一户一档); `grid`, `village` and `transformer` are codes; phones are
    masked, `POST …/{id}/reveal/` answers one full number (audited)."""

    queryset = KeyCustomer.objects.select_related("grid", "village", "transformer")
    serializer_class = KeyCustomerSerializer
    filterset_class = KeyCustomerFilterSet
    ordering_fields = ["account_no", "name", "category", "importance", "grid__code"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, serializer):
        try:
            serializer.instance = services.keycustomer_create(user=self.request.user, **serializer.service_fields())
        except DjangoValidationError as error:
            raise api_validation_error(error) from None

    def perform_update(self, serializer):
        try:
            serializer.instance = services.keycustomer_update(
                user=self.request.user, customer_id=serializer.instance.pk, **serializer.service_fields()
            )
        except DjangoValidationError as error:
            raise api_validation_error(error) from None

    @extend_schema(request=KeyCustomerRevealRequestSerializer, responses=KeyCustomerRevealSerializer,
                   summary="Reveal one contact phone (audited; needs customers.view_personal_data)")
    @action(detail=True, methods=["post"], filterset_class=None, filter_backends=[])
    def reveal(self, request, pk=None):
        payload = KeyCustomerRevealRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        field = payload.validated_data["field"]
        try:
            customer_id = int(pk)
        except (TypeError, ValueError):
            customer_id = 0
        value = services.keycustomer_reveal(user=request.user, customer_id=customer_id, field=field)
        tel = "tel:" + "".join(ch for ch in value if ch.isdigit()) if value else ""
        response = Response(KeyCustomerRevealSerializer({"field": field, "value": value, "tel": tel}).data)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(summary="Every version of the customer's plan, newest first",
                   responses=ServicePlanSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None, filter_backends=[])
    def plans(self, request, pk=None):
        customer = self.get_object()
        plans = (
            for_user(request.user, ServicePlan).filter(customer=customer)
            .select_related("responsible", "created_by", "approved_by").order_by("-version")
        )
        return Response(ServicePlanSerializer(plans, many=True).data)

    @extend_schema(summary="Save a draft of the plan (a new version from the latest, or the open draft)",
                   request=PlanDraftSerializer, responses={201: ServicePlanSerializer})
    @action(detail=True, methods=["post"], url_path="plans/draft", filterset_class=None, filter_backends=[])
    def draft(self, request, pk=None):
        customer = self.get_object()
        serializer = PlanDraftSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            plan = services.plan_draft(user=request.user, customer_id=customer.pk, **serializer.service_fields())
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        return Response(ServicePlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Approve the open draft (station staff)", request=PlanApproveSerializer,
                   responses={200: ServicePlanSerializer})
    @action(detail=True, methods=["post"], url_path="plans/approve", filterset_class=None, filter_backends=[])
    def approve(self, request, pk=None):
        customer = self.get_object()
        serializer = PlanApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = for_user(request.user, ServicePlan).filter(
            customer=customer, status=ServicePlan.Status.DRAFT, version=serializer.validated_data["version"]
        ).first()
        if draft is None:
            raise ValidationError({"version": [_("This version is not an open draft of the customer's plan.")]})
        try:
            plan = services.plan_approve(user=request.user, plan_id=draft.pk)
        except DjangoValidationError as error:
            raise api_validation_error(error) from None
        return Response(ServicePlanSerializer(plan).data)
