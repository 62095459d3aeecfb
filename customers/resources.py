"""Import/export column spec of households (IMPORT_FORMATS.md)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from zhoukou_grid.importing import parsers
from zhoukou_grid.importing.engine import ImportContext, ParsedRow, batched, resolve_codes
from zhoukou_grid.importing.spec import Column, ImportKind, Lookup, register, unique_in_order
from zhoukou_grid.models import LVLine, Transformer, Village
from zhoukou_grid.scoping import writable_for_user

from .models import Household, Phase

PHASE_ALIASES = {"A相": "A", "B相": "B", "C相": "C", "三相": "ABC", "ABC相": "ABC", "单相A": "A", "单相B": "B", "单相C": "C"}


class HouseholdKind(ImportKind):
    name = "households"
    model = Household
    verbose_name = _lazy("Households")
    key_column = "account_no"
    key_field = "account_no"
    columns = (
        Column("account_no", "户号", synonyms=("用户编号", "用户号", "客户编号"), required=True, parser=parsers.digits(10, 13, text_only=True),
               text=True, field="account_no", export="account_no",
               help=_lazy("Electricity account number, 10 to 13 digits. Keep this column formatted as text."),
               example="4100000001"),
        Column("name", "户名", synonyms=("用户名称", "户主姓名", "户主"), required=True, parser=parsers.text(64),
               field="name", export="name", help=_lazy("Name on the account."), example="张三"),
        Column("village_code", "村编码", synonyms=("行政村编码",), parser=parsers.code(32), text=True,
               export="village__code", help=_lazy("Code of the village; give the code or the name."),
               example="411627108201"),
        Column("village_name", "村名称", synonyms=("村名", "所在村", "行政村"), parser=parsers.text(64),
               export="village__name",
               help=_lazy("Name of the village, used when the code is empty; it must be unique in your territory."),
               example="朱口村"),
        Column("transformer_code", "台区编号", synonyms=("台区编码", "所属台区"), required=True, parser=parsers.code(32),
               text=True, export="transformer__code", help=_lazy("Code of the transformer that supplies the household."),
               example="TQ000101"),
        Column("line_code", "线路编号", synonyms=("线路编码", "所属线路"), parser=parsers.code(40), text=True,
               export="line__code", help=_lazy("Code of the LV line of that transformer; may be empty."),
               example="XL0001011"),
        Column("phase", "相别", synonyms=("相位", "接入相别"), parser=parsers.choice(tuple(Phase.values), PHASE_ALIASES),
               choices=tuple(Phase.values), field="phase", export="phase",
               help=_lazy("Phase: A, B, C or ABC (three-phase); may be empty."), example="A"),
        Column("address", "地址", synonyms=("用电地址", "住址"), parser=parsers.text(200), field="address",
               export="address", help=_lazy("Address; may be empty."), example="朱口村一组12号"),
    )
    required_any = (("village_code", "village_name"),)
    lookups = (
        Lookup("transformer_code", Transformer, "transformer_id",
               message=_lazy("Unknown transformer code: it is not in your territory. Check the code.")),
        Lookup("line_code", LVLine, "line_id", extra=("transformer_id",),
               message=_lazy("Unknown line code: it is not in your territory. Check the code, or leave it empty.")),
    )

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        by_code = resolve_codes(ctx, Village, "code", (row.values.get("village_code") for row in rows))
        names = unique_in_order(row.values.get("village_name") for row in rows if not row.values.get("village_code"))
        by_name: dict[str, list[int]] = defaultdict(list)
        for batch in batched(names):
            for name, pk in ctx.writable(Village).filter(name__in=batch).values_list("name", "pk").order_by():
                by_name[name].append(pk)
        for row in rows:
            code = row.values.get("village_code")
            if code:
                hit = by_code.get(code)
                if hit is None:
                    row.add_error("village_code", _(
                        "Unknown village code: it is not in your territory. Check the code."))
                else:
                    row.resolved["village_id"] = hit[0]
                continue
            name = row.values.get("village_name")
            matches = by_name.get(name, [])
            if not matches:
                row.add_error("village_name", _(
                    "Unknown village name: no village of your territory has this name. Check the name or give the "
                    "village code."))
            elif len(matches) > 1:
                row.add_error("village_name", _(
                    "Several villages of your territory have this name. Give the village code instead."))
            else:
                row.resolved["village_id"] = matches[0]

    def clean_rows(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        for row in rows:
            line_transformer = row.resolved.get("line_id:transformer_id")
            if row.resolved.get("line_id") and line_transformer != row.resolved.get("transformer_id"):
                row.add_error("line_code", _(
                    "This line belongs to another transformer. Check the line code and the transformer code."))

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        return {**super().row_fields(row), "village_id": row.resolved.get("village_id")}

    def compare_fields(self, present: set[str]) -> list[str]:
        return [*super().compare_fields(present), "village_id"]

    def template_lists(self, user) -> dict[str, list[str]]:
        def codes(model):
            return list(writable_for_user(user, model).order_by("code").values_list("code", flat=True)[:20000])

        return {"village_code": codes(Village), "transformer_code": codes(Transformer), "line_code": codes(LVLine)}


register(HouseholdKind())
