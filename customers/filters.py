"""FilterSets for customers, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.filters import SearchFilterSet, scoped
from zhoukou_grid.models import Grid, Transformer, Village

from .models import Household, Phase


class HouseholdFilterSet(SearchFilterSet):
    search_fields = ("account_no", "name", "address")
    grid = django_filters.ModelChoiceFilter(field_name="village__grid", queryset=scoped(Grid), label=_("Grid"))
    village = django_filters.ModelChoiceFilter(queryset=scoped(Village), label=_("Village"))
    transformer = django_filters.ModelChoiceFilter(queryset=scoped(Transformer), label=_("Transformer"))
    phase = django_filters.ChoiceFilter(choices=Phase.choices, label=_("Phase"))

    class Meta:
        model = Household
        fields = ["q", "grid", "village", "transformer", "phase"]
