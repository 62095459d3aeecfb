"""Key customers (一户一档) and their "one household, one policy" plans (一户一策): pages.

Reads start from `for_user`; writes go through customers.services, which check the
territory and the verb again and write the audit rows. Each list/detail view declares
`model` for the outsider test. Contact phones and the plan's responsible phone are personal
data (docs/personal-data.md): masked on every page; a user holding
`customers.view_personal_data` shows one by an audited action, edits the full numbers in
forms that write an audit row when they are filled with them, and prints the plan sheet
with them (an audit row per print). Nobody else ever receives a full number.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import IntegerField, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import for_user, writable_for_user
from zhoukou_grid.core.tables import Column
from zhoukou_grid.core.views import Field, ScopedDetailView, ScopedListView, display_name, url_of
from zhoukou_grid.territory.cards import card_tokens_current, card_url
from zhoukou_grid.territory.cards import qr_svg as card_qr_svg
from zhoukou_grid.territory.models import work_phones

from . import services
from .filters import KeyCustomerFilterSet
from .forms import (
    HazardFormSet,
    KeyCustomerForm,
    ServicePlanForm,
    hazards_from_formset,
    hazards_initial,
)
from .models import KeyCustomer, ServicePlan
from .personal_data import can_reveal

HOTLINE = "95598"


def _audit_prefilled(request, form, *, object_type: str, object_id: int) -> None:
    """One audit row per full number a form was filled with (the field, never the value)."""
    for field in form.prefilled:
        audit_record(user=request.user, action=f"{object_type}.revealed", object_type=object_type,
                     object_id=object_id, detail={"field": field, "on": "edit form"})


def _plan_versions_annotation(queryset):
    """The approved and the newest version number of each customer's plan: two subqueries, no loop."""
    plans = ServicePlan.objects.filter(customer=OuterRef("pk"))
    return queryset.annotate(
        approved_version=Subquery(
            plans.filter(status=ServicePlan.Status.APPROVED).values("version")[:1], output_field=IntegerField()
        ),
        draft_version=Subquery(
            plans.filter(status=ServicePlan.Status.DRAFT).order_by("-version").values("version")[:1],
            output_field=IntegerField(),
        ),
    )


def _plan_state(customer) -> str:
    parts = []
    if customer.approved_version:
        parts.append(_g("v%(version)d approved") % {"version": customer.approved_version})
    if customer.draft_version:
        parts.append(_g("v%(version)d draft") % {"version": customer.draft_version})
    return ", ".join(parts) or _g("no plan yet")


def keycustomer_columns():
    return [
        Column("account_no", _("Account number"), sort="account_no", link=url_of("customers:keycustomer_detail"),
               primary=True),
        Column("name", _("Customer name"), sort="name"),
        Column("category", _("Category"), accessor="get_category_display", sort="category"),
        Column("importance", _("Importance"), accessor="get_importance_display", sort="importance"),
        Column("grid", _("Grid"), accessor="grid.name", sort="grid__code", link=url_of("portal:grid_detail", "grid_id")),
        Column("supply", _("Supply arrangement"), accessor="get_supply_display", sort="supply"),
        Column("backup_kw", _("Backup (kW)"), sort="backup_kw", numeric=True),
        Column("plan", _("Plan"), accessor=_plan_state),
    ]


class KeyCustomerListView(ScopedListView):
    model = KeyCustomer
    template_name = "customers/keycustomers/list.html"
    filterset_class = KeyCustomerFilterSet
    select_related = ("grid",)
    default_sort = "account_no"
    search_hint = _("Search by name or account number")

    def get_columns(self):
        return keycustomer_columns()

    def annotate(self, queryset):
        return _plan_versions_annotation(queryset)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_add"] = self.request.user.has_perm("customers.add_keycustomer")
        return context


# --- The customer's file -----------------------------------------------------------------


