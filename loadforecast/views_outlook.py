"""The season outlook pages (docs/domain.md §6.7): a station's outlook with its headline,
days and items (and their XLSX), a county's stations with list coverage. Reads through
`outlook_selectors` (scoped); station staff may make the outlook again from the page."""

from __future__ import annotations

import datetime as dt
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import DetailView

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import for_user, get_for_user_or_404, writable_for_user
from zhoukou_grid.territory.models import County, Station

from . import outlook_engine, outlook_selectors, selectors
from .engine import SettingsError
from .forms import MeasurePlanForm, engine_errors
from .models import LEVEL_CODES, Level, OutlookItem, OutlookSettings
from .outlook_notify import asset_key, planned_assets
from .outlook_services import outlook_item_for_planning, outlook_measure_plan, outlook_settings_update, outlook_station
from .resources import OUTLOOK_COLUMNS, outlook_row
from .services import LINE_MEASURE_KINDS

LEVELS_SHOWN = (Level.THERMAL, Level.OVERLOAD, Level.HEAVY, Level.WATCH)
MEASURE_LABELS = {
    "transfer": _lazy("Load transfer"), "phase_balance": _lazy("Phase balancing"),
    "temp_capacity": _lazy("Temporary capacity"), "staggered": _lazy("Staggered-use notice"),
    "patrol": _lazy("Patrol and infrared check"),
}


def _level_counts(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(LEVEL_CODES[level], Level(level).label, counts.get(LEVEL_CODES[level], 0)) for level in LEVELS_SHOWN]


def xlsx_response(rows: list[dict], filename: str) -> HttpResponse:
    """The rows in the `outlook` export columns as one worksheet."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet("outlook")
    sheet.write_row(0, 0, OUTLOOK_COLUMNS, workbook.add_format({"bold": True}))
    for r, row in enumerate(rows, start=1):
        for c, key in enumerate(OUTLOOK_COLUMNS):
            value = row[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, "" if value is None else str(value))
    workbook.close()
    response = HttpResponse(buffer.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class StationOutlookView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """春节负荷展望 of a station: the latest outlook run, its headline, days and items."""

    permission_required = "loadforecast.view_outlookitem"
    template_name = "loadforecast/outlook_station.html"
    model = Station

    def get_object(self, queryset=None):
        return get_for_user_or_404(self.request.user, Station.objects.select_related("county"), pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        run = outlook_selectors.latest_outlook(self.object)
        items = list(outlook_selectors.outlook_items(request.user, run)) if run else []
        if request.GET.get("format") == "xlsx":
            audit_record(user=request.user, action="export", object_type="loadforecast.outlookrun",
                         object_id=run.pk if run else None, detail={"kind": "outlook", "rows": len(items)})
            return xlsx_response([outlook_row(item) for item in items],
                                 f"outlook-{self.object.code}-{run.run_date if run else 'none'}.xlsx")
        return self.render_to_response(self.get_context_data(object=self.object, run=run, items=items))

    def post(self, request, *args, **kwargs):
        station = get_for_user_or_404(request.user, writable_for_user(request.user, Station), pk=self.kwargs["pk"])
        if not request.user.has_perm("loadforecast.add_projectionrun"):
            return HttpResponse(status=403)
        run = outlook_station(station_id=station.pk, run_date=timezone.localdate(), user=request.user)
        messages.success(request, _("Season outlook made for %(date)s.") % {"date": run.run_date.isoformat()})
        return redirect("loadforecast:outlook_station", pk=station.pk)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run, items = kwargs["run"], kwargs["items"]
        headline = run.headline if run else {}
        dates = [day["date"] for day in run.days] if run else []
        rows = []
        planned = planned_assets(items, since=run.first_day) if run else set()
        for item in items:
            rows.append({
                "item": item, "code": item.asset.code, "is_line": bool(item.line_id),
                "planned": asset_key(item) in planned,
                "measures": [{**m, "label": MEASURE_LABELS.get(m["kind"], m["kind"])} for m in item.measures],
                "cells": [{"date": dates[d], "level": LEVEL_CODES.get(day[0], "normal"), "pct": round(day[1] * 100),
                           "registered": day[3], "estimated": day[4]} for d, day in enumerate(item.daily)],
            })
        context.update(
            title=_("Spring Festival load outlook: %(station)s") % {"station": self.object.name},
            kind=_("Season outlook"), station=self.object, run=run, rows=rows, headline=headline,
            t_levels=_level_counts(headline.get("transformers", {})),
            l_levels=_level_counts(headline.get("lines", {})),
            can_run=self.request.user.has_perm("loadforecast.add_projectionrun")
            and writable_for_user(self.request.user, Station).filter(pk=self.object.pk).exists(),
            today=timezone.localdate(),
        )
        return context


class CountyOutlookView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """A county's stations: their outlook headlines summed, and which villages have sent
    this season's list."""

    permission_required = "loadforecast.view_outlookitem"
    template_name = "loadforecast/outlook_county.html"
    model = County

    def get_object(self, queryset=None):
        return get_for_user_or_404(self.request.user, County.objects.all(), pk=self.kwargs["pk"])

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        rows = outlook_selectors.county_outlook(request.user, self.object)
        if request.GET.get("format") == "xlsx":
            items = outlook_selectors.latest_outlook_items(request.user).filter(
                run__station__county=self.object).select_related("run__station", "transformer", "line").order_by(
                "run__station__code", "-level", "-peak_load_rate", "pk")
            items = list(items)
            audit_record(user=request.user, action="export", object_type="territory.county",
                         object_id=self.object.pk, detail={"kind": "outlook", "rows": len(items)})
            return xlsx_response([outlook_row(item) for item in items], f"outlook-{self.object.code}.xlsx")
        return self.render_to_response(self.get_context_data(object=self.object, rows=rows))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = kwargs["rows"]
        totals = outlook_selectors.county_totals(rows)
        for row in rows:
            headline = row["run"].headline if row["run"] else {}
            row["levels"] = _level_counts(headline.get("transformers", {}))
            row["headline"] = headline
        context.update(
            title=_("Spring Festival load outlook: %(county)s") % {"county": self.object.name},
            kind=_("Season outlook"), county=self.object, rows=rows, totals=totals,
            t_levels=_level_counts(totals["transformers"]), l_levels=_level_counts(totals["lines"]),
        )
        return context


