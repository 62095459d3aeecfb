"""Filters and forms of the hazard and issue boards (the filters serve the HTML boards and the API).

Choice lists (grids, villages) are scoped to the requesting user, so a form never offers,
and a filter never matches, anything outside the territory.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.filters import scoped
from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.territory.models import Grid, Village

from .models import CustomerIssue, Hazard, Photo
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


class StepForm(forms.Form):
    """The next step of a hazard or an issue, with an optional note."""

    step = forms.CharField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class HazardPhotoForm(forms.Form):
    kind = forms.ChoiceField(label=_("Photo"), choices=[(Photo.Kind.BEFORE, Photo.Kind.BEFORE.label),
                                                       (Photo.Kind.AFTER, Photo.Kind.AFTER.label)])
    image = forms.FileField(label=_("Image"))


class IssueRaiseForm(forms.Form):
    """An issue that came by phone or the hotline (visit issues come with the visit log)."""

    grid = forms.ModelChoiceField(label=_("Grid"), queryset=Grid.objects.none())
    village = forms.ModelChoiceField(label=_("Village"), queryset=Village.objects.none(), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[(CustomerIssue.Channel.PHONE, CustomerIssue.Channel.PHONE.label),
                                                            (CustomerIssue.Channel.HOTLINE,
                                                             CustomerIssue.Channel.HOTLINE.label)])
    category = forms.ChoiceField(label=_("Category"), choices=CustomerIssue.Category.choices)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        grids = writable_for_user(user, Grid).select_related("station").order_by("code")
        self.fields["grid"].queryset = grids
        self.fields["village"].queryset = writable_for_user(user, Village).order_by("code")
        if len(grids[:2]) == 1:
            self.fields["grid"].initial = grids[0].pk

    def clean(self):
        data = super().clean()
        village, grid = data.get("village"), data.get("grid")
        if village and grid and village.grid_id != grid.pk:
            self.add_error("village", _("This village is not in the chosen grid."))
        return data