def keycustomer_groups(customer: KeyCustomer) -> list[tuple[str, list[Field]]]:
    """The file, in the groups a grid manager reads it in (contacts apart: see `keycustomer_contacts`)."""
    dash = "—"
    grid = customer.grid
    return [
        (_("File"), [
            Field(_("Account number"), customer.account_no),
            Field(_("Customer name"), customer.name),
            Field(_("Category"), customer.get_category_display()),
            Field(_("Importance"), customer.get_importance_display() or dash),
            Field(_("Address"), customer.address or dash),
            Field(_("Grid"), grid.name, reverse("portal:grid_detail", args=[grid.pk])),
            Field(_("Village"), customer.village.name if customer.village_id else dash,
                  reverse("portal:village_detail", args=[customer.village_id]) if customer.village_id else None),
        ]),
        (_("Supply"), [
            Field(_("Supply arrangement"), customer.get_supply_display()),
            Field(_("Feeder"), customer.feeder or dash),
            Field(_("Transformer"), str(customer.transformer) if customer.transformer_id else dash,
                  reverse("portal:transformer_detail", args=[customer.transformer_id]) if customer.transformer_id
                  else None),
            Field(_("Backup generator (kW)"), customer.backup_kw if customer.backup_kw is not None else _("none")),
            Field(_("Last inspection"), customer.last_inspection or dash),
        ]),
    ]


def keycustomer_contacts(customer: KeyCustomer, revealed: dict[str, str]) -> list[dict]:
    """The contact and the 24-hour contact: phones masked unless just revealed."""
    rows = []
    for label, name, field in ((_("Contact"), customer.contact_name, "contact_phone"),
                               (_("24-hour contact"), customer.contact_24h_name, "contact_24h_phone")):
        rows.append({
            "label": label, "name": name, "field": field, "revealed": field in revealed,
            "phone": revealed.get(field) or getattr(customer, f"{field}_masked"),
        })
    return rows


class KeyCustomerDetailView(ScopedDetailView):
    model = KeyCustomer
    template_name = "customers/keycustomers/detail.html"
    select_related = ("grid__station__county", "village", "transformer")
    list_url_name = "customers:keycustomer_list"

    def get_lineage(self, obj):
        grid = obj.grid
        return [
            (grid.station.county.name, reverse("portal:county_detail", args=[grid.station.county_id])),
            (grid.station.name, reverse("portal:station_detail", args=[grid.station_id])),
            (grid.name, reverse("portal:grid_detail", args=[grid.pk])),
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = context["object"]
        user = self.request.user
        plans = list(
            for_user(user, ServicePlan).filter(customer=customer)
            .select_related("responsible", "approved_by").order_by("-version")
        )
        approved = next((p for p in plans if p.status == ServicePlan.Status.APPROVED), None)
        draft = next((p for p in plans if p.status == ServicePlan.Status.DRAFT), None)
        context.update(
            groups=keycustomer_groups(customer),
            contacts=keycustomer_contacts(customer, kwargs.get("revealed", {})),
            can_reveal=can_reveal(user),
            approved=approved,
            draft=draft,
            version_count=len(plans),
            can_edit=user.has_perm("customers.change_keycustomer"),
            can_draft=user.has_perm("customers.change_serviceplan"),
            can_approve=user.has_perm("customers.approve_serviceplan"),
            responsible_name=display_name(approved.responsible) if approved and approved.responsible else "",
        )
        return context


    def post(self, request, *args, **kwargs):
        """Reveal one contact phone (an explicit, audited action); the page shows it once."""
        field = request.POST.get("reveal", "")
        if field not in services.KEYCUSTOMER_PERSONAL_FIELDS:
            return HttpResponseRedirect(request.path)
        value = services.keycustomer_reveal(user=request.user, customer_id=self.kwargs["pk"], field=field)
        self.object = self.get_object()
        context = self.get_context_data(object=self.object, revealed={field: value})
        response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response


class _KeyCustomerFormView(PermissionRequiredMixin, TemplateView):
    template_name = "customers/keycustomers/form.html"

    def get_customer(self):
        return None

    def render_form(self, form, status=200):
        customer = self.get_customer()
        response = self.render_to_response({"form": form, "customer": customer}, status=status)
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request, *args, **kwargs):
        customer = self.get_customer()
        form = KeyCustomerForm(user=request.user, instance=customer)
        if customer is not None:
            _audit_prefilled(request, form, object_type="keycustomer", object_id=customer.pk)
        return self.render_form(form)

    def post(self, request, *args, **kwargs):
        form = KeyCustomerForm(request.POST, user=request.user, instance=self.get_customer())
        if form.is_valid():
            try:
                customer = self.save(form)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _g("The file of %(name)s is saved.") % {"name": customer.name})
                return HttpResponseRedirect(reverse("customers:keycustomer_detail", args=[customer.pk]))
        return self.render_form(form, status=400)


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field.removesuffix("_id") if field.removesuffix("_id") in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class KeyCustomerCreateView(_KeyCustomerFormView):
    """A new key customer's file, in a grid of the user's own territory (no `model`: it shows no object)."""

    permission_required = "customers.add_keycustomer"

    def save(self, form):
        return services.keycustomer_create(user=self.request.user, **form.service_fields())


