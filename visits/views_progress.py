"""The progress report: what was done in the user's territory, per grid manager, grid,
station or county, for a round or a date range; as a table, a chart and an XLSX file.

Built on `visits.selectors.progress_counts` (a fixed number of queries whatever the data);
the page adds one query for the round choices (`selectors.progress_rounds_for`). The XLSX is streamed through XlsxWriter's
`constant_memory` mode into a temporary file and audited like every export.
"""

from __future__ import annotations

import tempfile

import xlsxwriter
from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import TemplateView

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.importing.parsers import escape_formula
from zhoukou_grid.core.scoping import primary_role
from zhoukou_grid.territory.models import Role

from .models import Round
from .selectors import progress_counts, progress_rounds_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_GROUPS = 40  # more bars than this are unreadable; the table has them all

GROUPINGS = (
    ("grid_manager", _lazy("Grid manager")),
    ("grid", _lazy("Grid")),
    ("station", _lazy("Station")),
    ("county", _lazy("County")),
)
DEFAULT_GROUPING = {Role.COMPANY_ADMIN: "county", Role.COUNTY_ADMIN: "station", Role.STATION_STAFF: "grid",
                    Role.GRID_MANAGER: "grid_manager"}

# The report's columns: (key, header). Keys are counts of `progress_counts` or derived below.
COLUMNS = (
    ("visits_scheduled", _lazy("Visits planned")),
    ("visits_done", _lazy("Done")),
    ("visits_missed", _lazy("Missed")),
    ("visits_planned", _lazy("Still open")),
    ("targets", _lazy("Targets")),
    ("targets_covered", _lazy("Targets covered")),
    ("coverage_percent", _lazy("Coverage %")),
    ("households_visited", _lazy("Households visited")),
    ("key_customers_visited", _lazy("Key customers visited")),
    ("cards", _lazy("Service cards")),
    ("guidance", _lazy("App guidance given")),
    ("hazards_found", _lazy("Hazards found")),
    ("hazards_rectified", _lazy("Hazards rectified")),
    ("hazards_overdue", _lazy("Hazards overdue")),
    ("issues_opened", _lazy("Issues opened")),
    ("issues_resolved", _lazy("Issues resolved")),
    ("issues_overdue", _lazy("Issues overdue")),
)
GUIDANCE_KEYS = ("guidance_payment", "guidance_balance", "guidance_service_change", "guidance_account_transfer",
                 "guidance_find_electrician")


