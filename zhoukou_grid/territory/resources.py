"""Import/export column specs of the territory and the network (docs/import-formats.md).

Headers are the file format, not UI text: they stay as written in docs/import-formats.md in
every language. Help texts (template comments) and messages are translated.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from zhoukou_grid.core.importing import parsers
from zhoukou_grid.core.importing.engine import ImportContext, ImportPlan, ParsedRow, batched, resolve_codes
from zhoukou_grid.core.importing.spec import Column, ImportKind, Lookup, register, unique_in_order
from zhoukou_grid.core.scoping import territory_of
from zhoukou_grid.territory.filters import (
    GridFilterSet,
    LVLineFilterSet,
    StationFilterSet,
    TransformerFilterSet,
    VillageFilterSet,
)
from zhoukou_grid.territory.models import County, Grid, LVLine, RoleAssignment, Station, Transformer, Village


def _codes(queryset, field: str = "code", limit: int = 20000) -> list[str]:
    return list(queryset.order_by(field).values_list(field, flat=True)[:limit])


class StationKind(ImportKind):
    name = "stations"
    model = Station
    filterset_class = StationFilterSet
    verbose_name = _lazy("Power supply stations")
    key_column = "station_code"
    columns = (
        Column("county_code", "县区编码", required=True, parser=parsers.code(32), text=True, export="county__code",
               help=_lazy("Code of the county, e.g. 411627."), example="411627"),
        Column("county_name", "县区名称", required=True, parser=parsers.text(64), export="county__name",
               help=_lazy("Name of the county, e.g. 太康县."), example="太康县"),
        Column("station_code", "供电所编码", synonyms=("所编码",), required=True, parser=parsers.code(32), text=True,
               field="code", export="code", help=_lazy("Unique code of the power supply station."),
               example="TK-GDS-02"),
        Column("station_name", "供电所名称", synonyms=("供电所",), required=True, parser=parsers.text(64), field="name",
               export="name", help=_lazy("Name of the power supply station."), example="朱口供电所"),
    )

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        found = resolve_codes(ctx, County, "code", (row.values["county_code"] for row in rows), ("name",))
        may_create = ctx.has_perm("zhoukou_grid.add_county")
        for row in rows:
            hit = found.get(row.values["county_code"])
            if hit is not None and hit[1] != row.values["county_name"]:
                # A wrong name usually means a wrong code: say so rather than guess.
                row.add_error("county_name", _(
                    "The county with this code is called %(name)s. Correct the county name or the county code.")
                    % {"name": hit[1]})
            elif hit is not None:
                row.resolved["county_id"] = hit[0]
            elif may_create:
                # A county the company admin is creating with this import: written first.
                row.resolved["county_id"] = None
                row.resolved["new_county"] = (row.values["county_code"], row.values["county_name"])
            else:
                row.add_error("county_code", _(
                    "Unknown county code: it is not in your territory. Check the code against your county's code."))

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        return {**super().row_fields(row), "county_id": row.resolved.get("county_id")}

    def compare_fields(self, present: set[str]) -> list[str]:
        return [*super().compare_fields(present), "county_id"]

    def write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        pending = {}
        for row in plan.rows:
            if row.resolved.get("new_county"):
                code, name = row.resolved["new_county"]
                pending.setdefault(code, name)
        if pending:
            County.objects.bulk_create([County(code=c, name=n) for c, n in pending.items()], ignore_conflicts=True)
            ids = dict(County.objects.filter(code__in=list(pending)).values_list("code", "pk"))
            for row in plan.rows:
                if row.resolved.get("new_county"):
                    plan.fields[row.number]["county_id"] = ids[row.resolved["new_county"][0]]
        super().write(ctx, plan)

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"county_code": _codes(writable_for_user(user, County))}


class GridKind(ImportKind):
    name = "grids"
    model = Grid
    filterset_class = GridFilterSet
    verbose_name = _lazy("Grids")
    key_column = "grid_code"
    columns = (
        Column("station_code", "供电所编码", synonyms=("所编码",), required=True, parser=parsers.code(32), text=True,
               export="station__code", help=_lazy("Code of the power supply station the grid belongs to."),
               example="TK-GDS-02"),
        Column("grid_code", "网格编码", required=True, parser=parsers.code(32), text=True, field="code", export="code",
               help=_lazy("Unique code of the grid."), example="TK-WG-0201"),
        Column("grid_name", "网格名称", synonyms=("网格",), required=True, parser=parsers.text(64), field="name",
               export="name", help=_lazy("Name of the grid."), example="朱口一网格"),
        Column("manager", "网格经理", synonyms=("网格经理账号", "经理"), parser=parsers.code(150), text=True,
               export="manager__username", help=_lazy("User name (login) of the grid manager; may be empty."),
               example=""),
    )
    lookups = (
        Lookup("station_code", Station, "station_id",
               message=_lazy("Unknown station code: it is not in your territory. Check the code.")),
    )

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        if not any("manager" in row.values for row in rows):
            return
        users = get_user_model().objects.filter(is_active=True)
        territory = territory_of(ctx.scope_user)
        if not territory.everything:
            # Users who work in the importer's territory, or who hold no role yet (new accounts).
            in_territory = RoleAssignment.objects.filter(
                Q(grid__in=ctx.writable(Grid)) | Q(station__in=ctx.writable(Station)) | Q(county__in=ctx.writable(County))
            ).values("user_id")
            users = users.filter(Q(pk__in=in_territory) | Q(role_assignments__isnull=True)).distinct()
        names = unique_in_order(row.values.get("manager") for row in rows)
        found: dict[str, int] = {}
        for batch in batched(names):
            found.update(users.filter(username__in=batch).values_list("username", "pk").order_by())
        for row in rows:
            username = row.values.get("manager")
            if not username:
                row.resolved["manager_id"] = None
            elif username in found:
                row.resolved["manager_id"] = found[username]
            else:
                row.add_error("manager", _("Unknown user name. Enter the login name of an existing user, or leave it empty."))

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        fields = super().row_fields(row)
        if "manager" in row.values:
            fields["manager_id"] = row.resolved.get("manager_id")
        return fields

    def compare_fields(self, present: set[str]) -> list[str]:
        fields = super().compare_fields(present)
        return [*fields, "manager_id"] if "manager" in present else fields

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"station_code": _codes(writable_for_user(user, Station))}


class VillageKind(ImportKind):
    name = "villages"
    model = Village
    filterset_class = VillageFilterSet
    verbose_name = _lazy("Villages")
    key_column = "village_code"
    columns = (
        Column("grid_code", "网格编码", required=True, parser=parsers.code(32), text=True, export="grid__code",
               help=_lazy("Code of the grid the village belongs to."), example="TK-WG-0201"),
        Column("village_code", "村编码", synonyms=("行政村编码",), required=True, parser=parsers.code(32), text=True,
               field="code", export="code", help=_lazy("Unique code of the village (12 digits)."),
               example="411627108201"),
        Column("village_name", "村名称", synonyms=("村名", "行政村", "村庄名称"), required=True, parser=parsers.text(64),
               field="name", export="name", help=_lazy("Name of the village."), example="朱口村"),
    )
    lookups = (
        Lookup("grid_code", Grid, "grid_id",
               message=_lazy("Unknown grid code: it is not in your territory. Check the code.")),
    )

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"grid_code": _codes(writable_for_user(user, Grid))}


class TransformerKind(ImportKind):
    name = "transformers"
    model = Transformer
    filterset_class = TransformerFilterSet
    verbose_name = _lazy("Transformers")
    columns = (
        Column("code", "台区编号", synonyms=("台区编码", "变压器编号"), required=True, parser=parsers.code(32), text=True,
               field="code", export="code", help=_lazy("Unique code of the transformer area."), example="TQ000101"),
        Column("name", "台区名称", synonyms=("变压器名称",), required=True, parser=parsers.text(64), field="name",
               export="name", help=_lazy("Name of the transformer area."), example="朱口村1号台区"),
        Column("grid_code", "网格编码", required=True, parser=parsers.code(32), text=True, export="grid__code",
               help=_lazy("Code of the grid the transformer belongs to."), example="TK-WG-0201"),
        Column("rated_kva", "额定容量(kVA)", synonyms=("额定容量", "容量"), required=True, parser=parsers.integer(1, 5000),
               field="rated_kva", export="rated_kva", help=_lazy("Rated capacity in kVA, a whole number (e.g. 200)."),
               example=200),
        Column("p0_w", "空载损耗(W)", synonyms=("空载损耗",), parser=parsers.integer(0, 100000), field="p0_w",
               export="p0_w", help=_lazy("No-load loss in W; may be empty."), example=240),
        Column("pk_w", "负载损耗(W)", synonyms=("负载损耗", "短路损耗"), parser=parsers.integer(0, 1000000), field="pk_w",
               export="pk_w", help=_lazy("Load loss in W; may be empty."), example=2600),
        Column("year", "投运年份", synonyms=("投运年", "投运日期"), parser=parsers.year(1950, 2100), field="year",
               export="year", help=_lazy("Year the transformer went into service, e.g. 2015; may be empty."),
               example=2015),
        Column("tie_codes", "联络台区", synonyms=("联络台区编号",), parser=parsers.code_list(32), text=True, export="",
               help=_lazy("Codes of neighbouring transformers this one can transfer load to, separated by commas."),
               example=""),
    )
    lookups = (
        Lookup("grid_code", Grid, "grid_id",
               message=_lazy("Unknown grid code: it is not in your territory. Check the code.")),
    )

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        if not any(row.values.get("tie_codes") for row in rows):
            return
        in_file = {row.values["code"] for row in rows}
        listed = {code for row in rows for code in (row.values.get("tie_codes") or ())}
        known = set(resolve_codes(ctx, Transformer, "code", listed - in_file)) | in_file
        for row in rows:
            ties = row.values.get("tie_codes") or ()
            if row.values["code"] in ties:
                row.add_error("tie_codes", _("A transformer cannot be tied to itself. Remove its own code."))
            unknown = [code for code in ties if code not in known]
            if unknown:
                row.add_error("tie_codes", _(
                    "Unknown tie transformer code(s): %(codes)s. They must be transformers of your territory or of "
                    "this file.") % {"codes": ", ".join(unknown)})

    def refine_plan(self, ctx: ImportContext, plan: ImportPlan) -> None:
        plan.ties_to_write = {}
        if "tie_codes" not in plan.present:
            return
        desired: dict[str, set[str]] = {row.values["code"]: set(row.values.get("tie_codes") or ()) for row in plan.rows}
        for code, ties in list(desired.items()):
            for other in ties:
                if other in desired:
                    desired[other].add(code)
        existing_pks = [current["pk"] for current in map(plan.current, plan.rows) if current]
        current: dict[str, set[str]] = defaultdict(set)
        through = Transformer.ties.through
        for batch in batched(existing_pks):
            for code, tie in through.objects.filter(from_transformer_id__in=batch).values_list(
                    "from_transformer__code", "to_transformer__code").order_by():
                current[code].add(tie)
        for row in plan.rows:
            code = row.values["code"]
            if desired[code] != current.get(code, set()):
                plan.ties_to_write[code] = desired[code]
                if plan.states[row.number] == "unchanged":
                    plan.states[row.number] = "updated"

    def after_write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        changed = getattr(plan, "ties_to_write", None)
        if not changed:
            return
        codes = sorted(set(changed) | {code for ties in changed.values() for code in ties})
        pk_of: dict[str, int] = {}
        for batch in batched(codes):
            pk_of.update(Transformer.objects.filter(code__in=batch).values_list("code", "pk").order_by())
        through = Transformer.ties.through
        changed_pks = [pk_of[code] for code in changed]
        for batch in batched(changed_pks):
            through.objects.filter(Q(from_transformer_id__in=batch) | Q(to_transformer_id__in=batch)).delete()
        edges = set()
        for code, ties in changed.items():
            for other in ties:
                edges.add((pk_of[code], pk_of[other]))
                edges.add((pk_of[other], pk_of[code]))
        through.objects.bulk_create(
            [through(from_transformer_id=a, to_transformer_id=b) for a, b in sorted(edges)],
            batch_size=1000, ignore_conflicts=True,
        )

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        through = Transformer.ties.through
        chunk: list[dict[str, Any]] = []
        for row in super().export_rows(queryset, chunk_size=chunk_size):
            chunk.append(row)
            if len(chunk) >= chunk_size:
                yield from self._with_ties(chunk, through)
                chunk = []
        if chunk:
            yield from self._with_ties(chunk, through)

    def _with_ties(self, chunk, through):
        ties: dict[str, list[str]] = defaultdict(list)
        for code, tie in through.objects.filter(from_transformer__code__in=[r["code"] for r in chunk]).values_list(
                "from_transformer__code", "to_transformer__code").order_by("to_transformer__code"):
            ties[code].append(tie)
        for row in chunk:
            row["tie_codes"] = ",".join(ties.get(row["code"], []))
            yield row

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"grid_code": _codes(writable_for_user(user, Grid))}


class LVLineKind(ImportKind):
    name = "lvlines"
    model = LVLine
    filterset_class = LVLineFilterSet
    verbose_name = _lazy("LV lines")
    columns = (
        Column("code", "线路编号", synonyms=("线路编码", "低压线路编号"), required=True, parser=parsers.code(40), text=True,
               field="code", export="code", help=_lazy("Unique code of the low-voltage line."), example="XL0001011"),
        Column("transformer_code", "台区编号", synonyms=("台区编码",), required=True, parser=parsers.code(32), text=True,
               export="transformer__code", help=_lazy("Code of the transformer that feeds the line."),
               example="TQ000101"),
        Column("conductor", "导线型号", synonyms=("导线",), parser=parsers.text(40), field="conductor", export="conductor",
               help=_lazy("Conductor type, e.g. JKLYJ-95; may be empty."), example="JKLYJ-95"),
        Column("section_mm2", "截面(mm²)", synonyms=("截面", "导线截面"), parser=parsers.integer(1, 2000),
               field="section_mm2", export="section_mm2", help=_lazy("Cross-section in mm², a whole number."),
               example=95),
        Column("ampacity_a", "载流量(A)", synonyms=("载流量", "允许载流量"), required=True, parser=parsers.integer(1, 5000),
               field="ampacity_a", export="ampacity_a", help=_lazy("Ampacity in A, a whole number (e.g. 275)."),
               example=275),
        Column("length_m", "长度(m)", synonyms=("长度", "线路长度"), parser=parsers.integer(0, 100000), field="length_m",
               export="length_m", help=_lazy("Length in m, a whole number; may be empty."), example=850),
    )
    lookups = (
        Lookup("transformer_code", Transformer, "transformer_id",
               message=_lazy("Unknown transformer code: it is not in your territory. Check the code.")),
    )

    def template_lists(self, user) -> dict[str, list[str]]:
        from zhoukou_grid.core.scoping import writable_for_user

        return {"transformer_code": _codes(writable_for_user(user, Transformer))}


for _kind in (StationKind(), GridKind(), VillageKind(), TransformerKind(), LVLineKind()):
    register(_kind)
