"""Forms of the grid manager's phone pages: the visit log and "could not visit"."""

from __future__ import annotations

import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import ReturningResident
from zhoukou_grid.core.views import display_name

from .models import ChecklistItem, ChecklistResult, CustomerIssue, Hazard
from .photos import photo_prepare

# Advice the grid manager can tick instead of typing (安全用电、节约用电).
RECOMMENDATION_TEMPLATES = (
    ("leakage", _("Test the leakage protector once a month with its test button.")),
    ("heaters", _("Do not run several electric heaters on one socket strip.")),
    ("wires", _("Replace old or damaged wires; do not hang things on service lines.")),
    ("generator", _("Never connect a generator to the house wiring without a changeover switch.")),
    ("off_peak", _("Run water heaters and chargers in off-peak hours to save money.")),
    ("efficient", _("Choose energy-efficient appliances and switch devices off at the wall.")),
)

GUIDANCE_CHOICES = (
    ("guided_payment", _("State Grid Online: paying the bill")),
    ("guided_balance", _("State Grid Online: checking the balance")),
    ("guided_service_change", _("State Grid Online: changing the service type")),
    ("guided_account_transfer", _("State Grid Online: transferring the account")),
    ("guided_find_electrician", _("Find My Electrician")),
)

CHECKLIST_RESULT_CHOICES = [("", _("Not checked")), *ChecklistResult.Result.choices]


def _clean_photo(upload, *, hazard_index=None):
    if not upload:
        return None
    upload.seek(0)
    try:
        return photo_prepare(upload.read(), hazard_index=hazard_index)
    except forms.ValidationError as error:
        raise forms.ValidationError(error.messages) from None


class VisitLogForm(forms.Form):
    """The whole visit on one page; hazards and issues come from the formsets beside it."""

    client_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    met_person = forms.CharField(label=_("Who was met"), max_length=100, required=False)
    needs = forms.CharField(label=_("Needs heard"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    concerns = forms.CharField(label=_("Concerns"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    recommendation_templates = forms.MultipleChoiceField(
        label=_("Recommendations given"), choices=RECOMMENDATION_TEMPLATES, required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    recommendations = forms.CharField(label=_("Other recommendations"), widget=forms.Textarea(attrs={"rows": 2}),
                                      required=False)
    guidance = forms.MultipleChoiceField(label=_("App guidance given"), choices=GUIDANCE_CHOICES, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    cards_handed_out = forms.IntegerField(label=_("Service cards handed out"), min_value=0, max_value=500,
                                          initial=0, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    cards_posted = forms.IntegerField(label=_("Service cards posted on meter boxes"), min_value=0, max_value=500,
                                      initial=0, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    residents = forms.ModelMultipleChoiceField(
        label=_("Returning residents confirmed as arrived"), queryset=ReturningResident.objects.none(),
        required=False, widget=forms.CheckboxSelectMultiple,
    )
    photo = forms.FileField(label=_("Photo of the visit"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp",
                                                                   "capture": "environment"}))

    def __init__(self, *args, residents=None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("client_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        if residents is not None:
            self.fields["residents"].queryset = residents
        self.checklist_fields = []
        for item, label in ChecklistItem.choices:
            name = f"check_{item}"
            self.fields[name] = forms.ChoiceField(label=label, choices=CHECKLIST_RESULT_CHOICES, required=False,
                                                  widget=forms.RadioSelect, initial="")
            self.checklist_fields.append(name)

    def checklist_bound_fields(self):
        return [self[name] for name in self.checklist_fields]

    def clean_photo(self):
        return _clean_photo(self.cleaned_data.get("photo"))

    def clean(self):
        cleaned = super().clean()
        chosen = dict(RECOMMENDATION_TEMPLATES)
        lines = [str(chosen[key]) for key in cleaned.get("recommendation_templates", [])]
        if cleaned.get("recommendations", "").strip():
            lines.append(cleaned["recommendations"].strip())
        cleaned["recommendation_text"] = "\n".join(lines)
        cleaned["checklist"] = [
            {"item": name.removeprefix("check_"), "result": cleaned[name]}
            for name in self.checklist_fields if cleaned.get(name)
        ]
        return cleaned


class HazardForm(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), choices=[("", "—"), *Hazard.Severity.choices])
    deadline = forms.DateField(label=_("Rectify by"), widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(label=_("What is wrong"), widget=forms.Textarea(attrs={"rows": 2}))
    photo = forms.FileField(label=_("Photo"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp",
                                                                   "capture": "environment"}))

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline < timezone.localdate():
            raise forms.ValidationError(_("The deadline cannot be in the past."))
        return deadline

    def clean_photo(self):
        # The index is set by the view once it knows which hazards were filled in.
        return _clean_photo(self.cleaned_data.get("photo"), hazard_index=0)


class IssueForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=[("", "—"), *CustomerIssue.Category.choices])
    description = forms.CharField(label=_("What the customer needs"), widget=forms.Textarea(attrs={"rows": 2}))


HazardFormSet = forms.formset_factory(HazardForm, extra=2, max_num=10)
IssueFormSet = forms.formset_factory(IssueForm, extra=2, max_num=10)


class MissedForm(forms.Form):
    reason = forms.CharField(label=_("Why the visit could not take place"), max_length=300,
                             widget=forms.TextInput(attrs={"autocomplete": "off"}))


MAX_CARDS = 10_000  # cards of one village on one day: more is a typing error


class ServiceCardsForm(forms.Form):
    """Cards handed out or posted on meter boxes in a village outside a visit."""

    village = forms.ModelChoiceField(queryset=None, label=_("Village"))
    round = forms.ModelChoiceField(queryset=None, required=False, label=_("Round"), empty_label=_("No round"))
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    handed_out = forms.IntegerField(label=_("Cards handed out"), min_value=0, max_value=MAX_CARDS, initial=0,
                                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    posted = forms.IntegerField(label=_("Cards posted on meter boxes"), min_value=0, max_value=MAX_CARDS, initial=0,
                                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    grid_manager = forms.ModelChoiceField(queryset=None, required=False, label=_("Grid manager"),
                                          help_text=_("Who handed the cards out; yourself when left empty."))

    def __init__(self, *args, villages, rounds, managers=None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("date", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = villages
        self.fields["round"].queryset = rounds
        if managers is None:
            # A grid manager records their own cards.
            del self.fields["grid_manager"]
        else:
            self.fields["grid_manager"].queryset = managers
            self.fields["grid_manager"].label_from_instance = display_name

    def clean(self):
        data = super().clean()
        if not data.get("handed_out") and not data.get("posted"):
            raise forms.ValidationError(_("Record at least one card handed out or posted."))
        return data
