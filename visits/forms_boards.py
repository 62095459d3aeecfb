"""Forms of the hazard and issue boards (their filters are in filters.py).

Choice lists (grids, villages) are limited to the requesting user's own territory, so a
form never offers anything outside it.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.territory.models import Grid, Village

from .models import CustomerIssue, Photo


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
