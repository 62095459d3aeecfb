"""Forms of the key-customer pages: the customer's file and the plan editor with its
hazards formset (一患一策)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.territory.models import Grid, Role, Transformer, Village

from .models import CONTACT_PHONE_MAX_LENGTH, KeyCustomer, ServicePlan
from .parsing import ValueProblem, parse_mobile
from .personal_data import can_reveal


class TextArea(forms.Textarea):
    def __init__(self, rows: int = 3):
        super().__init__(attrs={"rows": rows})


class PhoneFields:
    """Phone fields of a form whose stored numbers are personal data (docs/personal-data.md).

    A user holding `customers.view_personal_data` edits the full number: the form is filled
    with it and the view writes an audit row for that reveal (`prefilled`); an empty field
    then removes the number. Anyone else never receives it: the field starts empty, its help
    shows the masked number, an empty field keeps it and the "remove" box removes it.
    """

    phone_fields: tuple[str, ...] = ()

    def setup_phones(self, *, user, stored: dict[str, str], masked: dict[str, str]) -> None:
        self.reveal = can_reveal(user)
        self.prefilled: list[str] = []  # the fields filled with a full number (audited by the view)
        self.kept: set[str] = set()
        for name in self.phone_fields:
            field = self.fields[name]
            if not masked.get(name):
                continue
            if self.reveal:
                if not self.is_bound:
                    self.initial[name] = stored[name]
                    self.prefilled.append(name)
                continue
            self.initial[name] = ""
            self.kept.add(name)
            now = _("Now %(number)s. Leave empty to keep it; type a new number to change it.") % {
                "number": masked[name]}
            field.help_text = f"{now} {field.help_text}" if field.help_text else now
            self.fields[f"{name}_remove"] = forms.BooleanField(
                label=_("Remove the number %(number)s") % {"number": masked[name]}, required=False)
        order = []
        for key in self.fields:
            if not key.endswith("_remove"):
                order += [key, f"{key}_remove"] if f"{key}_remove" in self.fields else [key]
        self.order_fields(order)

    def phone_changes(self, data: dict) -> dict:
        """The cleaned data without the numbers kept (left empty by a user who never saw them)."""
        for name in self.phone_fields:
            remove = data.pop(f"{name}_remove", False)
            if name in self.kept and not data.get(name) and not remove:
                data.pop(name, None)
            elif remove:
                data[name] = ""
        return data

    def clean_masked(self, value: str) -> str:
        if "*" in value:
            raise forms.ValidationError(_("Enter the full number, not the masked one."))
        return value


class KeyCustomerForm(PhoneFields, forms.ModelForm):
    """The customer's file. Grid, village and transformer are limited to the user's own territory."""

    phone_fields = ("contact_phone", "contact_24h_phone")
    # The contact phone is stored as 11 digits; accept what people type (spaces, +86).
    contact_phone = forms.CharField(label=capfirst(_("contact phone")), max_length=CONTACT_PHONE_MAX_LENGTH, required=False,
                                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    contact_24h_phone = forms.CharField(
        label=capfirst(_("24-hour contact phone")), max_length=CONTACT_PHONE_MAX_LENGTH, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        help_text=_("A mobile or a landline with area code, answered day and night."))

    class Meta:
        model = KeyCustomer
        fields = [
            "account_no", "name", "category", "importance", "grid", "village", "transformer", "address",
            "contact_name", "contact_phone", "contact_24h_name", "contact_24h_phone", "supply", "feeder",
            "backup_kw", "main_loads", "seasonal_needs", "last_inspection",
        ]
        widgets = {
            "main_loads": TextArea(3),
            "seasonal_needs": TextArea(3),
            "last_inspection": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "account_no": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        }
        help_texts = {
            "backup_kw": _("Capacity of the customer's own generator; empty when it has none."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        grids = writable_for_user(user, Grid).order_by("code")
        self.fields["grid"].queryset = grids
        self.fields["village"].queryset = writable_for_user(user, Village).order_by("code")
        self.fields["transformer"].queryset = writable_for_user(user, Transformer).order_by("code")
        if self.instance.pk is None and len(grids) == 1:
            self.fields["grid"].initial = grids[0].pk
        customer = self.instance
        masked = {name: getattr(customer, f"{name}_masked") for name in self.phone_fields} if customer.pk else {}
        # Decrypted only for a user who may see them; the view audits the reveal.
        stored = ({name: getattr(customer, name) for name in self.phone_fields if masked.get(name)}
                  if masked and can_reveal(user) and not self.is_bound else {})
        self.setup_phones(user=user, stored=stored, masked=masked)

    def clean_account_no(self):
        value = self.cleaned_data["account_no"].strip()
        if not value.isdigit() or not 10 <= len(value) <= 13:
            raise forms.ValidationError(_("An account number has 10 to 13 digits."))
        return value

    def clean_contact_phone(self):
        value = self.cleaned_data["contact_phone"].strip()
        if not value:
            return value
        try:
            return parse_mobile(value)
        except ValueProblem:
            raise forms.ValidationError(_("Enter an 11-digit mobile number.")) from None

    def clean_contact_24h_phone(self):
        return self.clean_masked(self.cleaned_data["contact_24h_phone"].strip())

    def service_fields(self) -> dict:
        """The cleaned data as keyword arguments of keycustomer_create/update (ids for relations)."""
        data = self.phone_changes(dict(self.cleaned_data))
        for name in ("grid", "village", "transformer"):
            related = data.pop(name)
            data[f"{name}_id"] = related.pk if related is not None else None
        return data

    def _post_clean(self):
        # The service validates the model (full_clean) and the places; the form only parses.
        pass


def responsible_choices(customer: KeyCustomer):
    """Who may be responsible for a customer's plan: the managers of its grid, the staff of its station."""
    return get_user_model().objects.filter(
        Q(role_assignments__role=Role.GRID_MANAGER, role_assignments__grid_id=customer.grid_id)
        | Q(role_assignments__role=Role.STATION_STAFF, role_assignments__station_id=customer.grid.station_id)
    ).distinct().order_by("username")


