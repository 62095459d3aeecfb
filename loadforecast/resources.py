"""Import kinds `load` and `weather`, export kinds `projections`, `alerts` and `outlook` (docs/import-formats.md).

A load file is one of three shapes, chosen by its header: 96 quarter-hour columns (P1…P96
or 00:15…24:00), 24 hourly columns (1…24 or 01:00…24:00) or one 最大负荷(kW) column. The
hourly headers 01:00…24:00 are the same text as every fourth quarter-hour header, so they
land on the quarter-hour columns q4, q8, … q96; a header with exactly those 24 and no other
quarter-hour column is an hourly file (01:00 covers 00:00–01:00, hour 0). Quarter-hour
points are averaged to hours (engine.hourly_from_quarter_hours); the stored row keeps 24
float32 (models.pack_curve) and the day's maximum.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.db.models import F, Max, OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from customers.parsing import ValueProblem, parse_date
from zhoukou_grid.core.importing import parsers
from zhoukou_grid.core.importing.engine import ImportContext, ImportPlan, ParsedRow, batched, upsert
from zhoukou_grid.core.importing.parsers import CellError
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.spec import Column, ImportKind, Lookup, register
from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import County, LVLine, Transformer

from .engine import SQRT3, hourly_from_quarter_hours
from .models import LEVEL_CODES, Alert, AssetProjection, LoadReading, OutlookItem, WeatherForecast, pack_curve

ABSURD_FACTOR = 5.0  # a value above 5 × the rating is a unit or typing error, not load
LINE_VOLTAGE_KV = 0.38


def date_parser():
    def parse(value: Any):
        from django.utils import timezone

        try:
            return parse_date(value, reference=timezone.localdate())
        except ValueProblem:
            raise CellError(_("Not a date. Write it as 2027-01-25 or as an Excel date.")) from None

    return parse


def kw_parser(value: Any) -> float:
    """A load value in kW: a number, not negative."""
    if isinstance(value, bool):
        raise CellError(_("Not a number: write the load in kW, e.g. 86.4."))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise CellError(_("Not a number: write the load in kW, e.g. 86.4.")) from None
    if not math.isfinite(number):
        raise CellError(_("Not a number: write the load in kW, e.g. 86.4."))
    if number < 0:
        raise CellError(_("Load cannot be negative. Check the sign, or leave the cell empty when not metered."))
    return number


def temperature_parser(value: Any) -> float:
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip().replace("℃", "").replace("°C", ""))
    except ValueError:
        raise CellError(_("Not a temperature: write degrees Celsius, e.g. -3.5.")) from None
    if not -60 <= number <= 60:
        raise CellError(_("Temperature out of range: write degrees Celsius between -60 and 60."))
    return number


def _quarter_headers(index: int) -> tuple[str, ...]:
    minutes = index * 15
    hour, minute = divmod(minutes, 60)
    headers = (f"{hour:02d}:{minute:02d}", f"{hour}:{minute:02d}")
    if hour < 24:
        headers += (f"{hour:02d}:{minute:02d}:00",)  # Excel time cells
    return headers


QUARTER_KEYS = tuple(f"q{i}" for i in range(1, 97))
HOUR_KEYS = tuple(f"h{i}" for i in range(1, 25))
FULL_HOUR_QUARTERS = frozenset(f"q{4 * h}" for h in range(1, 25))

_ASSET_COLUMNS = (
    Column("transformer_code", "台区编号", synonyms=("台区编码", "台区"), parser=parsers.code(32), text=True,
           export="", help=_lazy("Transformer code; leave empty for a metered LV line."), example="TQ000001"),
    Column("line_code", "线路编号", synonyms=("线路编码",), parser=parsers.code(40), text=True, export="",
           help=_lazy("LV line code, for a metered line only."), example=""),
)


class LoadKind(ImportKind):
    name = "load"
    model = LoadReading
    verbose_name = _lazy("Metered load")
    key_column = "transformer_code"
    key_fields = ("transformer_id", "line_id", "date")
    required_any = (("transformer_code", "line_code"),)
    columns = (
        *_ASSET_COLUMNS,
        Column("date", "日期", synonyms=("数据日期", "日期时间"), required=True, parser=date_parser(), export="date",
               help=_lazy("The metered day."), example="2027-01-20"),
        *(Column(key, f"P{i}", synonyms=_quarter_headers(i), parser=kw_parser, export="")
          for i, key in enumerate(QUARTER_KEYS, start=1)),
        *(Column(key, str(i), parser=kw_parser, export="", help=_lazy("kW of hour 0:00–1:00 (column 1) … 23:00–24:00.")
                 if i == 1 else "") for i, key in enumerate(HOUR_KEYS, start=1)),
        Column("max_kw", "最大负荷", synonyms=("日最大负荷", "最大负荷kW"), parser=kw_parser, export="max_kw",
               help=_lazy("Daily maximum in kW, when no curve is available.")),
    )
    lookups = (
        Lookup("transformer_code", Transformer, "transformer_id", extra=("rated_kva", "grid_id"),
               message=_lazy("Unknown transformer code: it is not in your territory. Check the code.")),
        Lookup("line_code", LVLine, "line_id", extra=("ampacity_a", "transformer__grid_id"),
               message=_lazy("Unknown LV line code: it is not in your territory. Check the code.")),
    )

    def row_key(self, row: ParsedRow) -> Any:
        return (row.values.get("transformer_code"), row.values.get("line_code"), row.values.get("date"))

    def key_values(self, row: ParsedRow) -> dict[str, Any]:
        return {"transformer_id": row.resolved.get("transformer_id"), "line_id": row.resolved.get("line_id"),
                "date": row.values.get("date")}

    def _shape(self, positions: dict[str, int]) -> str:
        """'quarter', 'hour' or 'max' from the header; a file-level error for a partial curve."""
        quarters = {key for key in positions if key in set(QUARTER_KEYS)}
        hours = {key for key in positions if key in set(HOUR_KEYS)}
        if quarters and len(quarters) != 96 and quarters != FULL_HOUR_QUARTERS:
            raise SpreadsheetError(_(
                "The file has %(count)d time columns. A load curve needs 96 columns (P1…P96 or 00:15…24:00) "
                "or 24 columns (1…24 or 01:00…24:00); add the missing columns.") % {"count": len(quarters)})
        if hours and len(hours) != 24:
            raise SpreadsheetError(_(
                "The file has %(count)d hour columns. An hourly curve needs the 24 columns 1…24; add the missing "
                "columns.") % {"count": len(hours)})
        if len(quarters) == 96:
            return "quarter"
        if quarters or hours:
            return "hour"
        if "max_kw" in positions:
            return "max"
        raise SpreadsheetError(_(
            "No load columns found: add 96 columns P1…P96, 24 columns 1…24, or the column 最大负荷(kW)."))

    def clean_rows(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        if not rows:
            return
        shape = self._shape(rows[0].positions)
        curves: list[tuple[str, ...]] = []
        if shape == "quarter":
            curves.append(QUARTER_KEYS)
        elif "q4" in rows[0].positions:
            curves.append(tuple(f"q{4 * h}" for h in range(1, 25)))
        if "h1" in rows[0].positions:
            curves.append(HOUR_KEYS)
        for row in rows:
            transformer_id, line_id = row.resolved.get("transformer_id"), row.resolved.get("line_id")
            if transformer_id and line_id:
                row.add_error("line_code", _("Give a transformer code or a line code, not both."))
                continue
            if transformer_id:
                capacity_kw = row.resolved["transformer_id:rated_kva"]
                row.resolved["grid_id"] = row.resolved["transformer_id:grid_id"]
            else:
                capacity_kw = SQRT3 * LINE_VOLTAGE_KV * row.resolved["line_id:ampacity_a"]
                row.resolved["grid_id"] = row.resolved["line_id:transformer__grid_id"]
            hourly, points, keys, quarter = None, 1, (), None
            for candidate in curves:
                values = np.array([np.nan if row.values.get(k) is None else row.values[k] for k in candidate])
                if np.isnan(values).all():
                    continue
                keys = candidate
                if len(candidate) == 96:
                    quarter, hourly, points = values, hourly_from_quarter_hours(values), 96
                else:
                    hourly, points = values, 24
                break
            max_kw = row.values.get("max_kw")
            if hourly is None and max_kw is None:
                row.add_error("date", _("No load values in this row: fill in the curve or the daily maximum."))
                continue
            limit = ABSURD_FACTOR * capacity_kw
            checked = [(k, row.values.get(k)) for k in keys] + [("max_kw", max_kw)]
            too_high = [key for key, value in checked if value is not None and value > limit]
            if too_high:
                row.add_error(too_high[0], _(
                    "%(value)s kW is more than 5 times the rating of this asset (%(limit)s kW): check the unit "
                    "(kW, not W) and the asset code.") % {"value": row.raw(too_high[0]), "limit": f"{limit:.0f}"})
                continue
            if hourly is not None:
                row.resolved["hourly_kw"] = pack_curve(hourly)
                peak = float(np.nanmax(quarter if points == 96 else hourly))
                row.resolved["max_kw"] = max_kw if max_kw is not None else peak
            else:
                row.resolved["hourly_kw"] = None
                row.resolved["max_kw"] = max_kw
            row.resolved["points"] = points

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        return {name: row.resolved.get(name) for name in ("grid_id", "hourly_kw", "max_kw", "points")}

    def compare_fields(self, present: set[str]) -> list[str]:
        return ["grid_id", "hourly_kw", "max_kw", "points"]

    def refine_plan(self, ctx: ImportContext, plan: ImportPlan) -> None:
        """Existing readings by transformer-day and by line-day (a composite key with a NULL
        in it does not match in SQL), one query per asset kind and batch."""
        fields = self.compare_fields(set())
        for asset in ("transformer_id", "line_id"):
            rows = [row for row in plan.rows if plan.fields[row.number] is not None and row.resolved.get(asset)]
            keys = {(row.resolved[asset], row.values["date"]) for row in rows}
            existing: dict[tuple, dict] = {}
            for batch in batched(sorted(keys, key=str)):
                for values in LoadReading.objects.filter(**{f"{asset}__in": {k[0] for k in batch}},
                                                         date__in={k[1] for k in batch}).values(asset, "date", *fields):
                    existing[(values[asset], values["date"])] = values
            for row in rows:
                current = existing.get((row.resolved[asset], row.values["date"]))
                new = plan.fields[row.number]
                if current is None:
                    plan.states[row.number] = "new"
                elif any(_differs(current[name], new.get(name)) for name in fields):
                    plan.states[row.number] = "updated"
                else:
                    plan.states[row.number] = "unchanged"

    def write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        rows = plan.to_write()
        for asset in ("transformer_id", "line_id"):
            mine = [row for row in rows if row.get(asset)]
            upsert(LoadReading, mine, unique_fields=[asset, "date"], update_fields=self.compare_fields(set()))

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        codes = writable_for_user(user, Transformer).order_by("code").values_list("code", flat=True)[:20000]
        return {"transformer_code": list(codes)}

    def may_import(self, user) -> bool:
        return bool(user and user.is_authenticated and user.has_perm("loadforecast.add_loadreading")
                    and user.has_perm("loadforecast.change_loadreading"))

    def export_queryset(self, user):
        return for_user(user, LoadReading).order_by("transformer__code", "line__code", "date")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        from .models import unpack_curves

        for values in queryset.values("transformer__code", "line__code", "date", "hourly_kw", "max_kw", "points").iterator(
                chunk_size=chunk_size):
            row = {"transformer_code": values["transformer__code"], "line_code": values["line__code"],
                   "date": values["date"].isoformat(), "max_kw": values["max_kw"]}
            if values["hourly_kw"] is not None:
                curve = unpack_curves([values["hourly_kw"]])[0]
                row.update({key: None if np.isnan(v) else round(float(v), 3) for key, v in zip(HOUR_KEYS, curve,
                                                                                             strict=True)})
            yield row


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, memoryview):
        current = bytes(current)
    return current != new


class WeatherKind(ImportKind):
    name = "weather"
    model = WeatherForecast
    verbose_name = _lazy("Weather forecast")
    key_column = "county_code"
    key_fields = ("county_id", "date")
    columns = (
        Column("county_code", "县区编码", required=True, parser=parsers.code(32), text=True, export="county__code",
               help=_lazy("Code of the county."), example="411627"),
        Column("date", "日期", required=True, parser=date_parser(), field="date", export="date", example="2027-02-05"),
        Column("t_min", "最低气温", synonyms=("最低温度", "最低气温℃"), required=True, parser=temperature_parser,
               field="t_min", export="t_min", help=_lazy("Daily minimum in °C."), example="-4"),
        Column("t_max", "最高气温", synonyms=("最高温度", "最高气温℃"), parser=temperature_parser, field="t_max",
               export="t_max", help=_lazy("Daily maximum in °C."), example="6"),
    )
    lookups = (Lookup("county_code", County, "county_id",
                      message=_lazy("Unknown county code: it is not in your territory. Check the code.")),)

    def row_key(self, row: ParsedRow) -> Any:
        return (row.values.get("county_code"), row.values.get("date"))

    def key_values(self, row: ParsedRow) -> dict[str, Any]:
        return {"county_id": row.resolved.get("county_id"), "date": row.values.get("date")}

    def clean_rows(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        for row in rows:
            t_min, t_max = row.values.get("t_min"), row.values.get("t_max")
            if t_max is not None and t_min is not None and t_max < t_min:
                row.add_error("t_max", _("The maximum is below the minimum: check the two temperatures."))

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"county_code": list(writable_for_user(user, County).order_by("code").values_list("code", flat=True))}

    def export_queryset(self, user):
        return for_user(user, WeatherForecast, include_context=False).order_by("county__code", "date")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        for row in super().export_rows(queryset, chunk_size=chunk_size):
            yield {**row, "date": row["date"].isoformat()}


class _ComputedExport(ImportKind):
    """What the portal computes: exported in English headers, never imported."""

    permissions = ("loadforecast.no_such_permission",)

    def may_import(self, user) -> bool:
        return False


def latest_run_dates(queryset):
    """The projections of the latest run date of each station in the queryset."""
    latest = (AssetProjection.objects.filter(grid__station_id=OuterRef("grid__station_id"))
              .values("grid__station_id").annotate(last=Max("run__run_date")).values("last"))
    return queryset.filter(run__run_date=Subquery(latest[:1]))


def _asset_code_export(values: dict[str, Any]) -> tuple[str, str]:
    if values["transformer__code"]:
        return "transformer", values["transformer__code"]
    return "lvline", values["line__code"]


class ProjectionExport(_ComputedExport):
    name = "projections"
    model = AssetProjection
    verbose_name = _lazy("Load projections")
    key_fields = ("transformer_id", "line_id", "date")
    columns = tuple(Column(key, key, export="") for key in (
        "asset_type", "asset_code", "date", "peak_kw", "peak_a", "peak_load_rate", "hours_ge_80", "hours_ge_100",
        "returning_households", "level"))

    def export_queryset(self, user):
        queryset = for_user(user, AssetProjection, include_context=False)
        return latest_run_dates(queryset).order_by(F("transformer__code").asc(nulls_last=True), "line__code", "date")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        fields = ("transformer__code", "line__code", "date", "peak_kw", "peak_a", "peak_load_rate", "hours_ge_80",
                  "hours_ge_100", "returning_households", "level")
        for values in queryset.values(*fields).iterator(chunk_size=chunk_size):
            asset_type, code = _asset_code_export(values)
            yield {
                "asset_type": asset_type, "asset_code": code, "date": values["date"],
                "peak_kw": round(values["peak_kw"], 2),
                "peak_a": None if values["peak_a"] is None else round(values["peak_a"], 1),
                "peak_load_rate": round(values["peak_load_rate"], 4), "hours_ge_80": values["hours_ge_80"],
                "hours_ge_100": values["hours_ge_100"], "returning_households": values["returning_households"],
                "level": LEVEL_CODES[values["level"]],
            }


def recommended_text(measures: list[dict[str, Any]]) -> str:
    """The recommended measures of an alert in one cell, the first (most effective) first."""
    parts = []
    for measure in measures or []:
        kind = measure.get("kind")
        if kind == "transfer":
            parts.append(f"transfer {measure['kva']:.0f} kVA to {measure.get('neighbour_code', '')}")
        elif kind == "temp_capacity":
            parts.append(f"temporary capacity {measure['kva']:.0f} kVA")
        elif kind == "phase_balance":
            parts.append(f"phase balancing ({measure.get('households', 0)} households)")
        elif kind == "staggered":
            parts.append(f"staggered use {measure['kw']:.1f} kW")
        elif kind == "patrol":
            parts.append(f"patrol on {measure.get('date', '')}")
    return "; ".join(parts)


class AlertExport(_ComputedExport):
    name = "alerts"
    model = Alert
    verbose_name = _lazy("Overload alerts")
    key_fields = ("transformer_id", "line_id", "first_date")
    columns = tuple(Column(key, key, export="") for key in (
        "asset_type", "asset_code", "level", "first_date", "last_date", "peak_load_rate", "status",
        "recommended_measure"))

    def export_queryset(self, user):
        return for_user(user, Alert, include_context=False).order_by("-level", "first_date", "pk")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        fields = ("transformer__code", "line__code", "level", "first_date", "last_date", "peak_load_rate", "status",
                  "measures")
        for values in queryset.values(*fields).iterator(chunk_size=chunk_size):
            asset_type, code = _asset_code_export(values)
            yield {
                "asset_type": asset_type, "asset_code": code, "level": LEVEL_CODES[values["level"]],
                "first_date": values["first_date"].isoformat(), "last_date": values["last_date"].isoformat(),
                "peak_load_rate": round(values["peak_load_rate"], 4), "status": values["status"],
                "recommended_measure": recommended_text(values["measures"]),
            }


OUTLOOK_COLUMNS = (
    "station_code", "season", "run_date", "asset_type", "asset_code", "level", "peak_date", "peak_load_rate",
    "peak_kw", "registered_households", "estimated_households", "first_heavy_date", "temporary_kva", "order_by",
    "late", "recommended_measure")


def outlook_row(item: OutlookItem) -> dict[str, Any]:
    """One outlook item in the `outlook` export columns (also the station page's XLSX)."""
    asset_type = "transformer" if item.transformer_id else "lvline"
    temporary = next((m["kva"] for m in item.measures if m.get("kind") == "temp_capacity"), None)
    return {
        "station_code": item.run.station.code, "season": item.run.season, "run_date": item.run.run_date.isoformat(),
        "asset_type": asset_type, "asset_code": item.asset.code, "level": LEVEL_CODES[item.level],
        "peak_date": item.peak_date.isoformat(), "peak_load_rate": round(item.peak_load_rate, 4),
        "peak_kw": round(item.peak_kw, 2), "registered_households": item.registered_households,
        "estimated_households": item.estimated_households,
        "first_heavy_date": item.first_heavy_date.isoformat() if item.first_heavy_date else "",
        "temporary_kva": temporary, "order_by": item.order_by.isoformat() if item.order_by else "",
        "late": "yes" if item.late else "no",
        "recommended_measure": recommended_text(item.measures),
    }


class OutlookExport(_ComputedExport):
    """The items of each station's latest season outlook (docs/domain.md §6.7)."""

    name = "outlook"
    model = OutlookItem
    verbose_name = _lazy("Season outlook")
    key_fields = ("run_id", "transformer_id", "line_id")
    columns = tuple(Column(key, key, export="") for key in OUTLOOK_COLUMNS)

    def export_queryset(self, user):
        from .outlook_selectors import latest_outlook_items

        return latest_outlook_items(user).order_by("run__station__code", "-level", "-peak_load_rate", "pk")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        for item in queryset.select_related("run__station", "transformer", "line").iterator(chunk_size=chunk_size):
            yield outlook_row(item)


for _kind in (LoadKind, WeatherKind, ProjectionExport, AlertExport, OutlookExport):
    register(_kind())
