"""The season outlook pages (docs/domain.md §6.7): a station's outlook with its headline,
days and items (and their XLSX), a county's stations with list coverage. Reads through
`outlook_selectors` (scoped); station staff may make the outlook again from the page."""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import DetailView

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import get_for_user_or_404, writable_for_user
from zhoukou_grid.territory.models import County, Station

from . import outlook_selectors
from .models import LEVEL_CODES, Level
from .outlook_services import outlook_station
from .resources import OUTLOOK_COLUMNS, outlook_row

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
        for item in items:
            rows.append({
                "item": item, "code": item.asset.code, "is_line": bool(item.line_id),
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
