"""The load-forecast pages station staff use every morning.

- the alert queue (`alert_list`) and an alert's page with its actions and hourly chart;
- per-transformer and per-line pages (projection by day of the latest run, alerts, measures);
- a heat table per station (transformer × day, coloured by peak load rate);
- the run history with "run now", a run's page, and the projection settings.

Reads go through `loadforecast.selectors` (scoped with `for_user`, shared with the API),
the alert queue's filters are `filters.AlertFilterSet` (the API's too); writes go through
`loadforecast.services`, which check the verb and the territory and write the audit and
history rows. Each page that takes an id declares its `model`, so the outsider test finds it.

The hourly chart is recomputed for the one asset with the engine on the station's inputs
of the run date (`services.asset_hourly_projection`): the runs store per-day figures only
(4.4 million asset-days a night; hourly values would be 24 times that). The page compares
the recomputed daily peaks with the stored ones and says so when the inputs changed since
the run (new readings, residents, settings or a done measure).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import DetailView, ListView, TemplateView

from zhoukou_grid.core.queue import QUEUE_UNAVAILABLE_MESSAGE
from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.core.views import ScopedDetailView, ScopedListView
from zhoukou_grid.territory.models import County, LVLine, Station, Transformer

from . import engine, selectors, services
from .filters import AlertFilterSet
from .forms import SETTING_FIELDS, DismissForm, MeasurePlanForm, ProjectionSettingsForm
from .models import LEVEL_CODES, Alert, AssetProjection, Level, Measure, ProjectionRun
from .selectors import episode_hours, returning_households_by_village, station_of

HEAT_ROWS = 100
ASSET_ALERTS = 20
VILLAGES_SHOWN = 3
SETTINGS_PERMISSION = "loadforecast.change_projectionsettings"
RUN_PERMISSION = selectors.RUN_PERMISSION
SETTING_LABELS = {spec.key: spec.label for spec in SETTING_FIELDS}


# --- The hourly chart --------------------------------------------------------------------


def _pct(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def hourly_chart(asset, *, run: ProjectionRun | None, stored: list[AssetProjection]) -> dict[str, Any] | None:
    """What static/js/load_chart.js draws, or None: the hourly load of the run's horizon,
    baseline and returning increment stacked, with the capacity and the 70/80/100 % lines."""
    if run is None:
        return None
    is_line = isinstance(asset, LVLine)
    series = services.asset_hourly_projection(
        station=station_of(asset), run_date=run.run_date, days=run.days,
        transformer_id=None if is_line else asset.pk, line_id=asset.pk if is_line else None)
    if series is None:
        return None
    capacity = series["capacity_kw"]
    stored_peaks = {row.date: row.peak_kw for row in stored}
    matches = bool(stored_peaks) and all(
        math.isclose(stored_peaks.get(day, math.nan), float(series["peak_kw"][d]), rel_tol=1e-4, abs_tol=0.05)
        for d, day in enumerate(series["dates"]))
    labels = [f"{day:%m-%d} {hour:02d}:00" for day in series["dates"] for hour in range(engine.HOURS)]
    thresholds = series["thresholds"]
    return {
        "labels": labels,
        "baseline": [round(float(v), 2) for v in series["baseline_kw"].ravel()],
        "increment": [round(float(v), 2) for v in series["increment_kw"].ravel()],
        "capacity": round(capacity, 2),
        "lines": [
            {"label": _("Capacity (100 %)"), "kw": round(capacity * thresholds["overload"], 2), "kind": "overload"},
            {"label": _("Heavy load (%(rate)s)") % {"rate": _pct(thresholds["heavy"])},
             "kw": round(capacity * thresholds["heavy"], 2), "kind": "heavy"},
            {"label": _("Watch (%(rate)s)") % {"rate": _pct(thresholds["watch"])},
             "kw": round(capacity * thresholds["watch"], 2), "kind": "watch"},
        ],
        "text": {"baseline": _("Baseline"), "increment": _("Returning households"), "kw": _("kW")},
        "matches_stored": matches,
        "rating": series.get("kva") or series.get("ampacity_a"),
    }


# --- Overview ----------------------------------------------------------------------------


class OverviewView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """Each station of the user's territory: active alerts by level, the latest run, links."""

    permission_required = "loadforecast.view_alert"
    template_name = "loadforecast/overview.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        stations = list(selectors.stations_of(user)[:500])
        counts = selectors.active_alert_counts(user)
        latest = selectors.latest_runs(user, [s.pk for s in stations])
        runnable = set(selectors.runnable_stations(user).values_list("pk", flat=True))
        rows = [{
            "station": station,
            "levels": [(LEVEL_CODES[level], Level(level).label, counts[station.pk][level])
                       for level in (Level.THERMAL, Level.OVERLOAD, Level.HEAVY, Level.WATCH)],
            "active": sum(counts[station.pk].values()),
            "run": latest.get(station.pk),
            "can_run": station.pk in runnable,
        } for station in stations]
        context.update(title=_("Load forecast"), rows=rows, today=timezone.localdate())
        return context