class KeyCustomerUpdateView(_KeyCustomerFormView):
    model = KeyCustomer
    permission_required = "customers.change_keycustomer"

    def get_customer(self):
        if not hasattr(self, "_customer"):
            queryset = writable_for_user(self.request.user, KeyCustomer).select_related("grid")
            self._customer = get_object_or_404(queryset, pk=self.kwargs["pk"])
        return self._customer

    def save(self, form):
        return services.keycustomer_update(user=self.request.user, customer_id=self.get_customer().pk,
                                           **form.service_fields())


# --- Plans ---------------------------------------------------------------------------------


class PlanEditView(PermissionRequiredMixin, TemplateView):
    """The plan editor: saves a draft (a new version from the approved one, or the open draft)."""

    model = KeyCustomer
    permission_required = "customers.change_serviceplan"
    template_name = "customers/keycustomers/plan_form.html"

    @cached_property
    def customer(self) -> KeyCustomer:
        queryset = writable_for_user(self.request.user, KeyCustomer).select_related("grid__station")
        return get_object_or_404(queryset, pk=self.kwargs["pk"])

    def latest(self):
        return for_user(self.request.user, ServicePlan).filter(customer=self.customer).order_by("-version").first()

    def render_forms(self, form, formset, latest, status=200):
        response = self.render_to_response(
            {"customer": self.customer, "form": form, "formset": formset, "latest": latest}, status=status
        )
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request, *args, **kwargs):
        latest = self.latest()
        form = ServicePlanForm(customer=self.customer, user=request.user, latest=latest,
                               initial=ServicePlanForm.initial_from(latest))
        if latest is not None:
            _audit_prefilled(request, form, object_type="serviceplan", object_id=latest.pk)
        formset = HazardFormSet(prefix="hazards", initial=hazards_initial(latest))
        return self.render_forms(form, formset, latest)

    def post(self, request, *args, **kwargs):
        form = ServicePlanForm(request.POST, customer=self.customer, user=request.user, latest=self.latest())
        formset = HazardFormSet(request.POST, prefix="hazards")
        if form.is_valid() and formset.is_valid():
            try:
                plan = services.plan_draft(user=request.user, customer_id=self.customer.pk,
                                           hazards=hazards_from_formset(formset), **form.service_fields())
            except ValidationError as error:
                _add_errors(form, error)
            else:
                if "add_hazard" in request.POST:
                    # No script: "another hazard" saves and reopens the editor with empty rows.
                    return HttpResponseRedirect(reverse("customers:keycustomer_plan_edit", args=[self.customer.pk]))
                messages.success(request, _g("Version %(version)d is saved as a draft.") % {"version": plan.version})
                return HttpResponseRedirect(reverse("customers:serviceplan_detail", args=[plan.pk]))
        return self.render_forms(form, formset, self.latest(), status=400)