class OutlookSettingsForm(forms.Form):
    """The §6.7 settings of a county; validated again by `OutlookSettings` (the engine)."""

    window_days_before = forms.IntegerField(label=_lazy("Window: days before New Year's Day"))
    window_days_after = forms.IntegerField(label=_lazy("Window: days after New Year's Day"))
    reach_days = forms.IntegerField(label=_lazy("Outlook starts this many days before New Year's Day"))
    normal_min_temperature_c = forms.CharField(
        label=_lazy("Normal minimum temperature per month, January to December (°C)"),
        help_text=_lazy("12 numbers separated by commas, from the county weather bureau."))
    use_estimates = forms.BooleanField(label=_lazy("Estimate villages without a list from last season"),
                                       required=False)
    lead_days_temp_capacity = forms.IntegerField(label=_lazy("Lead time: temporary capacity (days)"))
    lead_days_transfer = forms.IntegerField(label=_lazy("Lead time: load transfer (days)"))
    lead_days_phase_balance = forms.IntegerField(label=_lazy("Lead time: phase balancing (days)"))
    lead_days_staggered = forms.IntegerField(label=_lazy("Lead time: staggered-use notice (days)"))
    lead_days_patrol = forms.IntegerField(label=_lazy("Lead time: patrol (days)"))
    notice_days_before_order_by = forms.IntegerField(label=_lazy("Tell station staff this many days before an "
                                                                 "order-by date"))

    def clean_normal_min_temperature_c(self):
        text = self.cleaned_data["normal_min_temperature_c"].replace("，", ",")
        try:
            return [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("Write 12 numbers separated by commas, e.g. -3, -1, 4, …")) from None

    @staticmethod
    def initial_from(settings: outlook_engine.OutlookSettings) -> dict:
        values = settings.to_dict()
        values["normal_min_temperature_c"] = ", ".join(f"{t:g}" for t in settings.normal_min_temperature_c)
        return values

    def add_engine_error(self, error: SettingsError) -> None:
        """The engine's refusal, on the fields it is about, in the person's language."""
        labels = {name: field.label for name, field in self.fields.items()}
        for field, message in engine_errors(str(error), keys=list(self.fields), labels=labels):
            self.add_error(field, message)

    def values(self) -> dict:
        """Only the values that differ from the defaults."""
        defaults = outlook_engine.OutlookSettings().to_dict()
        return {k: v for k, v in self.cleaned_data.items() if v != defaults[k]}


