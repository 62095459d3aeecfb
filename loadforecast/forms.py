"""Forms of the load-forecast pages: the alert actions and the projection settings (county
settings and station overrides). The alert queue's filters are `filters.AlertFilterSet`.

The forms check the shape of what was typed; the rules live in the services
(`measure_plan`, `alert_dismiss`, `settings_update`), whose errors the views put back on
these forms field by field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import Transformer

from . import engine
from .models import Alert, Measure
from .services import LINE_MEASURE_KINDS

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# --- Alert actions -----------------------------------------------------------------------


class MeasurePlanForm(forms.Form):
    kind = forms.ChoiceField(label=_("Measure"), choices=Measure.Kind.choices)
    planned_date = forms.DateField(label=_("Date"), widget=DATE_WIDGET)
    neighbour = forms.ModelChoiceField(queryset=Transformer.objects.none(), required=False,
                                       label=_("Tied neighbour taking the load"), empty_label=_("Choose a neighbour"))
    kva = forms.FloatField(label=_("kVA"), required=False, min_value=0.1, max_value=100_000,
                           help_text=_("Load transfer: the kVA moved. Temporary capacity: its rating."))
    kw = forms.FloatField(label=_("kW"), required=False, min_value=0.1, max_value=100_000,
                          help_text=_("Staggered use: the kW to shift out of the evening peak."))
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, alert: Alert, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, **kwargs)
        if alert.line_id:
            self.fields["kind"].choices = [(k, label) for k, label in Measure.Kind.choices if k in LINE_MEASURE_KINDS]
            del self.fields["neighbour"]
        else:
            self.fields["neighbour"].queryset = (for_user(user, Transformer).filter(ties=alert.transformer_id)
                                                 .order_by("code"))
            self.fields["neighbour"].label_from_instance = lambda t: f"{t.code} {t.name} · {t.rated_kva} kVA"


class DismissForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("Give the reason for dismissing the alert.")})


# --- Projection settings -----------------------------------------------------------------


@dataclass(frozen=True)
class SettingField:
    key: str  # the engine.ProjectionSettings field
    label: Any
    kind: str  # "percent" (stored as a fraction), "int", "float" or "shape" (24 values)
    group: Any


LOAD_RATE = _("Thresholds")
DURATIONS = _("Durations")
LOAD = _("Load")
SHAPES = _("Hourly shapes")
FESTIVAL = _("Festival factors")

SETTING_FIELDS = [
    SettingField("watch_load_rate", _("Watch at load rate (%)"), "percent", LOAD_RATE),
    SettingField("heavy_load_rate", _("Heavy load at load rate (%)"), "percent", LOAD_RATE),
    SettingField("overload_load_rate", _("Overload at load rate (%)"), "percent", LOAD_RATE),
    SettingField("thermal_load_rate", _("Thermal critical at load rate (%)"), "percent", LOAD_RATE),
    SettingField("heavy_duration_hours", _("Heavy load for at least (hours in a row)"), "int", DURATIONS),
    SettingField("overload_duration_hours", _("Overload for at least (hours in a row)"), "int", DURATIONS),
    SettingField("cos_phi", _("Power factor cosφ"), "float", LOAD),
    SettingField("household_extra_peak_kw", _("Extra peak per returning household p_hh (kW)"), "float", LOAD),
    SettingField("horizon_days", _("Horizon (days)"), "int", LOAD),
    SettingField("extra_demand_shape", _("Shape of the extra demand s(h), hours 0–23"), "shape", SHAPES),
    SettingField("rural_winter_shape", _("Rural winter shape w(h) for daily maxima, hours 0–23"), "shape", SHAPES),
    SettingField("festival_factor_new_years_eve", _("New Year's Eve (除夕)"), "float", FESTIVAL),
    SettingField("festival_factor_first_day", _("First day (初一)"), "float", FESTIVAL),
    SettingField("festival_factor_second_to_fifth_day", _("Days 2–5 of the first month"), "float", FESTIVAL),
]
SETTING_KEYS = [f.key for f in SETTING_FIELDS]

# Engine messages (one per rule, joined with "; ", in English: the engine is Django-free) →
# the field they are about ("{field}": the pattern's group) and what to say, translated when
# the form is shown (lazy texts, formatted with the pattern's groups at that moment). A
# message no pattern knows still comes out in the person's language, naming the setting.
_ENGINE_MESSAGES = [
    (re.compile(r"^thresholds must increase"), None,
     _("The thresholds must increase: watch < heavy load < overload < thermal critical.")),
    (re.compile(r"^cos_phi "), "cos_phi", _("cosφ must be above 0 and at most 1.")),
    (re.compile(r"^household_extra_peak_kw "), "household_extra_peak_kw", _("p_hh must be above 0 kW.")),
    (re.compile(r"^horizon_days must be between 1 and (?P<max>\d+)"), "horizon_days",
     _("The horizon is 1 to %(max)s days.")),
    (re.compile(r"^(?P<field>heavy_duration_hours|overload_duration_hours) "), "{field}",
     _("Between 1 and 24 hours.")),
    (re.compile(r"^(?P<field>extra_demand_shape|rural_winter_shape) "), "{field}",
     _("Give 24 values, none of them negative.")),
    # The season outlook's settings (outlook_engine.OutlookSettings).
    (re.compile(r"^the window's days before and after"), "window_days_before",
     _("The window's days before and after New Year's Day must not be negative.")),
    (re.compile(r"^the window has (?P<days>\d+) days, at most (?P<max>\d+)"), None,
     _("The window has %(days)s days; at most %(max)s.")),
    (re.compile(r"^normal_min_temperature_c needs 12 monthly values, got (?P<n>\d+)"), "normal_min_temperature_c",
     _("Give 12 monthly values (you gave %(n)s).")),
    (re.compile(r"^normal_min_temperature_c values must be between (?P<low>\S+) and (?P<high>\S+) "),
     "normal_min_temperature_c", _("Each value must be between %(low)s and %(high)s °C.")),
    # Rules shared by many settings.
    (re.compile(r"^unknown setting\(s\): (?P<names>.+)$"), None, _("Unknown settings: %(names)s.")),
    (re.compile(r"^(?P<field>\w+): .* is not a valid value"), "{field}", _("This value is not valid.")),
    (re.compile(r"^(?P<field>\w+) must be positive"), "{field}", _("Must be above 0.")),
    (re.compile(r"^(?P<field>\w+) must not be negative"), "{field}", _("Must not be negative.")),
    (re.compile(r"^(?P<field>\w+) must be at least 1"), "{field}", _("At least 1.")),
]


def engine_errors(message: str, keys: list[str] | None = None,
                  labels: dict[str, Any] | None = None) -> list[tuple[str | None, str]]:
    """Split a SettingsError into (form field or None, message for the person, in the active
    language). `keys` are the form's fields (the projection's by default); `labels` their
    labels, for a message no pattern knows."""
    keys = SETTING_KEYS if keys is None else keys
    labels = {f.key: f.label for f in SETTING_FIELDS} if labels is None else labels
    found = []
    for part in (p.strip() for p in str(message).split(";")):
        if not part:
            continue
        for pattern, field, text in _ENGINE_MESSAGES:
            match = pattern.match(part)
            if match:
                name = match.group("field") if field == "{field}" else field
                found.append((name if name in keys else None, str(text) % match.groupdict()))
                break
        else:
            key = part.split(" ", 1)[0].rstrip(":")
            name = key if key in keys else None
            found.append((name, str(_("This setting is not valid: %(setting)s."))
                          % {"setting": labels.get(key, key) if name else key}))
    return found


def _shape_text(values) -> str:
    return " ".join(f"{v:g}" for v in values)


def _display(spec: SettingField, value) -> str:
    if spec.kind == "percent":
        return f"{value * 100:g}"
    if spec.kind == "shape":
        return _shape_text(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


class ShapeField(forms.CharField):
    """24 numbers separated by spaces or commas."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        parts = [p for p in re.split(r"[\s,，、]+", value.strip()) if p]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise forms.ValidationError(_("Enter numbers only, separated by spaces.")) from None
        if len(numbers) != engine.HOURS or not all(math.isfinite(n) for n in numbers):
            raise forms.ValidationError(_("Give exactly 24 values, one per hour (you gave %(n)d).")
                                        % {"n": len(numbers)})
        return numbers


