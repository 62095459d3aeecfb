"""Forms of the round planner: opening a round with its target list, adding targets, and
changing one planned visit (move, reassign, cancel, missed).

The forms only check what a user typed; the rules (territory, capacity, period) are
checked by `visits.services`, whose ValidationErrors the views put back on the form.
"""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import Household, KeyCustomer
from zhoukou_grid.core.importing.reader import SpreadsheetError, read_rows
from zhoukou_grid.core.scoping import for_user, writable_for_user
from zhoukou_grid.territory.models import County, Station, Village

from .models import RoundTarget

ACCOUNT_RE = re.compile(r"^[0-9]{10,13}$")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def parse_holidays(text: str) -> list[date]:
    """ISO dates separated by commas, spaces or new lines."""
    days = []
    for part in re.split(r"[\s,，、;；]+", text or ""):
        if not part:
            continue
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            raise forms.ValidationError(
                gettext("“%(value)s” is not a date; write dates like 2027-02-06.") % {"value": part}
            ) from None
    return days


def account_numbers_of(upload) -> list[str]:
    """Account numbers in the first column that holds any (CSV or XLSX, header rows skipped)."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise forms.ValidationError(gettext("The file is larger than 5 MB."))
    try:
        rows = read_rows(upload.read(), upload.name)
    except SpreadsheetError as exc:
        raise forms.ValidationError(str(exc)) from None
    numbers: list[str] = []
    for row in rows:
        for cell in row:
            value = cell
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            value = str(value).strip()
            if ACCOUNT_RE.match(value):
                numbers.append(value)
                break
    if not numbers:
        raise forms.ValidationError(gettext("The file lists no account numbers (10 to 13 digits)."))
    return list(dict.fromkeys(numbers))


class TargetFieldsMixin(forms.Form):
    """Which targets: a source, with the villages or the uploaded list it needs."""

    source = forms.ChoiceField(label=_("Target list"), choices=RoundTarget.Source.choices)
    villages = forms.ModelMultipleChoiceField(label=_("Villages"), queryset=Village.objects.none(), required=False,
                                              help_text=_("For “Chosen villages”."))
    account_file = forms.FileField(label=_("List of account numbers (CSV or XLSX)"), required=False,
                                   help_text=_("For “Uploaded list”: households or key customers, one account "
                                               "number per row."))

    def setup_targets(self, user) -> None:
        self.user = user
        self.fields["villages"].queryset = writable_for_user(user, Village).select_related("grid").order_by(
            "grid__code", "code")

    def clean_targets(self, cleaned) -> None:
        source = cleaned.get("source")
        cleaned["household_ids"], cleaned["key_customer_ids"] = [], []
        if source == RoundTarget.Source.VILLAGES and not cleaned.get("villages"):
            self.add_error("villages", gettext("Choose at least one village."))
        if source == RoundTarget.Source.UPLOAD:
            upload = cleaned.get("account_file")
            if not upload:
                self.add_error("account_file", gettext("Upload the list of account numbers."))
                return
            try:
                numbers = account_numbers_of(upload)
            except forms.ValidationError as exc:
                self.add_error("account_file", exc)
                return
            households = dict(for_user(self.user, Household).filter(account_no__in=numbers)
                              .values_list("account_no", "pk"))
            customers = dict(for_user(self.user, KeyCustomer).filter(account_no__in=numbers)
                             .values_list("account_no", "pk"))
            unknown = [n for n in numbers if n not in households and n not in customers]
            if unknown:
                self.add_error("account_file", gettext(
                    "%(count)d account numbers are not households or key customers of your territory: %(numbers)s"
                ) % {"count": len(unknown), "numbers": "、".join(unknown[:10]) + ("…" if len(unknown) > 10 else "")})
                return
            cleaned["household_ids"] = list(households.values())
            cleaned["key_customer_ids"] = list(customers.values())


class RoundCreateForm(TargetFieldsMixin):
    name = forms.CharField(label=_("Round name"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("Round 2, 2027 Spring Festival")}))
    station = forms.ModelChoiceField(label=_("Station"), queryset=Station.objects.none(), required=False,
                                     empty_label=_("The whole county"))
    period_start = forms.DateField(label=_("First day"), widget=DATE_INPUT)
    period_end = forms.DateField(label=_("Last day"), widget=DATE_INPUT)
    daily_capacity = forms.IntegerField(label=_("Visits per grid manager per day"), initial=8, max_value=100)
    holidays = forms.CharField(label=_("Days without visits"), required=False,
                               widget=forms.Textarea(attrs={"rows": 2, "placeholder": "2027-02-06, 2027-02-07"}),
                               help_text=_("ISO dates, separated by commas or spaces."))

    field_order = ["name", "station", "period_start", "period_end", "daily_capacity", "holidays", "source",
                   "villages", "account_file"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_targets(user)
        self.counties = list(writable_for_user(user, County).order_by("code"))
        self.fields["station"].queryset = writable_for_user(user, Station).order_by("code")
        if not self.counties:
            # Station staff: a round covers one of their stations.
            self.fields["station"].required = True
            self.fields["station"].empty_label = None

    def clean_daily_capacity(self):
        value = self.cleaned_data["daily_capacity"]
        if value < 1:
            raise forms.ValidationError(gettext("A grid manager must be able to make at least one visit a day."))
        return value

    def clean_holidays(self):
        return parse_holidays(self.cleaned_data.get("holidays", ""))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", gettext("The last day lies before the first day."))
        if not cleaned.get("station") and len(self.counties) != 1:
            self.add_error("station", gettext("Choose the station the round covers."))
        self.clean_targets(cleaned)
        return cleaned


class RoundTargetsForm(TargetFieldsMixin):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_targets(user)

    def clean(self):
        cleaned = super().clean()
        self.clean_targets(cleaned)
        return cleaned


class VisitMoveForm(forms.Form):
    planned_date = forms.DateField(label=_("New date"), widget=DATE_INPUT)


class VisitReassignForm(forms.Form):
    grid_manager = forms.TypedChoiceField(label=_("Grid manager"), coerce=int)

    def __init__(self, *args, managers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid_manager"].choices = managers


class VisitCancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class VisitMissedForm(forms.Form):
    reason = forms.CharField(label=_("Why it did not take place"), max_length=300)


class RoundCloseForm(forms.Form):
    """Close a round; the targets it missed may move to another open round over the same grids."""

    next_round = forms.ModelChoiceField(queryset=None, required=False, label=_("Move missed targets to"),
                                        empty_label=_("Do not move them"))

    def __init__(self, *args, user, round_obj, **kwargs):
        from .models import Round

        super().__init__(*args, **kwargs)
        covering = Q(county_id=round_obj.county_id, station__isnull=True)
        if round_obj.station_id:
            covering |= Q(station_id=round_obj.station_id)
        self.fields["next_round"].queryset = (
            writable_for_user(user, Round).filter(covering).exclude(pk=round_obj.pk)
            .exclude(status=Round.Status.CLOSED).order_by("period_start", "name"))
