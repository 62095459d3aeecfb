"""The village's returning list on a phone: what a village committee's clerk keeps.

One page lists the village's residents as cards (search by name or the last 4 digits of
a phone, arrived/departed buttons), one form adds or edits an entry, and a feed shows the grid manager every dated change. Every write goes
through `customers.services` (the import's rules, one service), every reveal through
`customers.personal_data` (audited; a clerk reveals only what the village entered).
Anyone who may add residents may use these pages; the navigation offers them to clerks.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import DetailView, ListView, TemplateView

from zhoukou_grid.core.scoping import for_user, writable_for_user
from zhoukou_grid.core.seasons import coming_season
from zhoukou_grid.core.views import display_name
from zhoukou_grid.territory.models import Village

from . import personal_data, selectors, services
from .filters import ReturningResidentFilterSet, season_choices
from .models import MAX_PERSONS, Heating, ResidentChange, ReturningResident
from .parsing import ValueProblem, parse_id_number, parse_mobile

ADD_PERMISSION = "customers.add_returningresident"
CHANGE_PERMISSION = "customers.change_returningresident"
PAGE_SIZE = 30
# How far back the grid manager's feed of list changes reaches.
CHANGES_DAYS = 30


def villages_of(user):
    """The villages whose list the user keeps (a clerk: one)."""
    return writable_for_user(user, Village).order_by("name")


class VillageResidentForm(forms.Form):
    """The list's fields. ID and phone: empty on an edit keeps the stored number."""

    village = forms.ModelChoiceField(queryset=Village.objects.none(), label=_lazy("Village"))
    name = forms.CharField(label=_lazy("Name"), max_length=64)
    phone = forms.CharField(label=_lazy("Mobile phone"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    id_number = forms.CharField(label=_lazy("ID number"), max_length=18, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    head_name = forms.CharField(label=_lazy("Head of household"), max_length=64, required=False)
    workplace = forms.CharField(label=_lazy("Place of work"), max_length=100, required=False)
    persons = forms.IntegerField(label=_lazy("Persons coming home"), min_value=1, max_value=MAX_PERSONS,
                                 initial=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    arrival_date = forms.DateField(label=_lazy("Arrival date"),
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    departure_date = forms.DateField(label=_lazy("Departure date"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    heating = forms.ChoiceField(label=_lazy("Heating"), required=False,
                                choices=[("", "—"), *Heating.choices])
    note = forms.CharField(label=_lazy("Note"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, resident: ReturningResident | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.resident = resident
        villages = villages_of(user)
        self.fields["village"].queryset = villages
        if resident is None and len(villages[:2]) == 1:
            self.fields["village"].initial = villages[0].pk
            self.fields["village"].widget = forms.HiddenInput()
        if resident is not None:
            for name in ("phone", "id_number"):
                masked = personal_data.resident_masked(resident, name)
                if masked:
                    self.fields[name].widget.attrs["placeholder"] = masked
                    self.fields[name].help_text = _lazy("Leave empty to keep the number on file.")

    def _personal(self, name, parser):
        text = self.cleaned_data.get(name, "").strip()
        if not text:
            return ""
        try:
            return parser(text)
        except ValueProblem:
            raise forms.ValidationError(_("Not a valid number.")) from None

    def clean_phone(self):
        return self._personal("phone", parse_mobile)

    def clean_id_number(self):
        return self._personal("id_number", parse_id_number)

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["village_id"] = data.pop("village").pk
        if self.resident is not None:
            # An empty number on an edit keeps the one on file (it is never sent to the page).
            for name in ("phone", "id_number"):
                if not data[name]:
                    data.pop(name)
        return data


def _errors_to_form(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            target = field.removesuffix("_id") if field.removesuffix("_id") in form.fields else None
            for message in errors:
                form.add_error(target if target in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


class VillageListView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """The residents of the user's villages as cards, newest arrivals first within a day."""

    permission_required = ADD_PERMISSION
    template_name = "customers/village/list.html"

    def get_queryset(self):
        queryset = selectors.residents_for(self.request.user).filter(
            village__in=villages_of(self.request.user)).select_related("village")
        # The coming season's list unless another season is asked for (docs/domain.md §6.7).
        search = ReturningResidentFilterSet({"q": self.request.GET.get("q", "")[:40], "season": self.season},
                                            queryset=queryset, request=self.request)
        return search.qs.order_by("arrival_date", "name", "pk")

    @property
    def season(self) -> str:
        value = self.request.GET.get("season", "")
        return value if value in {choice for choice, _label in season_choices()} else str(coming_season())

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            resident_id = int(request.POST.get("resident", ""))
        except ValueError:
            resident_id = None
        if resident_id is None or action not in ("arrived", "departed"):
            messages.error(request, _("Choose an action."))
        elif action == "arrived":
            if services.residents_mark_arrived(user=request.user, resident_ids=[resident_id]):
                messages.success(request, _("Marked as arrived."))
        elif services.residents_mark_departed(user=request.user, resident_ids=[resident_id]):
            messages.success(request, _("Marked as departed."))
        query = request.POST.get("q", "")[:40]
        target = reverse("customers:village_list")
        return HttpResponseRedirect(f"{target}?{_query(query)}" if query else target)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(self.get_queryset(), PAGE_SIZE).get_page(self.request.GET.get("page"))
        villages = list(villages_of(self.request.user)[:3])
        context.update(
            title=_("Village returning list"),
            villages=villages,
            page=page,
            q=self.request.GET.get("q", "")[:40],
            season=self.season,
            season_choices=season_choices(),
            can_change=self.request.user.has_perm(CHANGE_PERMISSION),
            today=timezone.localdate(),
        )
        return context


def _query(q: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": q})


class VillageResidentAddView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """Add one returning resident to the user's village."""

    permission_required = ADD_PERMISSION
    template_name = "customers/village/form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", VillageResidentForm(user=self.request.user))
        context.update(title=_("Add a returning resident"), list_url=reverse("customers:village_list"))
        return context

    def post(self, request, *args, **kwargs):
        form = VillageResidentForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                resident = services.resident_create(user=request.user, source=ReturningResident.Source.VILLAGE,
                                                    **form.service_fields())
            except ValidationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, _("%(name)s is on the list.") % {"name": resident.name})
                return redirect("customers:village_list")
        return self.render_to_response(self.get_context_data(form=form))


class VillageResidentEditView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """Edit one entry; reveal its numbers (audited) when the user may."""

    permission_required = CHANGE_PERMISSION
    model = ReturningResident
    template_name = "customers/village/form.html"
    context_object_name = "resident"

    def get_queryset(self):
        # Outside the user's villages answers 404 like a missing id.
        return writable_for_user(self.request.user, ReturningResident).select_related("village")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        resident = self.object
        context.setdefault("form", VillageResidentForm(user=self.request.user, resident=resident,
                                                       initial=_initial(resident)))
        context.update(
            title=_("Edit %(name)s") % {"name": resident.display_name},
            list_url=reverse("customers:village_list"),
            personal=[{"field": field, "label": label, "masked": personal_data.resident_masked(resident, field)}
                      for field, label in (("phone", _("Mobile phone")), ("id_number", _("ID number")))],
            can_reveal=personal_data.can_reveal_resident(self.request.user, resident),
            revealed=kwargs.get("revealed"),
        )
        return context

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        if request.POST.get("action") == "reveal":
            return self._reveal(request)
        form = VillageResidentForm(request.POST, user=request.user, resident=self.object)
        if form.is_valid():
            try:
                services.resident_update(user=request.user, resident_id=self.object.pk, **form.service_fields())
            except ValidationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, _("Saved."))
                return redirect("customers:village_list")
        return self.render_to_response(self.get_context_data(form=form))

    def _reveal(self, request):
        field = request.POST.get("field", "")
        try:
            value = personal_data.resident_reveal(user=request.user, resident_id=self.object.pk, field=field)
        except personal_data.UnknownPersonalField:
            return JsonResponse({"detail": _("Unknown field.")}, status=400)
        context = self.get_context_data(object=self.object, revealed={"field": field, "value": value,
                                                  "tel": personal_data.tel_url(value) if field == "phone" else ""})
        response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response


def _initial(resident: ReturningResident) -> dict:
    return {"village": resident.village_id, "name": resident.name, "head_name": resident.head_name,
            "workplace": resident.workplace, "persons": resident.persons, "arrival_date": resident.arrival_date,
            "departure_date": resident.departure_date, "heating": resident.heating, "note": resident.note}




class VillageChangesView(LoginRequiredMixin, PermissionRequiredMixin, ListView):
    """The dated changes of the returning lists of the user's villages, newest first."""

    permission_required = "customers.view_residentchange"
    model = ResidentChange
    template_name = "customers/village/changes.html"
    paginate_by = 50

    def get_queryset(self):
        since = timezone.now() - timedelta(days=CHANGES_DAYS)
        return (for_user(self.request.user, ResidentChange).filter(at__gte=since)
                .select_related("resident", "village", "user").order_by("-at", "-pk"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(title=_("Changes to the returning lists"), days=CHANGES_DAYS,
                       rows=[{"change": change, "who": display_name(change.user) if change.user else "—",
                              "fields": ", ".join(_field_label(name) for name in change.fields)}
                             for change in context["object_list"]])
        return context


def _field_label(name: str) -> str:
    try:
        return str(ReturningResident._meta.get_field(name.removesuffix("_id")).verbose_name)
    except FieldDoesNotExist:
        return {"phone": _("Mobile phone"), "id_number": _("ID number")}.get(name, name)


urlpatterns = [
    path("", VillageListView.as_view(), name="village_list"),
    path("add/", VillageResidentAddView.as_view(), name="village_add"),
    path("<int:pk>/", VillageResidentEditView.as_view(), name="village_edit"),
    path("changes/", VillageChangesView.as_view(), name="village_changes"),
]