class CountyOutlookSettingsView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """A county's season-outlook settings: county admins edit them (audited), others read."""

    permission_required = "loadforecast.view_outlooksettings"
    template_name = "loadforecast/outlook_settings.html"
    model = County

    def get_object(self, queryset=None):
        return get_for_user_or_404(self.request.user, County.objects.all(), pk=self.kwargs["pk"])

    def can_edit(self, county: County) -> bool:
        user = self.request.user
        return user.has_perm("loadforecast.change_outlooksettings") and writable_for_user(user, County).filter(
            pk=county.pk).exists()

    def stored(self, county: County) -> dict:
        row = OutlookSettings.objects.filter(county=county, station__isnull=True).first()
        return row.values if row else {}

    def get(self, request, *args, **kwargs):
        self.object = county = self.get_object()
        form = OutlookSettingsForm(initial=OutlookSettingsForm.initial_from(
            outlook_engine.OutlookSettings.from_dict(self.stored(county))))
        return self.render_to_response(self.get_context_data(object=county, form=form))

    def post(self, request, *args, **kwargs):
        self.object = county = self.get_object()
        if not self.can_edit(county):
            raise PermissionDenied
        form = OutlookSettingsForm(request.POST)
        if form.is_valid():
            try:
                outlook_settings_update(county_id=county.pk, values=form.values(), user=request.user)
            except SettingsError as error:
                form.add_engine_error(error)
            else:
                messages.success(request, _("Settings saved: the next outlook uses them."))
                return redirect("loadforecast:outlook_settings", pk=county.pk)
        response = self.render_to_response(self.get_context_data(object=county, form=form))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        stations = list(for_user(self.request.user, Station).filter(county=self.object).order_by("code"))
        overridden = set(OutlookSettings.objects.filter(station__in=stations).exclude(values={}).values_list(
            "station_id", flat=True))
        context.update(title=_("Season outlook settings: %(county)s") % {"county": self.object.name},
                       county=self.object, can_edit=self.can_edit(self.object),
                       stations=[{"station": station, "overridden": station.pk in overridden} for station in stations])
        return context