class ProjectionSettingsForm(forms.Form):
    """The settings a county admin edits. For a county every field is filled in (the
    effective values); for a station override a blank field takes the county's value,
    which the field shows as its placeholder."""

    def __init__(self, data=None, *, effective: engine.ProjectionSettings, stored: dict,
                 inherited: engine.ProjectionSettings | None = None, disabled: bool = False, **kwargs):
        self.override = inherited is not None
        if data is None:
            kwargs["initial"] = {
                spec.key: _display(spec, getattr(effective, spec.key)) for spec in SETTING_FIELDS
                if not self.override or spec.key in stored}
        super().__init__(data, **kwargs)
        self.stored = dict(stored)
        for spec in SETTING_FIELDS:
            required = not self.override
            if spec.kind == "shape":
                field = ShapeField(label=spec.label, required=required, widget=forms.TextInput(
                    attrs={"class": "lf-shape", "inputmode": "decimal"}))
            elif spec.kind == "int":
                field = forms.IntegerField(label=spec.label, required=required)
            else:
                field = forms.FloatField(label=spec.label, required=required,
                                         widget=forms.NumberInput(attrs={"step": "any"}))
            if self.override:
                field.widget.attrs["placeholder"] = _display(spec, getattr(inherited, spec.key))
            field.disabled = disabled
            field.group = spec.group
            self.fields[spec.key] = field

    def groups(self):
        """The bound fields in their groups, for the template."""
        result: dict[str, list] = {}
        for spec in SETTING_FIELDS:
            result.setdefault(str(spec.group), []).append(self[spec.key])
        return list(result.items())

    def values(self) -> dict[str, Any]:
        """The stored `values` this form asks for: keys the form does not edit are kept;
        a county stores only what differs from the defaults, a station what is filled in."""
        defaults = engine.ProjectionSettings()
        values = {k: v for k, v in self.stored.items() if k not in SETTING_KEYS}
        for spec in SETTING_FIELDS:
            value = self.cleaned_data.get(spec.key)
            if value is None:
                continue
            if spec.kind == "percent":
                value = round(value / 100, 6)
            if not self.override:
                default = getattr(defaults, spec.key)
                same = (list(default) == value) if spec.kind == "shape" else default == value
                if same:
                    continue
            values[spec.key] = value
        return values

    def add_engine_error(self, error: engine.SettingsError) -> None:
        for field, message in engine_errors(str(error)):
            self.add_error(field if field in self.fields else None, message)