class ResponsibleField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        from zhoukou_grid.core.views import display_name

        return display_name(obj)


class ServicePlanForm(PhoneFields, forms.Form):
    """The plan editor (the hazards are a formset of their own)."""

    phone_fields = ("responsible_phone",)

    needs = forms.CharField(label=_("Needs found"), required=False, widget=TextArea(3))
    risks = forms.CharField(label=_("Risks found"), required=False, widget=TextArea(3))
    measures = forms.CharField(label=_("Agreed measures"), required=False, widget=TextArea(4))
    responsible = ResponsibleField(label=_("Responsible grid manager"), queryset=None, required=False)
    responsible_phone = forms.CharField(label=_("Responsible person's phone"), max_length=CONTACT_PHONE_MAX_LENGTH,
                                        required=False,
                                        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    cadence = forms.ChoiceField(label=_("Visit cadence"), choices=ServicePlan.Cadence.choices)
    festival_cadence = forms.ChoiceField(label=_("Visit cadence during the festival"),
                                         choices=ServicePlan.Cadence.choices)
    key_date = forms.DateField(label=_("Visit before and after"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                               help_text=_("A day such as a shutdown or a move: one visit in the days before it "
                                           "and one in the days after it."))
    key_date_margin_days = forms.IntegerField(label=_("Days before and after"), min_value=1, max_value=30,
                                              initial=3, required=False)
    agenda = forms.CharField(label=_("Agenda for the next visits"), required=False, widget=TextArea(3))
    change_note = forms.CharField(label=_("Reason for this version"), max_length=300, required=False,
                                  help_text=_("For example: after the visit of 12 January."))

    def __init__(self, *args, customer: KeyCustomer, user, latest: ServicePlan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible"].queryset = responsible_choices(customer)
        masked = {"responsible_phone": latest.responsible_phone_masked} if latest is not None else {}
        # Decrypted only for a user who may see it; the view audits the reveal.
        stored = ({"responsible_phone": latest.responsible_phone}
                  if masked.get("responsible_phone") and can_reveal(user) and not self.is_bound else {})
        self.setup_phones(user=user, stored=stored, masked=masked)

    @classmethod
    def initial_from(cls, plan: ServicePlan | None) -> dict:
        """The latest version's values, its phone apart (`PhoneFields`)."""
        if plan is None:
            return {"cadence": ServicePlan.Cadence.MONTHLY, "festival_cadence": ServicePlan.Cadence.WEEKLY,
                    "key_date_margin_days": 3}
        initial = {name: getattr(plan, name) for name in (
            "needs", "risks", "measures", "cadence", "festival_cadence", "key_date", "key_date_margin_days", "agenda")}
        initial["responsible"] = plan.responsible_id
        if plan.status == ServicePlan.Status.DRAFT:
            initial["change_note"] = plan.change_note
        return initial

    def clean_key_date_margin_days(self):
        value = self.cleaned_data.get("key_date_margin_days")
        return value if value is not None else ServicePlan._meta.get_field("key_date_margin_days").default

    def clean_responsible_phone(self):
        return self.clean_masked(self.cleaned_data["responsible_phone"].strip())

    def service_fields(self) -> dict:
        data = self.phone_changes(dict(self.cleaned_data))
        responsible = data.pop("responsible")
        data["responsible_id"] = responsible.pk if responsible is not None else None
        return data


class HazardForm(forms.Form):
    """One hazard and its own remedy (一患一策). A row left empty is ignored."""

    hazard = forms.CharField(label=_("Hazard"), max_length=300, required=False)
    remedy = forms.CharField(label=_("Remedy"), max_length=300, required=False)
    deadline = forms.DateField(label=_("Deadline"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self):
        data = super().clean()
        if self.cleaned_data.get("DELETE"):
            return data
        hazard, remedy = (data.get("hazard") or "").strip(), (data.get("remedy") or "").strip()
        if hazard and not remedy:
            self.add_error("remedy", _("Each hazard needs its own remedy."))
        if remedy and not hazard:
            self.add_error("hazard", _("Describe the hazard this remedy is for."))
        return data


HazardFormSet = forms.formset_factory(HazardForm, extra=2, can_delete=True, max_num=50, validate_max=True)


def hazards_initial(plan: ServicePlan | None) -> list[dict]:
    return [dict(item) for item in (plan.hazards if plan else [])]


def hazards_from_formset(formset) -> list[dict]:
    """The formset's hazards in JSON form, empty and deleted rows left out."""
    hazards = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not (data.get("hazard") or "").strip():
            continue
        item = {"hazard": data["hazard"].strip(), "remedy": data["remedy"].strip()}
        if data.get("deadline"):
            item["deadline"] = data["deadline"].isoformat()
        hazards.append(item)
    return hazards