class OutlookItemView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """One asset of an outlook: its window day by day, the peak load stacked as baseline,
    registered and estimated increase against the capacity lines; the days on the normal
    temperature marked."""

    permission_required = "loadforecast.view_outlookitem"
    template_name = "loadforecast/outlook_item.html"
    model = OutlookItem

    def get_object(self, queryset=None):
        return get_for_user_or_404(
            self.request.user, OutlookItem.objects.select_related("run__station", "transformer", "line", "grid"),
            pk=self.kwargs["pk"])

    def can_plan(self, item: OutlookItem) -> bool:
        user = self.request.user
        if not user.has_perm("loadforecast.add_measure"):
            return False
        try:
            outlook_item_for_planning(user, item.pk)
        except Http404:
            return False
        return True

    def post(self, request, *args, **kwargs):
        """Plan the item's measure: station staff of the item's station only (others: 404)."""
        self.object = item = self.get_object()
        outlook_item_for_planning(request.user, item.pk)
        if not request.user.has_perm("loadforecast.add_measure"):
            raise Http404
        form = MeasurePlanForm(request.POST, alert=item, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            neighbour = data.get("neighbour")
            try:
                measure = outlook_measure_plan(
                    user=request.user, item_id=item.pk, kind=data["kind"], planned_date=data["planned_date"],
                    kva=data.get("kva"), kw=data.get("kw"), neighbour_id=neighbour.pk if neighbour else None,
                    note=data.get("note", ""))
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for name, errors in error.message_dict.items():
                        form.add_error(name if name in form.fields else None, errors)
                else:
                    form.add_error(None, error.messages)
            else:
                messages.success(request, _("Measure planned: %(measure)s on %(date)s.")
                                 % {"measure": measure.get_kind_display(), "date": measure.planned_date})
                return redirect("loadforecast:outlook_item", pk=item.pk)
        response = self.render_to_response(self.get_context_data(object=item, plan_form=form))
        response.status_code = 400
        return response

    def plan_initial(self, item: OutlookItem) -> dict:
        """The suggested measure: temporary capacity when sized, else the first one; the date
        its order-by date (today when that has passed)."""
        today = timezone.localdate()
        chosen = next((m for m in item.measures if m.get("kind") == "temp_capacity"),
                      item.measures[0] if item.measures else None)
        if item.line_id and chosen and chosen["kind"] not in LINE_MEASURE_KINDS:
            chosen = next((m for m in item.measures if m.get("kind") in LINE_MEASURE_KINDS), None)
        initial = {"planned_date": max(today, item.order_by) if item.order_by else today}
        if chosen:
            initial.update(kind=chosen["kind"], kva=chosen.get("kva"), kw=chosen.get("kw"),
                           neighbour=chosen.get("neighbour_id"))
            if chosen.get("order_by"):
                initial["planned_date"] = max(today, dt.date.fromisoformat(chosen["order_by"]))
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        item: OutlookItem = context["object"]
        run = item.run
        projection = run.settings_snapshot.get("projection", {})
        cos_phi = projection.get("cos_phi", 0.9)
        if item.transformer_id:
            capacity = item.transformer.rated_kva * cos_phi
        else:
            capacity = item.line.ampacity_a * 3 ** 0.5 * projection.get("line_voltage_kv", 0.38) * cos_phi
        days = []
        for meta, day in zip(run.days, item.daily, strict=False):
            registered_kw, estimated_kw = (day[5], day[6]) if len(day) > 6 else (0.0, 0.0)
            days.append({"date": meta["date"], "normal": meta["source"] == "normal", "t_min": meta["t_min"],
                         "level": LEVEL_CODES.get(day[0], "normal"), "level_label": Level(max(day[0], 0)).label,
                         "pct": round(day[1] * 100), "kw": day[2],
                         "registered": day[3], "estimated": day[4], "registered_kw": registered_kw,
                         "estimated_kw": estimated_kw, "baseline_kw": round(day[2] - registered_kw - estimated_kw, 2)})
        chart = {
            "labels": [d["date"][5:] + ("*" if d["normal"] else "") for d in days],
            "baseline": [d["baseline_kw"] for d in days], "registered": [d["registered_kw"] for d in days],
            "estimated": [d["estimated_kw"] for d in days],
            "lines": [{"kind": kind, "label": f"{round(rate * 100)} %", "kw": round(capacity * rate, 1)}
                      for kind, rate in (("watch", projection.get("watch_load_rate", 0.7)),
                                         ("heavy", projection.get("heavy_load_rate", 0.8)),
                                         ("overload", projection.get("overload_load_rate", 1.0)))],
            "text": {"baseline": str(_("Baseline")), "registered": str(_("Registered households")),
                     "estimated": str(_("Estimated households")), "kw": "kW"},
        }
        returning = selectors.returning_people(self.request.user, transformer_id=item.transformer_id,
                                               line_id=item.line_id, first=run.first_day, last=run.window_end)
        planned = asset_key(item) in planned_assets([item])
        can_plan = self.can_plan(item)
        if can_plan:
            context.setdefault("plan_form", MeasurePlanForm(alert=item, user=self.request.user,
                                                            initial=self.plan_initial(item)))
        context.update(
            planned=planned, can_plan=can_plan, planned_measures=outlook_selectors.asset_measures(item),
            title=_("Season outlook: %(asset)s") % {"asset": item.asset.code}, item=item, run=run, days=days,
            chart=chart, station=run.station,
            returning=returning, returning_total=sum(group.count for group in returning),
            measures=[{**m, "label": MEASURE_LABELS.get(m["kind"], m["kind"])} for m in item.measures])
        return context


class StationOutlookSettingsForm(OutlookSettingsForm):
    """A station's overrides on the county's §6.7 settings: a blank field takes the county's
    value (shown as its placeholder); estimates: the county's choice, yes or no."""

    INHERIT = ""

    def __init__(self, *args, inherited: outlook_engine.OutlookSettings, **kwargs):
        super().__init__(*args, **kwargs)
        shown = OutlookSettingsForm.initial_from(inherited)
        for name, field in self.fields.items():
            field.required = False
            if name != "use_estimates":
                field.widget.attrs["placeholder"] = str(shown[name])
        county_choice = _("Yes") if inherited.use_estimates else _("No")
        self.fields["use_estimates"] = forms.TypedChoiceField(
            label=self.fields["use_estimates"].label, required=False, empty_value=None,
            coerce=lambda value: value == "yes",
            choices=[(self.INHERIT, _("As the county (%(choice)s)") % {"choice": county_choice}),
                     ("yes", _("Yes")), ("no", _("No"))])

    def clean_normal_min_temperature_c(self):
        if not (self.cleaned_data.get("normal_min_temperature_c") or "").strip():
            return None
        return super().clean_normal_min_temperature_c()

    @staticmethod
    def initial_from_stored(stored: dict) -> dict:
        initial = dict(stored)
        if "normal_min_temperature_c" in stored:
            initial["normal_min_temperature_c"] = ", ".join(f"{t:g}" for t in stored["normal_min_temperature_c"])
        if "use_estimates" in stored:
            initial["use_estimates"] = "yes" if stored["use_estimates"] else "no"
        return initial

    def values(self) -> dict:
        """The overrides: every field filled in, whatever the county's value."""
        return {k: v for k, v in self.cleaned_data.items() if v is not None}


class StationOutlookSettingsView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """A station's season-outlook overrides: the county's administrators edit them (audited),
    the station's staff read them; outside the territory is a 404."""

    permission_required = "loadforecast.view_outlooksettings"
    template_name = "loadforecast/outlook_station_settings.html"
    model = Station

    def get_object(self, queryset=None):
        return get_for_user_or_404(self.request.user, Station.objects.select_related("county"), pk=self.kwargs["pk"])

    def can_edit(self, station: Station) -> bool:
        user = self.request.user
        return user.has_perm("loadforecast.change_outlooksettings") and writable_for_user(user, County).filter(
            pk=station.county_id).exists()

    def layers(self, station: Station) -> tuple[dict, dict]:
        rows = {row.station_id: row.values for row in OutlookSettings.objects.filter(
            county_id=station.county_id, station__isnull=True)} | {
            row.station_id: row.values for row in OutlookSettings.objects.filter(station=station)}
        return rows.get(None) or {}, rows.get(station.pk) or {}

    def form_for(self, station: Station, data=None) -> StationOutlookSettingsForm:
        county_values, stored = self.layers(station)
        inherited = outlook_engine.OutlookSettings.from_dict(county_values)
        if data is None:
            form = StationOutlookSettingsForm(initial=StationOutlookSettingsForm.initial_from_stored(stored),
                                              inherited=inherited)
        else:
            form = StationOutlookSettingsForm(data, inherited=inherited)
        if not self.can_edit(station):
            for field in form.fields.values():
                field.disabled = True
        return form

    def get(self, request, *args, **kwargs):
        self.object = station = self.get_object()
        return self.render_to_response(self.get_context_data(object=station, form=self.form_for(station)))

    def post(self, request, *args, **kwargs):
        self.object = station = self.get_object()
        if not self.can_edit(station):
            raise PermissionDenied
        form = self.form_for(station, request.POST)
        if form.is_valid():
            try:
                outlook_settings_update(county_id=station.county_id, station_id=station.pk, values=form.values(),
                                        user=request.user)
            except SettingsError as error:
                form.add_engine_error(error)
            else:
                messages.success(request, _("Station settings saved: the next outlook uses them."))
                return redirect("loadforecast:outlook_stationsettings", pk=station.pk)
        response = self.render_to_response(self.get_context_data(object=station, form=form))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        station = self.object
        context.update(title=_("Season outlook settings: %(station)s") % {"station": station.name},
                       station=station, county=station.county, can_edit=self.can_edit(station))
        return context
