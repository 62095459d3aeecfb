"""FilterSets of the load forecast, one per model, shared by the pages and the API.

The alert queue (`/loadforecast/alerts/`) and `GET /api/v1/alerts/` filter with the same
`AlertFilterSet`: the same parameters select the same alerts. The page shows the filters a
person picks from drop-downs; the others (`code`, `level_min`, `active`, `day`) ride along
as hidden fields when a link sets them.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.filters import IntegerFilter, scoped
from zhoukou_grid.territory.models import Grid, Station

from .models import Alert, AssetProjection, Level, Measure, OutlookItem, OutlookRun, ProjectionRun

ASSET_TYPES = (("transformer", _("Transformer")), ("lvline", _("LV line")))
ALERT_LEVEL_CHOICES = [(level.value, level.label) for level in Level if level.value >= Level.WATCH]
ALL_STATUSES = "all"
MAX_ID = 2**63 - 1


class CodeOrIdChoiceField(forms.ModelChoiceField):
    """A row named by its code (the API, people), or by its id (the page's drop-down and the
    links of pages and notifications). A code is looked up first."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value).strip()
        found = self.queryset.filter(code=value).first()
        if found is None and value.isdigit() and int(value) <= MAX_ID:
            found = self.queryset.filter(pk=int(value)).first()
        if found is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                  params={"value": value})
        return found


class CodeOrIdFilter(django_filters.ModelChoiceFilter):
    field_class = CodeOrIdChoiceField


class OneOrMoreSelect(forms.Select):
    """One drop-down on the page; a request may also repeat the parameter
    (`status=open&status=acknowledged`). Empty values are dropped."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values is None:
            return []
        if not isinstance(values, list | tuple):
            values = [values]
        return [value for value in values if value not in ("", None)]


class StatusFilter(django_filters.MultipleChoiceFilter):
    """Statuses, or "all"; the drop-down's empty choice (`empty_label`) is the default."""

    def __init__(self, *args, empty_label, **kwargs):
        self.empty_label = empty_label
        kwargs.setdefault("widget", OneOrMoreSelect)
        super().__init__(*args, **kwargs)

    @property
    def field(self):
        field = super().field
        field.widget.choices = [("", self.empty_label), *field.choices]
        return field


class AssetFilterSet(django_filters.FilterSet):
    """Filters common to every asset row: type, code, grid, minimum level."""

    asset_type = django_filters.ChoiceFilter(choices=ASSET_TYPES, method="filter_asset_type", label=_("Asset type"))
    code = django_filters.CharFilter(method="filter_code", label=_("Asset code"))
    grid = django_filters.CharFilter(field_name="grid__code", label=_("Grid code"))
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("Level"))
    level_min = IntegerFilter(field_name="level", lookup_expr="gte", label=_("Level at least"))

    def filter_asset_type(self, queryset, name, value):
        return queryset.filter(transformer__isnull=value != "transformer")

    def filter_code(self, queryset, name, value):
        return queryset.filter(Q(transformer__code=value) | Q(line__code=value))


