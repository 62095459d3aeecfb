"""FilterSets of the territory and the network, shared by the HTML lists and the API.
"""


from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.filters import IntegerFilter, SearchFilterSet, scoped
from zhoukou_grid.territory.models import County, Grid, LVLine, Station, Transformer, Village


class CountyFilterSet(SearchFilterSet):
    class Meta:
        model = County
        fields = ["q"]


class StationFilterSet(SearchFilterSet):
    county = django_filters.ModelChoiceFilter(queryset=scoped(County), label=_("County"))

    class Meta:
        model = Station
        fields = ["q", "county"]


class GridFilterSet(SearchFilterSet):
    station = django_filters.ModelChoiceFilter(queryset=scoped(Station), label=_("Station"))
    county = django_filters.ModelChoiceFilter(
        field_name="station__county", queryset=scoped(County), label=_("County")
    )

    class Meta:
        model = Grid
        fields = ["q", "county", "station"]


class VillageFilterSet(SearchFilterSet):
    grid = django_filters.ModelChoiceFilter(queryset=scoped(Grid), label=_("Grid"))
    station = django_filters.ModelChoiceFilter(field_name="grid__station", queryset=scoped(Station), label=_("Station"))

    class Meta:
        model = Village
        fields = ["q", "station", "grid"]


class TransformerFilterSet(SearchFilterSet):
    grid = django_filters.ModelChoiceFilter(queryset=scoped(Grid), label=_("Grid"))
    station = django_filters.ModelChoiceFilter(field_name="grid__station", queryset=scoped(Station), label=_("Station"))
    rated_kva_min = IntegerFilter(field_name="rated_kva", lookup_expr="gte", label=_("Rated kVA from"))
    rated_kva_max = IntegerFilter(field_name="rated_kva", lookup_expr="lte", label=_("Rated kVA to"))

    class Meta:
        model = Transformer
        fields = ["q", "station", "grid", "rated_kva_min", "rated_kva_max"]


class LVLineFilterSet(SearchFilterSet):
    search_fields = ("code", "conductor", "transformer__code", "transformer__name")
    transformer = django_filters.ModelChoiceFilter(queryset=scoped(Transformer), label=_("Transformer"))
    grid = django_filters.ModelChoiceFilter(field_name="transformer__grid", queryset=scoped(Grid), label=_("Grid"))

    class Meta:
        model = LVLine
        fields = ["q", "grid", "transformer"]