# --- The alert queue ---------------------------------------------------------------------

SORTS = {
    "level": ("level", "first_date"), "first_date": ("first_date",), "peak_load_rate": ("peak_load_rate",),
    "peak_kw": ("peak_kw",), "returning_households": ("returning_households",), "status": ("status",),
}


class AlertListView(ScopedListView):
    """Transformers and LV lines projected at watch or above: worst level first, then the
    earliest first day; active alerts unless a status is chosen."""

    model = Alert
    template_name = "loadforecast/alert_list.html"
    filterset_class = AlertFilterSet
    search_hint = _lazy("Search by transformer or line code or name")

    def get_queryset(self):
        queryset = selectors.alerts_of(self.request.user)
        # Bound even without parameters: the FilterSet's default (active alerts) applies.
        self.filterset = self.filterset_class(self.request.GET, queryset=queryset, request=self.request)
        self.limit_choice_widgets(self.filterset.form)
        requested = self.request.GET.get("sort") or "-level"
        name = requested.removeprefix("-")
        if name not in SORTS:
            requested, name = "-level", "level"
        descending = requested.startswith("-")
        order = [f"-{f}" if descending and i == 0 else f for i, f in enumerate(SORTS[name])]
        self.active_sort = requested
        return self.filterset.qs.order_by(*order, "pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        alerts = list(context["object_list"])
        villages = returning_households_by_village(alerts)
        hours = episode_hours(alerts)
        context.update(
            title=_("Overload alerts"),
            rows=[{"alert": a, "villages": villages.get(a.pk, [])[:VILLAGES_SHOWN],
                   "more_villages": max(0, len(villages.get(a.pk, [])) - VILLAGES_SHOWN),
                   "hours": hours.get(a.pk)} for a in alerts],
            sort_links=_sort_links(self.active_sort),
        )
        return context


def _sort_links(active: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the `sort` value a click sets and its state."""
    links = {}
    for key in SORTS:
        if active == key:
            links[key] = {"next": f"-{key}", "state": "asc"}
        elif active == f"-{key}":
            links[key] = {"next": key, "state": "desc"}
        else:
            links[key] = {"next": f"-{key}", "state": ""}
    return links


# --- An alert ----------------------------------------------------------------------------

MEASURE_TEXT = {
    "transfer": _lazy("Transfer %(kva)s kVA to %(neighbour)s"),
    "phase_balance": _lazy("Balance the phases: move %(households)s single-phase households off the heaviest phase"),
    "temp_capacity": _lazy("Temporary transformer of %(kva)s kVA"),
    "staggered": _lazy("Staggered-use notice: shift %(kw)s kW out of the evening peak"),
    "patrol": _lazy("Patrol and infrared check on %(date)s"),
}


HISTORY_ACTIONS = {
    "created": _lazy("Created by the run"), "raised": _lazy("Level raised by the run"),
    "mitigated": _lazy("Mitigated"), "acknowledged": _lazy("Acknowledged"),
    "measure_planned": _lazy("Measure planned"), "measure_done": _lazy("Measure done"), "dismissed": _lazy("Dismissed"),
    "closed": _lazy("Closed"),
}


def recommended(alert: Alert) -> list[dict[str, Any]]:
    """The measures stored on the alert by the run, with a sentence each."""
    items = []
    for measure in alert.measures or []:
        kind = measure.get("kind")
        values = {"kva": _number(measure.get("kva")), "kw": _number(measure.get("kw")),
                  "households": measure.get("households", "—"), "date": measure.get("date", "—"),
                  "neighbour": measure.get("neighbour_code", "—")}
        text = MEASURE_TEXT.get(kind)
        items.append({**measure, "label": Measure.Kind(kind).label if kind in Measure.Kind.values else kind,
                      "text": text % values if text else ""})
    return items


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plan_initial(alert: Alert) -> dict[str, Any]:
    """The form starts from the run's recommendation: temporary capacity of the recommended
    size when there is one, otherwise the first recommended measure."""
    items = alert.measures or []
    chosen = next((m for m in items if m.get("kind") == "temp_capacity"), items[0] if items else None)
    # The day before the first projected day, and never in the past.
    initial: dict[str, Any] = {"planned_date": max(timezone.localdate(), alert.first_date - dt.timedelta(days=1))}
    if chosen and (not alert.line_id or chosen["kind"] in services.LINE_MEASURE_KINDS):
        initial["kind"] = chosen["kind"]
        initial["kva"] = chosen.get("kva")
        initial["kw"] = chosen.get("kw")
        initial["neighbour"] = chosen.get("neighbour_id")
        if chosen["kind"] == "patrol" and chosen.get("date"):
            initial["planned_date"] = chosen["date"]
    return initial


def _form_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class AlertDetailView(ScopedDetailView):
    """An alert: what the run projected, the thresholds used, the recommended measures, the
    hourly chart, the measures taken and the history; the actions for station staff."""

    model = Alert
    template_name = "loadforecast/alert_detail.html"
    select_related = ("transformer__grid__station__county", "line__transformer__grid__station__county",
                      "grid__station__county", "last_run")
    list_url_name = "loadforecast:alert_list"

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        user, alert_id = request.user, self.object.pk
        action = request.POST.get("action")
        forms: dict[str, Any] = {}
        try:
            if action == "acknowledge":
                services.alert_acknowledge(user=user, alert_id=alert_id)
                messages.success(request, _("Alert acknowledged."))
            elif action == "close":
                services.alert_close(user=user, alert_id=alert_id)
                messages.success(request, _("Alert closed."))
            elif action == "plan":
                form = MeasurePlanForm(request.POST, alert=self.object, user=user)
                forms["plan_form"] = form
                if not user.has_perm("loadforecast.add_measure"):
                    raise PermissionDenied
                if not form.is_valid():
                    return self._invalid(forms)
                data = form.cleaned_data
                neighbour = data.get("neighbour")
                measure = services.measure_plan(
                    user=user, alert_id=alert_id, kind=data["kind"], planned_date=data["planned_date"],
                    kva=data.get("kva"), kw=data.get("kw"), neighbour_id=neighbour.pk if neighbour else None,
                    note=data.get("note", ""))
                messages.success(request, _("Measure planned: %(measure)s on %(date)s.")
                                 % {"measure": measure.get_kind_display(), "date": measure.planned_date})
            elif action == "done":
                try:
                    measure_id = int(request.POST.get("measure", ""))
                except ValueError:
                    raise Http404 from None
                if not self.object.measure_set.filter(pk=measure_id).exists():
                    raise Http404
                measure = services.measure_done(user=user, measure_id=measure_id)
                messages.success(request, _("Measure done: %(measure)s. The next run takes it into account.")
                                 % {"measure": measure.get_kind_display()})
            elif action == "dismiss":
                form = DismissForm(request.POST)
                forms["dismiss_form"] = form
                if not user.has_perm("loadforecast.change_alert"):
                    raise PermissionDenied
                if not form.is_valid():
                    return self._invalid(forms)
                services.alert_dismiss(user=user, alert_id=alert_id, reason=form.cleaned_data["reason"])
                messages.success(request, _("Alert dismissed."))
            else:
                messages.error(request, _("Choose an action."))
        except ValidationError as error:
            target = forms.get("plan_form") or forms.get("dismiss_form")
            if target is not None:
                _form_errors(target, error)
                return self._invalid(forms)
            for message in error.messages:
                messages.error(request, message)
        return redirect("loadforecast:alert_detail", pk=alert_id)

    def _invalid(self, forms):
        self.object.refresh_from_db()
        response = self.render_to_response(self.get_context_data(object=self.object, **forms))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        alert: Alert = context["object"]
        user = self.request.user
        asset = alert.asset
        run = alert.last_run
        days = selectors.alert_horizon(alert)
        active = alert.status in Alert.ACTIVE
        can_change = user.has_perm("loadforecast.change_alert")
        can_plan = user.has_perm("loadforecast.add_measure") and active
        measures = selectors.alert_measures(alert)
        returning = selectors.returning_people(user, transformer_id=alert.transformer_id, line_id=alert.line_id,
                                               first=alert.first_date, last=alert.last_date)
        context.update(
            title=_("Alert: %(asset)s") % {"asset": asset.code},
            alert=alert, asset=asset, is_line=bool(alert.line_id), station=alert.grid.station,
            horizon=days,
            hours=episode_hours([alert]).get(alert.pk),
            villages=returning_households_by_village([alert]).get(alert.pk, []),
            returning=returning, returning_total=sum(group.count for group in returning),
            thresholds=_thresholds_table(alert.thresholds),
            recommended=recommended(alert),
            measures=measures,
            history=[{"entry": entry, "label": HISTORY_ACTIONS.get(entry.action, entry.action)}
                     for entry in selectors.alert_history(alert)],
            can_acknowledge=can_change and alert.status == Alert.Status.OPEN,
            can_plan=can_plan,
            can_done=user.has_perm("loadforecast.change_measure") and alert.status != Alert.Status.DISMISSED,
            can_dismiss=can_change and active,
            can_close=can_change and alert.status == Alert.Status.MITIGATED,
            chart=hourly_chart(asset, run=run, stored=days),
            day_chart=day_chart(days, alert.thresholds),
            asset_url=reverse("loadforecast:load_line" if alert.line_id else "loadforecast:load_transformer",
                              args=[asset.pk]),
        )
        if can_plan:
            context.setdefault("plan_form", MeasurePlanForm(alert=alert, user=user, initial=_plan_initial(alert)))
        if can_change and active:
            context.setdefault("dismiss_form", DismissForm())
        return context

    def get_lineage(self, obj):
        station = obj.grid.station
        return [(station.county.name, reverse("portal:county_detail", args=[station.county_id])),
                (station.name, reverse("loadforecast:load_heat", args=[station.pk])),
                (obj.grid.name, reverse("portal:grid_detail", args=[obj.grid_id]))]


def day_chart(days: list[AssetProjection], thresholds: dict) -> dict[str, Any] | None:
    """What static/js/day_chart.js draws on a phone: the peak load rate of each day of the
    run (in %), coloured by level, with the alert's watch, heavy and overload lines."""
    if not days:
        return None
    defaults = engine.ProjectionSettings()
    rates = {"watch": defaults.watch_load_rate, "heavy": defaults.heavy_load_rate,
             "overload": defaults.overload_load_rate}
    rates.update({key: thresholds[key] for key in rates if key in (thresholds or {})})
    return {
        "labels": [f"{day.date:%m-%d}" for day in days],
        "rates": [round(day.peak_load_rate * 100, 1) for day in days],
        "levels": [LEVEL_CODES.get(day.level, "normal") for day in days],
        "lines": [{"kind": kind, "label": f"{round(rate * 100)} %", "pct": round(rate * 100, 1)}
                  for kind, rate in rates.items()],
        "text": {"rate": str(_("Peak load rate (%)"))},
    }


def _thresholds_table(thresholds: dict) -> list[tuple[str, str]]:
    if not thresholds:
        return []
    rows = []
    for key, label in (("watch", _("Watch")), ("heavy", _("Heavy load")), ("overload", _("Overload")),
                       ("thermal", _("Thermal critical"))):
        if key in thresholds:
            rate = _pct(thresholds[key])
            hours = thresholds.get(f"{key}_hours")
            text = (_("≥ %(rate)s for ≥ %(hours)s hours in a row") % {"rate": rate, "hours": hours} if hours
                    else _("≥ %(rate)s at any hour") % {"rate": rate})
            rows.append((label, text))
    return rows


# --- A transformer or a line -------------------------------------------------------------


class AssetLoadView(ScopedDetailView):
    """Projection by day of the latest run, the hourly chart, alerts and measures of one asset."""

    template_name = "loadforecast/asset.html"
    asset_field = "transformer"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        asset = context["object"]
        user = self.request.user
        asset_filter = Q(**{f"{self.asset_field}_id": asset.pk})
        run, days = selectors.latest_projections(asset_filter)
        alerts, measures = selectors.asset_alerts(user, asset_filter, limit=ASSET_ALERTS)
        station = station_of(asset)
        thresholds = services.settings_for_station(station)
        context.update(
            asset=asset, is_line=self.asset_field == "line", station=station, run=run,
            days=[{"row": d, "css": heat_class(d.peak_load_rate, thresholds)} for d in days],
            alerts=alerts, measures=measures,
            chart=hourly_chart(asset, run=run, stored=days),
        )
        return context


class TransformerLoadView(AssetLoadView):
    model = Transformer
    select_related = ("grid__station__county",)
    list_url_name = "loadforecast:alert_list"

    def get_lineage(self, obj):
        station = obj.grid.station
        return [(station.name, reverse("loadforecast:load_heat", args=[station.pk])),
                (obj.grid.name, reverse("portal:grid_detail", args=[obj.grid_id]))]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = context["object"]
        context.update(title=f"{obj.code} {obj.name}", kind=_("Transformer load"),
                       rating=_("%(kva)s kVA") % {"kva": obj.rated_kva},
                       portal_url=reverse("portal:transformer_detail", args=[obj.pk]))
        return context


class LineLoadView(AssetLoadView):
    model = LVLine
    asset_field = "line"
    select_related = ("transformer__grid__station__county",)
    list_url_name = "loadforecast:alert_list"

    def get_lineage(self, obj):
        station = obj.transformer.grid.station
        return [(station.name, reverse("loadforecast:load_heat", args=[station.pk])),
                (obj.transformer.code, reverse("loadforecast:load_transformer", args=[obj.transformer_id]))]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = context["object"]
        context.update(title=obj.code, kind=_("LV line load"),
                       rating=_("%(amps)s A") % {"amps": obj.ampacity_a},
                       portal_url=reverse("portal:lvline_detail", args=[obj.pk]))
        return context


# --- Heat table --------------------------------------------------------------------------


def heat_class(rate: float | None, settings: engine.ProjectionSettings) -> str:
    """The CSS class of a peak load rate: the band between the station's thresholds."""
    if rate is None or math.isnan(rate):
        return "heat-none"
    if rate >= settings.thermal_load_rate:
        return "heat-thermal"
    if rate >= settings.overload_load_rate:
        return "heat-overload"
    if rate >= settings.heavy_load_rate:
        return "heat-heavy"
    if rate >= settings.watch_load_rate:
        return "heat-watch"
    if rate >= settings.watch_load_rate / 2:
        return "heat-normal"
    return "heat-low"


@dataclass
class HeatRow:
    transformer: Transformer
    cells: list[dict[str, Any]] = field(default_factory=list)
    worst: float = -1.0


class StationHeatView(ScopedDetailView):
    """Each transformer of the station (that the user may see) by day of the latest run,
    coloured by its projected peak load rate; the worst transformers first."""

    model = Station
    template_name = "loadforecast/heat.html"
    select_related = ("county",)
    list_url_name = "loadforecast:load_overview"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        station: Station = context["object"]
        user = self.request.user
        transformers = selectors.heat_transformers(user, station)
        grid_ids = sorted({t.grid_id for t in transformers})
        run = selectors.station_results_run(station, grid_ids) if grid_ids else None
        settings = services.settings_for_station(station)
        days = [run.run_date + dt.timedelta(days=d) for d in range(run.days)] if run else []
        day_index = {day: i for i, day in enumerate(days)}
        rows = {t.pk: HeatRow(t, [{"rate": None, "css": "heat-none", "level": None} for _ in days])
                for t in transformers}
        if run is not None:
            for transformer_id, day, rate, peak_kw, level in selectors.heat_projections(run, grid_ids, list(rows)):
                row, i = rows[transformer_id], day_index.get(day)
                if i is None:
                    continue
                row.cells[i] = {"rate": rate, "pct": round(rate * 100), "kw": peak_kw, "css": heat_class(rate, settings),
                                "level": LEVEL_CODES.get(level)}
                row.worst = max(row.worst, rate)
        ordered = sorted(rows.values(), key=lambda r: (-r.worst, r.transformer.code))
        page = Paginator(ordered, HEAT_ROWS).get_page(self.request.GET.get("page"))
        context.update(
            title=_("Heat table: %(station)s") % {"station": station.name}, kind=_("Load forecast"),
            station=station, run=run, days=days, page_obj=page, rows=page.object_list,
            bands=[("heat-low", f"< {_pct(settings.watch_load_rate / 2)}"),
                   ("heat-normal", f"{_pct(settings.watch_load_rate / 2)}–{_pct(settings.watch_load_rate)}"),
                   ("heat-watch", f"≥ {_pct(settings.watch_load_rate)}"),
                   ("heat-heavy", f"≥ {_pct(settings.heavy_load_rate)}"),
                   ("heat-overload", f"≥ {_pct(settings.overload_load_rate)}"),
                   ("heat-thermal", f"≥ {_pct(settings.thermal_load_rate)}"),
                   ("heat-none", _("no projection"))],
        )
        return context


# --- Runs --------------------------------------------------------------------------------


class RunListView(LoginRequiredMixin, PermissionRequiredMixin, ListView):
    """The run history, newest first; "run now" for the stations the user may run."""

    model = ProjectionRun
    permission_required = "loadforecast.view_projectionrun"
    template_name = "loadforecast/runs.html"
    paginate_by = 30

    def get_queryset(self):
        return selectors.runs_visible_to(self.request.user).select_related("station", "created_by").order_by(
            "-run_date", "-created_at", "-pk")

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm(RUN_PERMISSION):
            raise PermissionDenied
        try:
            station_id = int(request.POST.get("station", ""))
        except ValueError:
            messages.error(request, _("Choose a station."))
            return redirect("loadforecast:load_runs")
        run, started = services.projection_request(user=request.user, station_id=station_id)
        run.refresh_from_db()  # its messages were sent when the request's transaction committed
        if services.run_waits_for_queue(run):
            messages.warning(request, QUEUE_UNAVAILABLE_MESSAGE)
        elif started:
            messages.success(request, _("The projection of %(station)s for %(date)s has started.")
                             % {"station": run.station.name, "date": run.run_date})
        else:
            messages.info(request, _("The projection of %(station)s for %(date)s is already running.")
                          % {"station": run.station.name, "date": run.run_date})
        return redirect("loadforecast:load_runs")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        visible = selectors.run_visibility(self.request.user)
        context.update(
            title=_("Projection runs"),
            rows=[{"run": run, **selectors.run_summary(run, visible)} for run in context["object_list"]],
            runnable=list(selectors.runnable_stations(self.request.user)),
        )
        return context


class RunDetailView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """One run: per station counts and timings, errors, and the assets it skipped with why."""

    model = ProjectionRun
    permission_required = "loadforecast.view_projectionrun"
    template_name = "loadforecast/run_detail.html"

    def get_object(self, queryset=None):
        try:
            return selectors.runs_visible_to(self.request.user).select_related("station", "created_by").get(
                pk=self.kwargs["pk"])
        except ProjectionRun.DoesNotExist:
            raise Http404 from None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = context["object"]
        summary = selectors.run_summary(run, selectors.run_visibility(self.request.user))
        timings = summary.pop("timings")
        context.update(
            title=_("Projection run of %(date)s") % {"date": run.run_date}, run=run, **summary,
            station_rows=[{"code": code, "figures": figures, "timings": timings.get(code, {})}
                          for code, figures in sorted(summary["stations"].items())],
        )
        return context


# --- Settings ----------------------------------------------------------------------------


def _can_edit_settings(user, county_id: int) -> bool:
    return user.has_perm(SETTINGS_PERMISSION) and writable_for_user(user, County).filter(pk=county_id).exists()


class SettingsView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """The county's projection settings (county admins edit, others read) and the stations'
    overrides."""

    permission_required = "loadforecast.view_projectionsettings"
    template_name = "loadforecast/settings.html"

    def county(self) -> County | None:
        counties = selectors.counties_of(self.request.user)
        chosen = self.request.GET.get("county") or self.request.POST.get("county")
        if chosen:
            try:
                return counties.get(pk=int(chosen))
            except (ValueError, County.DoesNotExist):
                raise Http404 from None
        return counties.first()

    def form_for(self, county: County, data=None) -> ProjectionSettingsForm:
        row = selectors.county_settings_row(county)
        stored = row.values if row else {}
        return ProjectionSettingsForm(data, effective=engine.ProjectionSettings.from_dict(stored), stored=stored,
                                      disabled=not _can_edit_settings(self.request.user, county.pk))

    def post(self, request, *args, **kwargs):
        county = self.county()
        if county is None or not _can_edit_settings(request.user, county.pk):
            raise PermissionDenied
        form = self.form_for(county, request.POST)
        if form.is_valid():
            try:
                services.settings_update(county_id=county.pk, values=form.values(), user=request.user)
            except engine.SettingsError as error:
                form.add_engine_error(error)
            else:
                messages.success(request, _("Settings saved: the next run uses them."))
                return redirect(f"{reverse('loadforecast:load_settings')}?county={county.pk}")
        response = self.render_to_response(self.get_context_data(form=form, county=county))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        county = kwargs.get("county") or self.county()
        if county is None:
            context.update(title=_("Projection settings"), county=None)
            return context
        stations = list(selectors.stations_of(user, county=county))
        overrides = selectors.station_overrides(stations)
        context.update(
            title=_("Projection settings"), county=county,
            counties=list(selectors.counties_of(user)),
            form=kwargs.get("form") or self.form_for(county),
            can_edit=_can_edit_settings(user, county.pk),
            row=selectors.county_settings_row(county, with_user=True),
            stations=[{"station": s, "override": overrides.get(s.pk),
                       "keys": [SETTING_LABELS.get(key, key) for key in sorted(overrides[s.pk].values)]
                       if s.pk in overrides else []} for s in stations],
        )
        return context


class StationSettingsView(ScopedDetailView):
    """A station's overrides on top of its county's settings (blank: the county's value)."""

    model = Station
    template_name = "loadforecast/station_settings.html"
    select_related = ("county",)
    list_url_name = "loadforecast:load_settings"

    def form_for(self, station: Station, data=None) -> ProjectionSettingsForm:
        county_values, stored = selectors.station_settings_layers(station)
        return ProjectionSettingsForm(
            data, effective=engine.ProjectionSettings.from_dict(county_values, stored), stored=stored,
            inherited=engine.ProjectionSettings.from_dict(county_values),
            disabled=not _can_edit_settings(self.request.user, station.county_id))

    def post(self, request, *args, **kwargs):
        self.object = station = self.get_object()
        if not _can_edit_settings(request.user, station.county_id):
            raise PermissionDenied
        form = self.form_for(station, request.POST)
        if form.is_valid():
            try:
                services.settings_update(county_id=station.county_id, station_id=station.pk, values=form.values(),
                                         user=request.user)
            except engine.SettingsError as error:
                form.add_engine_error(error)
            else:
                messages.success(request, _("Station settings saved: the next run uses them."))
                return redirect("loadforecast:load_stationsettings", pk=station.pk)
        response = self.render_to_response(self.get_context_data(object=station, form=form))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        station = context["object"]
        context.update(
            title=_("Projection settings: %(station)s") % {"station": station.name}, station=station,
            form=kwargs.get("form") or self.form_for(station),
            can_edit=_can_edit_settings(self.request.user, station.county_id),
            row=selectors.station_settings_row(station),
        )
        return context
