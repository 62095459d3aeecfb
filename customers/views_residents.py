"""Returning residents ledger: list with counts and bulk status, detail with reveal, the
unlinked residents to place on a household, and arrivals per day for station staff.

Reads start from `for_user` (through `customers.selectors`); writes go through
`customers.services` (status, links) and `customers.personal_data` (reveals), which check
the verb and the territory and write the audit row. Phone and ID numbers are shown
masked everywhere; the full value is only answered to an explicit reveal (a POST).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.core.seasons import coming_season, season_label
from zhoukou_grid.core.tables import Column
from zhoukou_grid.core.views import Field, ScopedDetailView, ScopedListView, url_of
from zhoukou_grid.territory.models import Grid, Station

from . import personal_data, selectors, services
from .filters import ALL_SEASONS, ReturningResidentFilterSet
from .models import Household, ReturningResident

CHANGE_PERMISSION = "customers.change_returningresident"
IMPORT_KIND = "residents"
COUNT_ROWS = 12
MAX_HOUSEHOLD_CHOICES = 500


def _import_kind_registered() -> bool:
    """The `residents` import/export kind is written by the import engineer: link it once it exists."""
    from zhoukou_grid.core.importing.spec import get_kind

    try:
        get_kind(IMPORT_KIND)
    except LookupError:
        return False
    return True


def _village_label(resident: ReturningResident) -> str:
    if resident.village_group:
        return f"{resident.village.name} {resident.village_group}"
    return resident.village.name


def _season_label(value: str) -> str:
    if value == ALL_SEASONS:
        return _("All seasons")
    return season_label(int(value)) if value.isdigit() else ""


def resident_columns() -> list[Column]:
    return [
        Column("name", _lazy("Name"), accessor="display_name", sort="name", link=url_of("customers:resident_detail"),
               primary=True),
        Column("arrival_date", _lazy("Arrival"), sort="arrival_date"),
        Column("departure_date", _lazy("Departure"), sort="departure_date"),
        Column("village", _lazy("Village"), accessor=_village_label, sort="village__name",
               link=url_of("portal:village_detail", "village_id")),
        Column("household", _lazy("Household"), accessor="household.account_no", sort="household__account_no",
               link=url_of("customers:household_detail", "household_id")),
        Column("transformer", _lazy("Transformer"), accessor="household.transformer.name",
               sort="household__transformer__code", link=url_of("portal:transformer_detail", "household.transformer_id")),
        Column("persons", _lazy("Persons"), sort="persons", numeric=True),
        Column("season", _lazy("Season"), sort="season"),
        Column("heating", _lazy("Heating"), accessor="get_heating_display", sort="heating"),
        Column("phone", _lazy("Phone"), accessor=lambda r: personal_data.resident_masked(r, "phone")),
        Column("status", _lazy("Status"), accessor="get_status_display", sort="status"),
    ]


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def _selected_ids(request) -> list[int]:
    ids = []
    for value in request.POST.getlist("ids"):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids


def _mark(request, action: str, resident_ids: list[int]) -> None:
    """Mark residents arrived or departed and say how many changed."""
    if action == "arrived":
        changed = services.residents_mark_arrived(user=request.user, resident_ids=resident_ids)
        messages.success(request, ngettext("%(count)d resident marked as arrived.",
                                           "%(count)d residents marked as arrived.", changed) % {"count": changed})
    else:
        changed = services.residents_mark_departed(user=request.user, resident_ids=resident_ids)
        messages.success(request, ngettext("%(count)d resident marked as departed.",
                                           "%(count)d residents marked as departed.", changed) % {"count": changed})


class ResidentListView(ScopedListView):
    """Who arrives when, where, with what heating; filters, counts and bulk status changes."""

    model = ReturningResident
    template_name = "customers/residents/list.html"
    filterset_class = ReturningResidentFilterSet
    select_related = ("village", "household__transformer")
    default_sort = "arrival_date"
    search_hint = _lazy("Search by name, or the last 4 digits of a phone")

    @property
    def import_kind(self):
        return IMPORT_KIND if _import_kind_registered() else None

    def get_columns(self):
        return resident_columns()

    def base_queryset(self):
        return selectors.residents_for(self.request.user)

    def get_filterset_data(self):
        """The coming season's list unless the page asks for another season (or all)."""
        data = self.request.GET.copy()
        if not data.get("season"):
            data["season"] = str(coming_season())
        return data

    def post(self, request, *args, **kwargs):
        """Bulk "mark arrived" / "mark departed" of the checked residents."""
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied
        action = request.POST.get("action")
        resident_ids = _selected_ids(request)
        back = _safe_next(request, reverse("customers:resident_list"))
        if action not in ("arrived", "departed"):
            messages.error(request, _("Choose an action."))
        elif not resident_ids:
            messages.warning(request, _("Tick at least one resident first."))
        else:
            _mark(request, action, resident_ids)
        return HttpResponseRedirect(back)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filtered = self.filterset.qs
        context.update(
            title=_("Returning residents"),
            rows=list(zip(context["object_list"], context["table"].rows, strict=True)),
            can_change=self.request.user.has_perm(CHANGE_PERMISSION),
            village_counts=selectors.resident_counts_by_village(filtered, limit=COUNT_ROWS),
            transformer_counts=selectors.resident_counts_by_transformer(filtered, limit=COUNT_ROWS),
            unlinked_url=reverse("customers:resident_unlinked"),
            # The export links carry the season shown (a default is not in the query string).
            season_value=self.filterset.form.data.get("season", ""),
            season_label=_season_label(self.filterset.form.data.get("season", "")),
            import_job_filter=bool(self.request.GET.get("import_job")),
        )
        return context


