"""FilterSets for customers, shared by the HTML lists and the API."""

from __future__ import annotations

import uuid

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from zhoukou_grid.core.filters import SearchFilterSet, scoped
from zhoukou_grid.core.seasons import coming_season, season_label
from zhoukou_grid.territory.models import Grid, Transformer, Village

from .models import Heating, Household, KeyCustomer, Phase, ReturningResident
from .selectors import possible_duplicate


@extend_schema_field(OpenApiTypes.UUID)
class ImportJobFilter(django_filters.CharFilter):
    """The rows an import added or changed last (`?import_job=<job id>`, the link of a finished
    import's page), within the user's territory like every row of the list. A malformed id
    matches nothing, never every row. Hidden on the page: only that link sets it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Import"))
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        try:
            return qs.filter(import_job_id=uuid.UUID(str(value).strip()))
        except ValueError:
            return qs.none()


class HouseholdFilterSet(SearchFilterSet):
    search_fields = ("account_no", "name", "address")
    grid = django_filters.ModelChoiceFilter(field_name="village__grid", queryset=scoped(Grid), label=_("Grid"))
    village = django_filters.ModelChoiceFilter(queryset=scoped(Village), label=_("Village"))
    transformer = django_filters.ModelChoiceFilter(queryset=scoped(Transformer), label=_("Transformer"))
    phase = django_filters.ChoiceFilter(choices=Phase.choices, label=_("Phase"))
    import_job = ImportJobFilter()

    class Meta:
        model = Household
        fields = ["q", "grid", "village", "transformer", "phase", "import_job"]


# The seasons a list filter offers: the coming one and the three before it.
SEASONS_OFFERED = 4
ALL_SEASONS = "all"


def season_choices() -> list[tuple[str, str]]:
    coming = coming_season()
    return [*((str(year), season_label(year, coming)) for year in range(coming, coming - SEASONS_OFFERED, -1)),
            (ALL_SEASONS, gettext("All seasons"))]


@extend_schema_field(OpenApiTypes.STR)
class SeasonFilter(django_filters.ChoiceFilter):
    """A list's season (the Gregorian year of its Lunar New Year), or `all`; the HTML lists
    default to the coming season (`ResidentListView`), the API filters only when asked."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", season_choices)
        kwargs.setdefault("empty_label", None)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, "", ALL_SEASONS):
            return qs
        return qs.filter(season=int(value))


class ReturningResidentFilterSet(SearchFilterSet):
    """Residents: arrival range, place, status, heating, linked or not; search by name or
    by the last four digits of a phone (on the stored masked form, which keeps them: the
number itself is encrypted)."""

    search_fields = ("name", "head_name", "account_no")
    season = SeasonFilter(label=_("Season"))
    arrival_from = django_filters.DateFilter(
        field_name="arrival_date", lookup_expr="gte", label=_("Arriving from"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    arrival_to = django_filters.DateFilter(
        field_name="arrival_date", lookup_expr="lte", label=_("Arriving until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    grid = django_filters.ModelChoiceFilter(field_name="village__grid", queryset=scoped(Grid), label=_("Grid"))
    village = django_filters.ModelChoiceFilter(queryset=scoped(Village), label=_("Village"))
    transformer = django_filters.ModelChoiceFilter(
        field_name="household__transformer", queryset=scoped(Transformer), label=_("Transformer")
    )
    status = django_filters.ChoiceFilter(choices=ReturningResident.Status.choices, label=_("Status"))
    heating = django_filters.ChoiceFilter(choices=Heating.choices, label=_("Heating"))
    linked = django_filters.ChoiceFilter(
        choices=(("yes", _("Linked to a household")), ("no", _("Not linked"))),
        method="filter_linked", label=_("Household link"),
    )
    phone_last4 = django_filters.CharFilter(method="filter_phone_last4", label=_("Phone ending in"),
                                            max_length=4)
    possible_duplicate = django_filters.ChoiceFilter(
        choices=(("yes", _("Also listed in another village")), ("no", _("Listed in one village only"))),
        method="filter_possible_duplicate", label=_("Possible duplicate"),
    )
    import_job = ImportJobFilter()

    class Meta:
        model = ReturningResident
        fields = ["q", "season", "arrival_from", "arrival_to", "grid", "village", "transformer", "status", "heating",
                  "linked", "phone_last4", "possible_duplicate", "import_job"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if len(value) == 4 and value.isdigit():
            # Four digits: the end of a phone number (or part of a name/account number).
            condition = Q(phone_masked__endswith=value)
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": value})
            return queryset.filter(condition)
        return super().filter_search(queryset, name, value)

    def filter_linked(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(household__isnull=False)
        if value == "no":
            return queryset.filter(household__isnull=True)
        return queryset

    def filter_phone_last4(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(phone_masked__endswith=value)

    def filter_possible_duplicate(self, queryset, name, value):
        # Compared among the entries the user can see only.
        if value not in ("yes", "no") or self.request is None:
            return queryset
        flagged = possible_duplicate(self.request.user)
        return queryset.filter(flagged if value == "yes" else ~flagged)

class KeyCustomerFilterSet(SearchFilterSet):
    search_fields = ("account_no", "name")
    grid = django_filters.ModelChoiceFilter(queryset=scoped(Grid), label=_("Grid"))
    category = django_filters.ChoiceFilter(choices=KeyCustomer.Category.choices, label=_("Category"))
    importance = django_filters.ChoiceFilter(choices=KeyCustomer.Importance.choices, label=_("Importance"))
    supply = django_filters.ChoiceFilter(choices=KeyCustomer.Supply.choices, label=_("Supply arrangement"))
    import_job = ImportJobFilter()

    class Meta:
        model = KeyCustomer
        fields = ["q", "grid", "category", "importance", "supply", "import_job"]