def responsible_work_phone(plan: ServicePlan | None) -> str:
    """The responsible person's work phone from their profile: the one number customers are
    given, the same on the plan page, the plan sheet and the service cards ("" if none)."""
    if plan is None or not plan.responsible_id:
        return ""
    return work_phones([plan.responsible_id]).get(plan.responsible_id, "")


def plan_fields(plan: ServicePlan, revealed: str = "") -> list[Field]:
    """The plan's fields. The responsible phone is the person's work phone; a number typed on
    the plan (only for a responsible person without one) is masked unless just revealed."""
    dash = "—"
    revealed = responsible_work_phone(plan) or revealed
    return [
        Field(_("Needs found"), plan.needs or dash),
        Field(_("Risks found"), plan.risks or dash),
        Field(_("Agreed measures"), plan.measures or dash),
        Field(_("Responsible grid manager"), display_name(plan.responsible) if plan.responsible else dash),
        Field(_("Responsible person's phone"), revealed or plan.responsible_phone_masked or dash),
        Field(_("Visit cadence"), plan.get_cadence_display()),
        Field(_("Visit cadence during the festival"), plan.get_festival_cadence_display()),
        Field(_("Visit before and after"), _("%(day)s, %(days)d days either side") % {
            "day": plan.key_date.isoformat(), "days": plan.key_date_margin_days} if plan.key_date else dash),
        Field(_("Agenda for the next visits"), plan.agenda or dash),
    ]


class ServicePlanDetailView(ScopedDetailView):
    """One version of a plan; station staff approve a draft here (POST)."""

    model = ServicePlan
    template_name = "customers/keycustomers/plan_detail.html"
    select_related = ("customer__grid__station__county", "responsible", "created_by", "approved_by")
    list_url_name = "customers:keycustomer_list"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        plan = context["object"]
        user = self.request.user
        context.update(
            title=f"{plan.customer.name} · {_g('version %(version)d') % {'version': plan.version}}",
            customer=plan.customer,
            plan_fields=plan_fields(plan, kwargs.get("revealed", "")),
            can_reveal_phone=bool(plan.responsible_phone_masked) and not responsible_work_phone(plan) and can_reveal(user) and not kwargs.get("revealed"),
            can_approve=plan.status == ServicePlan.Status.DRAFT and user.has_perm("customers.approve_serviceplan"),
            created_by=display_name(plan.created_by) if plan.created_by else "",
            approved_by=display_name(plan.approved_by) if plan.approved_by else "",
        )
        return context

    def post(self, request, *args, **kwargs):
        if request.POST.get("reveal") == "responsible_phone":
            # Show the responsible phone once (an explicit, audited action).
            value = services.plan_reveal_phone(user=request.user, plan_id=self.kwargs["pk"])
            self.object = self.get_object()
            response = self.render_to_response(self.get_context_data(object=self.object, revealed=value))
            response["Cache-Control"] = "no-store"
            return response
        plan = self.get_object()
        if request.POST.get("action") != "approve":
            return HttpResponseRedirect(request.path)
        try:
            services.plan_approve(user=request.user, plan_id=plan.pk)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _g("Version %(version)d is approved.") % {"version": plan.version})
        return HttpResponseRedirect(request.path)