class ProgressForm(forms.Form):
    round = forms.ModelChoiceField(queryset=Round.objects.none(), required=False, label=_lazy("Round"),
                                   empty_label=_lazy("All rounds"))
    start = forms.DateField(label=_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_lazy("Until"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    group_by = forms.ChoiceField(choices=GROUPINGS, required=False, label=_lazy("Per"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].queryset = progress_rounds_for(user)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The end of the range is before its start."))
        return cleaned


def derived_figures(values: dict) -> dict:
    """The counts of one row (or the totals) with the report's derived columns added."""
    row = dict(values)
    row["visits_scheduled"] = values["visits_planned"] + values["visits_done"] + values["visits_missed"]
    row["cards"] = values["cards_handed_out"] + values["cards_posted"]
    row["guidance"] = sum(values[key] for key in GUIDANCE_KEYS)
    row["coverage_percent"] = (round(100 * values["targets_covered"] / values["targets"], 1)
                               if values["targets"] else None)
    row["cells"] = [row[key] for key, _header in COLUMNS]
    return row


def build_report(user, *, round_obj=None, start=None, end=None, group_by: str) -> dict:
    counts = progress_counts(user=user, round_id=round_obj.pk if round_obj else None, start=start, end=end,
                             group_by=group_by)
    rows = [derived_figures(row) for row in counts["rows"]]
    for row in rows:
        if row["id"] is None:
            row["label"] = _("(none)")
    return {"rows": rows, "totals": derived_figures(counts["totals"])}


def chart_data(report: dict) -> dict:
    """What static/js/progress_chart.js draws: done/missed/open visits stacked per group."""
    rows = report["rows"][:CHART_GROUPS]
    return {
        "labels": [row["label"] for row in rows],
        "series": [
            {"key": "done", "label": _("Done"), "data": [row["visits_done"] for row in rows]},
            {"key": "missed", "label": _("Missed"), "data": [row["visits_missed"] for row in rows]},
            {"key": "open", "label": _("Still open"), "data": [row["visits_planned"] for row in rows]},
        ],
        "text": {"visits": _("Visits")},
    }


def write_report_xlsx(report: dict, *, group_label: str, path: str) -> int:
    """The report's table (same rows and columns as the page, then the totals) to `path`."""
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False,
                                          "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet(_("Progress"))
    bold = workbook.add_format({"bold": True})
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, len(COLUMNS), 12)
    sheet.write_row(0, 0, [str(group_label), *(str(header) for _key, header in COLUMNS)], bold)
    number = 0
    for number, row in enumerate(report["rows"], start=1):
        _write_report_row(sheet, number, str(row["label"]), row)
    _write_report_row(sheet, number + 1, _("Total"), report["totals"], bold)
    workbook.close()
    return len(report["rows"])


def _write_report_row(sheet, index: int, label: str, row: dict, cell_format=None) -> None:
    sheet.write_string(index, 0, escape_formula(label), cell_format)
    for col, (key, _header) in enumerate(COLUMNS, start=1):
        value = row.get(key)
        if value is not None:
            sheet.write_number(index, col, value, cell_format)


class ProgressReportView(LoginRequiredMixin, TemplateView):
    """Anyone with a territory: the progress of their territory (an empty one shows nothing)."""

    template_name = "visits/progress/report.html"

    def get(self, request, *args, **kwargs):
        default_grouping = DEFAULT_GROUPING.get(primary_role(request.user), "grid")
        # The selector shows the grouping the report is in (the role's default until one is chosen).
        data = None
        if request.GET:
            data = request.GET.copy()
            if not data.get("group_by"):
                data["group_by"] = default_grouping
        self.form = ProgressForm(data, user=request.user, initial={"group_by": default_grouping})
        options = {"round_obj": None, "start": None, "end": None, "group_by": default_grouping}
        if self.form.is_bound and self.form.is_valid():
            data = self.form.cleaned_data
            options.update(round_obj=data["round"], start=data["start"], end=data["end"],
                           group_by=data["group_by"] or options["group_by"])
        self.options = options
        self.report = build_report(request.user, **options)
        if request.GET.get("format") == "xlsx" and not self.form.errors:
            return self.xlsx_response()
        return super().get(request, *args, **kwargs)

    def group_label(self) -> str:
        return str(dict(GROUPINGS)[self.options["group_by"]])

    def filters(self) -> dict:
        options = self.options
        return {key: value for key, value in {
            "round": options["round_obj"].pk if options["round_obj"] else None,
            "start": options["start"].isoformat() if options["start"] else None,
            "end": options["end"].isoformat() if options["end"] else None,
            "group_by": options["group_by"],
        }.items() if value is not None}

    def xlsx_response(self):
        handle = tempfile.NamedTemporaryFile(prefix="progress-", suffix=".xlsx")
        rows = write_report_xlsx(self.report, group_label=self.group_label(), path=handle.name)
        handle.seek(0)
        audit_record(user=self.request.user, action="export", object_type="visits.visit",
                     detail={"kind": "progress_report", "format": "xlsx", "rows": rows, "filters": self.filters()})
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return FileResponse(handle, content_type=XLSX, as_attachment=True,
                            filename=f"progress_{self.options['group_by']}_{stamp}.xlsx")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The table's figures formatted here, once per distinct value: a county per grid
        # manager is ~4,000 cells, and `intcomma` per cell was most of the page's rendering.
        texts: dict = {}

        def text(value):
            if value is None:
                return None
            if value not in texts:
                texts[value] = intcomma(value)
            return texts[value]

        for row in (*self.report["rows"], self.report["totals"]):
            row["texts"] = [text(value) for value in row["cells"]]
        query = self.request.GET.copy()
        query["format"] = "xlsx"
        context.update(
            form=self.form, report=self.report, columns=COLUMNS, group_label=self.group_label(),
            group_by=self.options["group_by"],
            chart=chart_data(self.report), chart_truncated=len(self.report["rows"]) > CHART_GROUPS,
            chart_groups=CHART_GROUPS, round=self.options["round_obj"], start=self.options["start"],
            end=self.options["end"], xlsx_query=query.urlencode(),
        )
        return context
