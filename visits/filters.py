"""FilterSets of the visits app, shared by the HTML lists, the API and the exports.

Choice lists (grids) are scoped to the requesting user, so a filter never matches
anything outside the territory.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.filters import IntegerFilter, scoped
from zhoukou_grid.territory.models import Grid

from .models import CustomerIssue, Hazard, Visit
from .selectors import OPEN_ISSUE_STATUSES


class HazardFilterSet(django_filters.FilterSet):
    """Hazards by status, severity, grid and "overdue" (deadline passed, not re-checked)."""

    status = django_filters.ChoiceFilter(choices=Hazard.Status.choices, label=_("Status"))
    severity = django_filters.ChoiceFilter(choices=Hazard.Severity.choices, label=_("Severity"))
    grid = django_filters.ModelChoiceFilter(queryset=scoped(Grid), label=_("Grid"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))

    class Meta:
        model = Hazard
        fields = ["status", "severity", "grid", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(deadline__lt=timezone.localdate()) & ~Q(status=Hazard.Status.RECHECKED)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class IssueFilterSet(django_filters.FilterSet):
    """Customer issues by status, category, channel, grid and "overdue" (target time passed, unresolved)."""

    status = django_filters.ChoiceFilter(choices=CustomerIssue.Status.choices, label=_("Status"))
    category = django_filters.ChoiceFilter(choices=CustomerIssue.Category.choices, label=_("Category"))
    channel = django_filters.ChoiceFilter(choices=CustomerIssue.Channel.choices, label=_("Channel"))
    grid = django_filters.ModelChoiceFilter(queryset=scoped(Grid), label=_("Grid"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))

    class Meta:
        model = CustomerIssue
        fields = ["status", "category", "channel", "grid", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = Q(due_at__lt=timezone.now(), status__in=OPEN_ISSUE_STATUSES)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class VisitFilterSet(django_filters.FilterSet):
    date = django_filters.DateFilter(field_name="planned_date")
    date_after = django_filters.DateFilter(field_name="planned_date", lookup_expr="gte")
    date_before = django_filters.DateFilter(field_name="planned_date", lookup_expr="lte")
    status = django_filters.ChoiceFilter(choices=Visit.Status.choices)
    grid_manager = django_filters.CharFilter(field_name="grid_manager__username")
    round = IntegerFilter(field_name="round_id")

    class Meta:
        model = Visit
        fields = ["date", "date_after", "date_before", "status", "grid_manager", "round"]