class LinkHouseholdForm(forms.Form):
    household = forms.ModelChoiceField(queryset=Household.objects.none(), label=_lazy("Household"),
                                       empty_label=_lazy("Choose the household"))

    def __init__(self, *args, households, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households
        self.fields["household"].label_from_instance = lambda h: f"{h.name} · {h.account_no}"


def _households_of_village(user, village_id):
    return for_user(user, Household).filter(village_id=village_id).order_by("name", "account_no")


def _link(request, resident_id: int, household_id) -> bool:
    try:
        household_pk = int(household_id)
    except (TypeError, ValueError):
        messages.error(request, _("Choose the household."))
        return False
    try:
        resident = services.resident_link_household(user=request.user, resident_id=resident_id,
                                                    household_id=household_pk)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return False
    messages.success(request, _("%(name)s is now linked to household %(account)s.")
                     % {"name": resident.name, "account": resident.account_no})
    return True


class ResidentDetailView(ScopedDetailView):
    """One resident: masked personal data with reveal buttons, status actions, household link."""

    model = ReturningResident
    template_name = "customers/residents/detail.html"
    select_related = ("village__grid__station__county", "household__transformer", "household__line")
    list_url_name = "customers:resident_list"

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        action = request.POST.get("action")
        if action == "reveal":
            return self._reveal(request)
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied
        if action in ("arrived", "departed"):
            _mark(request, action, [self.object.pk])
        elif action == "link":
            _link(request, self.object.pk, request.POST.get("household"))
        else:
            messages.error(request, _("Choose an action."))
        return redirect("customers:resident_detail", pk=self.object.pk)

    def _reveal(self, request):
        field = request.POST.get("field", "")
        try:
            value = personal_data.resident_reveal(user=request.user, resident_id=self.object.pk, field=field)
        except personal_data.UnknownPersonalField:
            return JsonResponse({"detail": _("Unknown field.")}, status=400)
        tel = personal_data.tel_url(value) if field == "phone" else ""
        if "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"field": field, "value": value, "tel": tel})
        else:
            context = self.get_context_data(object=self.object, revealed={field: {"value": value, "tel": tel}})
            response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response

    def get_lineage(self, obj):
        grid = obj.village.grid
        return [
            (grid.station.county.name, reverse("portal:county_detail", args=[grid.station.county_id])),
            (grid.station.name, reverse("portal:station_detail", args=[grid.station_id])),
            (grid.name, reverse("portal:grid_detail", args=[grid.pk])),
            (obj.village.name, reverse("portal:village_detail", args=[obj.village_id])),
        ]

    def get_fields(self, obj):
        dash = "—"
        household = obj.household
        return [
            Field(_("Status"), obj.get_status_display()),
            Field(_("Village"), _village_label(obj), reverse("portal:village_detail", args=[obj.village_id])),
            Field(_("Household"), str(household) if household else _("Not linked"),
                  reverse("customers:household_detail", args=[household.pk]) if household else None),
            Field(_("Transformer"), str(household.transformer) if household else dash,
                  reverse("portal:transformer_detail", args=[household.transformer_id]) if household else None),
            Field(_("Head of household"), obj.head_name or dash),
            Field(_("Account number as listed"), obj.account_no or dash),
            Field(_("Persons coming home"), obj.persons),
            Field(_("Arrival date"), obj.arrival_date),
            Field(_("Departure date"), obj.departure_date or _("not given (default stay)")),
            Field(_("Heating"), obj.get_heating_display() or dash),
            Field(_("Extra load"), obj.extra_load or dash),
            Field(_("Place of work"), obj.workplace or dash),
            Field(_("Note"), obj.note or dash),
            Field(_("Arrived at"), timezone.localtime(obj.arrived_at).strftime("%Y-%m-%d %H:%M") if obj.arrived_at else dash),
            Field(_("Departed at"), timezone.localtime(obj.departed_at).strftime("%Y-%m-%d %H:%M") if obj.departed_at else dash),
            Field(_("Source"), obj.get_source_display()),
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = context["object"]
        user = self.request.user
        can_change = user.has_perm(CHANGE_PERMISSION)
        revealed = kwargs.get("revealed") or {}
        context.update(
            title=obj.display_name,
            personal=[
                {"field": field, "label": label, "masked": personal_data.resident_masked(obj, field),
                 "revealed": revealed.get(field)}
                for field, label in (("phone", _("Mobile phone")), ("id_number", _("ID number")))
            ],
            can_reveal=personal_data.can_reveal(user),
            can_change=can_change,
            can_arrive=can_change and obj.status == ReturningResident.Status.EXPECTED,
            can_depart=can_change and obj.status != ReturningResident.Status.DEPARTED,
        )
        if can_change and obj.household_id is None:
            households = _households_of_village(user, obj.village_id)
            if households[:MAX_HOUSEHOLD_CHOICES + 1].count() <= MAX_HOUSEHOLD_CHOICES:
                context["link_form"] = LinkHouseholdForm(households=households,
                                                         initial={"household": _suggested(obj, households)})
        return context


def _suggested(resident, households) -> int | None:
    """The household whose account name is the head of household listed, when exactly one is."""
    if not resident.head_name:
        return None
    matches = [h.pk for h in households if h.name == resident.head_name][:2]
    return matches[0] if len(matches) == 1 else None


class ResidentUnlinkedView(ScopedListView):
    """Residents that matched no household account, each with a form to link one of its village."""

    model = ReturningResident
    template_name = "customers/residents/unlinked.html"
    filterset_class = ReturningResidentFilterSet
    select_related = ("village",)
    default_sort = "arrival_date"
    search_hint = _lazy("Search by name, or the last 4 digits of a phone")

    def get_columns(self):
        return [column for column in resident_columns() if column.key not in ("household", "transformer")]

    def base_queryset(self):
        return selectors.residents_for(self.request.user).filter(household__isnull=True)

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied
        try:
            resident_id = int(request.POST.get("resident", ""))
        except ValueError:
            messages.error(request, _("Choose a resident."))
        else:
            _link(request, resident_id, request.POST.get("household"))
        return HttpResponseRedirect(_safe_next(request, reverse("customers:resident_unlinked")))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        residents = context["object_list"]
        village_ids = {resident.village_id for resident in residents}
        # The households of the villages on this page, in one query.
        households_by_village = defaultdict(list)
        for household in (for_user(self.request.user, Household).filter(village_id__in=village_ids)
                          .order_by("village_id", "name", "account_no").only("pk", "name", "account_no", "village_id")):
            households_by_village[household.village_id].append(household)
        items = []
        for resident, cells in zip(residents, context["table"].rows, strict=True):
            choices = households_by_village.get(resident.village_id, [])
            same_name = [h.pk for h in choices if resident.head_name and h.name == resident.head_name]
            items.append({
                "resident": resident, "cells": cells, "households": choices[:MAX_HOUSEHOLD_CHOICES],
                "suggested": same_name[0] if len(same_name) == 1 else None,
            })
        context.update(title=_("Residents not linked to a household"), items=items,
                       can_change=self.request.user.has_perm(CHANGE_PERMISSION),
                       list_url=reverse("customers:resident_list"))
        return context


# --- Arrivals per day ------------------------------------------------------------------


class ArrivalsForm(forms.Form):
    start = forms.DateField(label=_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_lazy("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    station = forms.ModelChoiceField(queryset=Station.objects.none(), required=False, label=_lazy("Station"),
                                     empty_label=_lazy("All stations"))
    grid = forms.ModelChoiceField(queryset=Grid.objects.none(), required=False, label=_lazy("Grid"),
                                  empty_label=_lazy("All grids"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = for_user(user, Station, include_context=False).order_by("code")
        self.fields["grid"].queryset = for_user(user, Grid).order_by("code")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end of the range is before its start."))
            if (end - start).days >= selectors.MAX_ARRIVAL_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": selectors.MAX_ARRIVAL_DAYS})
        return cleaned


class ArrivalsView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """Residents and persons arriving per day, per grid and station: a chart and a table."""

    permission_required = "customers.view_returningresident"
    template_name = "customers/residents/arrivals.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        today = timezone.localdate()
        default_start, default_end = selectors.default_arrival_range(today)
        form = ArrivalsForm(self.request.GET or None, user=user)
        start, end, station, grid = default_start, default_end, None, None
        if form.is_bound and form.is_valid():
            start = form.cleaned_data["start"] or default_start
            end = form.cleaned_data["end"] or max(start, default_end)
            if (end - start).days >= selectors.MAX_ARRIVAL_DAYS:
                end = start + timedelta(days=selectors.MAX_ARRIVAL_DAYS - 1)
            station, grid = form.cleaned_data["station"], form.cleaned_data["grid"]
        if not form.is_bound:
            form = ArrivalsForm(initial={"start": start, "end": end}, user=user)
        arrivals = selectors.arrivals_per_day(user, start=start, end=end, station=station, grid=grid)
        context.update(
            form=form, start=start, end=end, arrivals=arrivals,
            chart=_chart_data(arrivals),
            weekend_days={day for day in arrivals.days if day.weekday() >= 5},
            list_url=reverse("customers:resident_list"),
        )
        return context


def _chart_data(arrivals: selectors.Arrivals) -> dict:
    """What static/js/arrivals_chart.js draws: persons per day stacked by grid, residents as a line."""
    return {
        "labels": [day.strftime("%m-%d") for day in arrivals.days],
        "dates": [day.isoformat() for day in arrivals.days],
        "grids": [{"label": row.grid.name, "persons": row.persons} for row in arrivals.grid_rows],
        "residents": arrivals.total.residents if arrivals.total else [],
        "text": {
            "persons": _("Persons arriving"),
            "residents": _("Residents (lists)"),
        },
    }


urlpatterns = [
    path("", ResidentListView.as_view(), name="resident_list"),
    path("unlinked/", ResidentUnlinkedView.as_view(), name="resident_unlinked"),
    path("arrivals/", ArrivalsView.as_view(), name="arrivals"),
    path("<int:pk>/", ResidentDetailView.as_view(), name="resident_detail"),
]