class PlanHistoryView(ScopedDetailView):
    """Every version of a customer's plan, and what changed between any two of them."""

    model = KeyCustomer
    template_name = "customers/keycustomers/plan_history.html"
    select_related = ("grid",)
    list_url_name = "customers:keycustomer_list"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = context["object"]
        versions = list(
            for_user(self.request.user, ServicePlan).filter(customer=customer)
            .select_related("created_by", "approved_by").order_by("-version")
        )
        by_version = {plan.version: plan for plan in versions}
        older = newer = None
        if len(versions) >= 2:
            newer_no = _int(self.request.GET.get("b"), versions[0].version)
            older_no = _int(self.request.GET.get("a"), versions[1].version)
            newer, older = by_version.get(newer_no), by_version.get(older_no)
            if older is not None and newer is not None and older.version > newer.version:
                older, newer = newer, older
        labels = {name: str(ServicePlan._meta.get_field(
            f"{name}_masked" if name in services.PHONE_FIELDS else name.removesuffix("_id")).verbose_name)
            for name in services.PLAN_FIELDS}
        changes = []
        if older is not None and newer is not None and older != newer:
            for change in services.plan_changes(older, newer):
                changes.append({
                    "label": labels[change.name],
                    "name": change.name,
                    "old": _display_value(change.name, change.old, versions),
                    "new": _display_value(change.name, change.new, versions),
                    "hazards": change.hazards,
                })
        context.update(
            title=customer.name,
            customer=customer,
            versions=versions,
            older=older,
            newer=newer,
            changes=changes,
        )
        return context


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _display_value(name, value, versions):
    if name in ("cadence", "festival_cadence"):
        return dict(ServicePlan.Cadence.choices).get(value, value)
    if name == "responsible_id":
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=value).first() if value else None
        return display_name(user) if user else "—"
    return value if value not in (None, "") else "—"


class PlanPrintView(ScopedDetailView):
    """The one-page sheet of the current approved plan that a grid manager hands over."""

    model = KeyCustomer
    template_name = "customers/keycustomers/plan_print.html"
    select_related = ("grid__station", "village", "transformer")
    list_url_name = "customers:keycustomer_list"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = context["object"]
        user = self.request.user
        plan = (
            for_user(user, ServicePlan).filter(customer=customer, status=ServicePlan.Status.APPROVED)
            .select_related("responsible").first()
        )
        reveal = can_reveal(user)
        if plan is not None:
            audit_record(user=user, action="plan.printed", object_type="serviceplan", object_id=plan.pk,
                         detail={"customer": customer.pk, "personal_data": reveal})

        def show(holder, field):
            # Decrypted only for a user who may see it, on a sheet whose printing is audited.
            if holder is None:
                return ""
            return getattr(holder, field) if reveal and plan is not None else getattr(holder, f"{field}_masked")

        context.update(
            customer=customer,
            plan=plan,
            contact_phone=show(customer, "contact_phone"),
            contact_24h_phone=show(customer, "contact_24h_phone"),
            responsible_phone=responsible_work_phone(plan) or show(plan, "responsible_phone"),
            responsible_name=display_name(plan.responsible) if plan and plan.responsible else "",
            hotline=HOTLINE,
            # The grid's service card QR code, inline SVG: the sheet prints offline (issue 15).
            card_qr=mark_safe(card_qr_svg(card_url(card_tokens_current([customer.grid_id])[customer.grid_id],  # noqa: S308
                                                   self.request))) if plan is not None else "",
        )
        return context


urlpatterns = [
    path("", KeyCustomerListView.as_view(), name="keycustomer_list"),
    path("new/", KeyCustomerCreateView.as_view(), name="keycustomer_create"),
    path("<int:pk>/", KeyCustomerDetailView.as_view(), name="keycustomer_detail"),
    path("<int:pk>/edit/", KeyCustomerUpdateView.as_view(), name="keycustomer_edit"),
    path("<int:pk>/plan/", PlanEditView.as_view(), name="keycustomer_plan_edit"),
    path("<int:pk>/plan/print/", PlanPrintView.as_view(), name="keycustomer_plan_print"),
    path("<int:pk>/plans/", PlanHistoryView.as_view(), name="keycustomer_plan_history"),
    path("plans/<int:pk>/", ServicePlanDetailView.as_view(), name="serviceplan_detail"),
]