class AlertFilterSet(AssetFilterSet):
    """Alerts by level, status, station, grid and kind of asset; `q` searches the asset's
    code and name, `code` names one asset exactly, `day` an alert's days cover.

    Active alerts are open, acknowledged, measure planned or measure done (`Alert.ACTIVE`).
    Without `status` or `active` only the active alerts are listed, on the page and in the
    API alike: the queue station staff work through is the alerts still to handle, and a
    client asking the API the same question gets the same answer. `status=all` (or
    `active=false`, or the statuses wanted) lists the others.
    """

    q = django_filters.CharFilter(method="filter_search", label=_("Search"))
    code = django_filters.CharFilter(method="filter_code", label=_("Asset code"), widget=forms.HiddenInput)
    level = django_filters.ChoiceFilter(choices=ALERT_LEVEL_CHOICES, label=_("Level"), empty_label=_("Any level"))
    level_min = IntegerFilter(field_name="level", lookup_expr="gte", label=_("Level at least"),
                              widget=forms.HiddenInput)
    status = StatusFilter(choices=[*Alert.Status.choices, (ALL_STATUSES, _("Any status"))], method="filter_status",
                          label=_("Status"), empty_label=_("Active (not dismissed or mitigated)"))
    active = django_filters.BooleanFilter(method="filter_active", label=_("Active"), widget=forms.HiddenInput)
    station = CodeOrIdFilter(field_name="grid__station", queryset=scoped(Station), label=_("Station"),
                             empty_label=_("All stations"))
    grid = CodeOrIdFilter(queryset=scoped(Grid), label=_("Grid"), empty_label=_("All grids"))
    asset_type = django_filters.ChoiceFilter(choices=ASSET_TYPES, method="filter_asset_type",
                                             label=_("Asset"), empty_label=_("Transformers and lines"))
    day = django_filters.DateFilter(method="filter_day", label=_("Alert covers this day"), widget=forms.HiddenInput)

    class Meta:
        model = Alert
        fields = ["q", "level", "status", "station", "grid", "asset_type", "code", "level_min", "active", "day"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if not data.get("status") and data.get("active") is None:
            queryset = queryset.filter(status__in=Alert.ACTIVE)
        return queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(transformer__code__icontains=value) | Q(transformer__name__icontains=value)
                               | Q(line__code__icontains=value))

    def filter_status(self, queryset, name, value):
        return queryset if ALL_STATUSES in value else queryset.filter(status__in=value)

    def filter_active(self, queryset, name, value):
        return queryset.filter(status__in=Alert.ACTIVE) if value else queryset.exclude(status__in=Alert.ACTIVE)

    def filter_day(self, queryset, name, value):
        return queryset.filter(first_date__lte=value, last_date__gte=value)


class ProjectionFilterSet(AssetFilterSet):
    run = IntegerFilter(field_name="run_id", label=_("Run"))
    date = django_filters.DateFilter(label=_("Day"))
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", label=_("From"))
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", label=_("Until"))

    class Meta:
        model = AssetProjection
        fields = ["run", "asset_type", "code", "grid", "date", "date_from", "date_to", "level", "level_min"]


class RunFilterSet(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__code", label=_("Station code"))
    run_date = django_filters.DateFilter(label=_("Run date"))
    status = django_filters.ChoiceFilter(choices=ProjectionRun.Status.choices, label=_("Status"))

    class Meta:
        model = ProjectionRun
        fields = ["station", "run_date", "status"]


class MeasureFilterSet(django_filters.FilterSet):
    alert = IntegerFilter(field_name="alert_id", label=_("Alert"))
    status = django_filters.ChoiceFilter(choices=Measure.Status.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=Measure.Kind.choices, label=_("Measure"))

    class Meta:
        model = Measure
        fields = ["alert", "status", "kind"]


class OutlookRunFilterSet(django_filters.FilterSet):
    station = django_filters.CharFilter(field_name="station__code", label=_("Station code"))
    run_date = django_filters.DateFilter(label=_("Run date"))
    season = IntegerFilter(label=_("Season"))
    latest = django_filters.BooleanFilter(method="filter_latest", label=_("Latest of each station"))

    class Meta:
        model = OutlookRun
        fields = ["station", "run_date", "season", "latest"]

    def filter_latest(self, queryset, name, value):
        from .outlook_selectors import latest_outlook_ids

        return queryset.filter(pk__in=latest_outlook_ids()) if value else queryset


class OutlookItemFilterSet(AssetFilterSet):
    """Outlook items by run (default: the latest run of each station), asset, level, lateness."""

    run = IntegerFilter(field_name="run_id", label=_("Run"))
    station = django_filters.CharFilter(field_name="run__station__code", label=_("Station code"))
    late = django_filters.BooleanFilter(label=_("Late"))

    class Meta:
        model = OutlookItem
        fields = ["run", "station", "asset_type", "code", "grid", "level", "level_min", "late"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("run") is None:
            from .outlook_selectors import latest_outlook_ids

            queryset = queryset.filter(run_id__in=latest_outlook_ids())
        return queryset
