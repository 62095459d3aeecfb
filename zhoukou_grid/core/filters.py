"""FilterSet building blocks shared by the HTML lists and the API.

Choice lists are themselves scoped to the requesting user, so a filter form never
offers, and a query never matches, anything outside the territory.
"""


from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from zhoukou_grid.core.scoping import for_user


def scoped(model):
    """A queryset callable for ModelChoiceFilter: the model's rows the requester may see."""

    def queryset(request):
        if request is None:
            return model._default_manager.none()
        return for_user(request.user, model)

    return queryset


@extend_schema_field(OpenApiTypes.INT64)
class IntegerFilter(django_filters.NumberFilter):
    """A whole-number filter (an id, a level, kVA) bounded to what the database stores.

    django-filter's NumberFilter takes any decimal (``1e248``), which overflowed the
    integer column in the query (a 500); this one answers 400 for it. The schema says
    integer: drf-spectacular guesses "number" for a NumberFilter whose field it cannot
    follow (`run_id`), and a client generated from it sent 1.5.
    """

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text `q` over `search_fields`."""

    search_fields: tuple[str, ...] = ("code", "name")
    q = django_filters.CharFilter(method="filter_search", label=_("Search"))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


