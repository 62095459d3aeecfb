"""Import/export column spec of households (docs/import-formats.md)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Q, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from zhoukou_grid.core import crypto
from zhoukou_grid.core.importing import engine as import_engine
from zhoukou_grid.core.importing import parsers
from zhoukou_grid.core.importing.engine import ImportContext, ImportPlan, ParsedRow, batched, resolve_codes, upsert
from zhoukou_grid.core.importing.parsers import CellError
from zhoukou_grid.core.importing.spec import Column, ImportKind, Lookup, register, unique_in_order
from zhoukou_grid.core.lunar_calendar import season_of
from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.territory.models import Grid, LVLine, Transformer, Village

from . import parsing, services
from .filters import HouseholdFilterSet, KeyCustomerFilterSet, ReturningResidentFilterSet
from .models import Heating, Household, KeyCustomer, Phase, ReturningResident, contact_phone_columns, personal_index
from .personal_data import is_village_clerk

REVEAL_PERMISSION = "customers.view_personal_data"

PHASE_ALIASES = {"A相": "A", "B相": "B", "C相": "C", "三相": "ABC", "ABC相": "ABC", "单相A": "A", "单相B": "B", "单相C": "C"}


class HouseholdKind(ImportKind):
    name = "households"
    model = Household
    filterset_class = HouseholdFilterSet
    list_url_name = "customers:household_list"
    records_job = True
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


# --- Returning residents (docs/domain.md section 2) -----------------------------------------
# Messages for each `customers.parsing.ValueProblem` code: what is wrong and how to fix it.
VALUE_PROBLEM_MESSAGES = {
    "id_damaged_by_excel": _lazy(
        "Excel stored this ID number as a number and has lost its last digits; it cannot be repaired. Format the "
        "column as text and re-enter the number."),
    "id_old_15_digits": _lazy("This is an old 15-digit ID number. Enter the 18-digit number of the current ID card."),
    "id_format": _lazy(
        "An ID number has 18 characters: 17 digits, then a digit or X (this one has %(length)d). Check the number."),
    "id_birth_date": _lazy(
        "The birth date inside this ID number (characters 7 to 14) is not a real date. Check the number."),
    "id_checksum": _lazy(
        "The last character of this ID number does not fit the others: a digit was probably mistyped. Check the "
        "number against the ID card."),
    "phone_not_digits": _lazy("A mobile number has digits only. Remove other characters; give one number per cell."),
    "phone_length": _lazy("A mobile number has 11 digits (this one has %(length)d). Check the number."),
    "phone_format": _lazy("This is not a mobile number: it must start with 13 to 19. Check the number."),
    "date_unreadable": _lazy(
        "This date cannot be read. Write it as 2027-01-25, 2027年1月25日, 1月25日 or 腊月二十六."),
    "date_empty": _lazy("The date is empty. Write it as 2027-01-25, 1月25日 or 腊月二十六."),
    "date_lunar_day": _lazy("The day of this lunar date cannot be read. Write it as 初一 to 三十, for example 腊月二十六."),
    "date_lunar_invalid": _lazy("This lunar month has no such day this year. Check the date."),
    "date_invalid": _lazy("There is no such day in the calendar (%(value)s). Check the date."),
    "persons_not_number": _lazy("Write the number of persons as a whole number, such as 2."),
    "persons_not_positive": _lazy("The number of persons must be at least 1."),
    "persons_too_many": _lazy(
        "More than %(maximum)d persons in one row is not plausible. Check the number, or give one row per family."),
}
# The personal columns of the residents list, stored encrypted (docs/personal-data.md).
PERSONAL_KEYS = ("id_number", "phone")
WRITE_CHUNK = 20_000  # rows per upsert of the residents' write
# Rows per batch of a residents' import (setting IMPORT_BATCH_ROWS): the import streams,
# a batch parsed, checked, compared and written before the next is read (with 20,000 the
# command's peak was 306 MB on 100,000 rows; two batches' rows at once at the worst).
DEFAULT_BATCH_ROWS = 10_000
# The Chinese word written in exports and offered in the template, per heating kind.
HEATING_WORDS = {kind: words[0] for kind, words in parsing.HEATING_SYNONYMS.items()} | {Heating.OTHER: "其他"}


def value_problem_message(problem: parsing.ValueProblem) -> str:
    template = VALUE_PROBLEM_MESSAGES.get(problem.code)
    if template is None:  # a code added to parsing.py without its message yet: still say something useful
        return _("This value cannot be used. Check it.")
    try:
        return str(template) % problem.params if problem.params else str(template)
    except (KeyError, TypeError, ValueError):
        return str(template)


def _problem_parser(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A `customers.parsing` function as a cell parser: ValueProblem -> CellError with its message."""

    def parser(value: Any) -> Any:
        try:
            return parse(value)
        except parsing.ValueProblem as problem:
            raise CellError(value_problem_message(problem)) from None

    return parser


def _personal(parse: Callable[[Any], str]) -> Callable[[Any], str]:
    """ID and phone cells: a masked value (from an export without personal data) is refused."""

    def parser(value: Any) -> str:
        if type(value) is str and "*" in value:
            raise CellError(_("This number is masked (****), as in an export without personal data. Type the full "
                              "number, or leave the cell empty."))
        try:
            return parse(value)
        except parsing.ValueProblem as problem:
            raise CellError(value_problem_message(problem)) from None

    return parser


def memoised(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A parser that remembers its answers, for columns whose values repeat all down a list
    (dates, head counts, heating, villages): each distinct cell is parsed once per import."""
    answers: dict[Any, tuple[bool, Any]] = {}

    def parser(value: Any) -> Any:
        key = (type(value), value)
        answer = answers.get(key)
        if answer is None:
            try:
                answer = (True, parse(value))
            except CellError as error:
                answer = (False, error.message)
            if len(answers) < 100_000:
                answers[key] = answer
        if answer[0]:
            return answer[1]
        raise CellError(answer[1])

    return parser


def _village_text(value: Any) -> str:
    text = parsing.fold(value).replace(" ", "")
    if len(text) > 64:
        raise CellError(_("Too long: at most %(max)d characters.") % {"max": 64})
    return text


RESIDENT_COLUMNS = (
    Column("account_no", "户号", synonyms=("用电户号", "电费户号", "用户编号"), parser=parsers.digits(10, 13),
           text=True, field="account_no", export="account_no",
           help=_lazy("Electricity account number of the household, 10 to 13 digits; may be empty."),
           example="4100000001"),
    Column("head_name", "户主姓名", synonyms=("户名", "户主", "户主名"), parser=parsers.text(64),
           field="head_name", export="head_name",
           help=_lazy("Head of the household (name on the electricity account); may be empty."), example="张三"),
    Column("name", "姓名", synonyms=("返乡人员姓名", "返乡人员", "返乡人姓名"), required=True,
           parser=parsers.text(64), field="name", export="name",
           help=_lazy("Name of the person coming home. Required."), example="张小明"),
    Column("id_number", "身份证号", synonyms=("身份证号码", "公民身份号码", "身份证"),
           parser=_personal(parsing.parse_id_number), text=True, export="",
           help=_lazy("18-character ID number; the last may be X. Keep the column formatted as text."),
           example="411627199001011234"),
    Column("phone", "联系电话", synonyms=("手机号", "手机号码", "电话", "联系方式"),
           parser=_personal(parsing.parse_mobile), text=True, export="",
           help=_lazy("11-digit mobile number. Keep the column formatted as text."), example="13800000000"),
    Column("village", "村(组)", synonyms=("村", "村名", "所在村", "行政村", "村组", "村名称"), parser=_village_text,
           export="", help=_lazy("Village name from the list, or village name and group such as 朱口村一组, or "
                                 "the village code. Required."), example="朱口村一组"),
    Column("workplace", "务工地", synonyms=("外出地点", "工作地", "务工地点", "打工地点"), parser=parsers.text(100),
           field="workplace", export="workplace", help=_lazy("Where the person works; may be empty."),
           example="河南郑州"),
    Column("persons", "返乡人数", synonyms=("人数",), parser=_problem_parser(parsing.parse_person_count),
           field="persons", export="persons",
           help=_lazy("Persons coming home with this entry, 1 to 50; empty means 1."), example=1),
    Column("arrival_date", "返乡日期", synonyms=("返乡时间", "预计返乡日期", "预计返乡时间", "到家时间", "到家日期"),
           required=True, field="arrival_date", export="arrival_date", date=True,
           help=_lazy("Arrival date: 2027-01-25, 1月25日 or 腊月二十六. Required."), example="2027-01-25"),
    Column("departure_date", "返程日期", synonyms=("返程时间", "预计返程日期", "预计返程时间", "离乡时间", "离乡日期"),
           field="departure_date", export="departure_date", date=True,
           help=_lazy("Departure date, after the arrival; empty means the usual stay."), example="2027-02-14"),
    Column("heating", "取暖方式", synonyms=("采暖方式", "取暖"), parser=parsing.parse_heating,
           choices=tuple(dict.fromkeys(HEATING_WORDS.values())), field="heating", export="heating",
           help=_lazy("Heating: choose from the list; may be empty."), example="电暖器"),
    Column("extra_load", "新增用电", synonyms=("大功率电器", "经营负荷", "新增负荷"), parser=parsers.text(200),
           field="extra_load", export="extra_load",
           help=_lazy("Extra load for the holiday, such as a shop or a workshop; may be empty."), example=""),
    Column("note", "备注", parser=parsers.text(500), field="note", export="note",
           help=_lazy("Anything else; may be empty."), example=""),
    Column("village_code", "村编码", synonyms=("行政村编码",), parser=parsers.code(32), text=True,
           export="village__code",
           help=_lazy("Village code; when given it decides the village. May be empty."), example=""),
)


# --- The residents' import, hook by hook: module functions the kind calls ----------------------
def row_hmacs(row: ParsedRow) -> tuple[str, str]:
    """(ID HMAC, phone HMAC) of a row, "" where blank; computed once (the parsers have
    normalised the values: ID upper-case, phone 11 digits)."""
    resolved = row.resolved  # two more keys keep this dict in its size class (no tuple per row)
    if "id_hmac" not in resolved:
        values = row.values
        resolved["id_hmac"] = crypto.blind_index(values.get("id_number") or "", purpose="id_number")
        resolved["phone_hmac"] = crypto.blind_index(values.get("phone") or "", purpose="phone")
    return resolved["id_hmac"], resolved["phone_hmac"]


def row_match_key(row: ParsedRow) -> str:
    id_hmac, phone_hmac = row_hmacs(row)
    return services.resident_match_key(
        name=row.values.get("name") or "", id_hmac=id_hmac, phone_hmac=phone_hmac,
        village_id=row.resolved.get("village_id"), account_no=row.values.get("account_no") or "")


def resolve_villages(ctx: ImportContext, rows: list[ParsedRow]) -> None:
    """Village code, or name (the "X组" part kept as the group), in one query per batch."""
    splits: dict[str, list[tuple[str, str]]] = {}
    wanted: set[str] = set()
    for row in rows:
        text = row.values.get("village") or ""
        if text and text not in splits:
            splits[text] = village_and_group(text)
        wanted.update(value for value in (row.values.get("village_code"), text) if value)
        wanted.update(name for name, _group in splits.get(text, ()))
    by_code: dict[str, int] = {}
    by_name: dict[str, list[int]] = defaultdict(list)
    for batch in batched(sorted(wanted)):
        for code, name, pk in ctx.writable(Village).filter(
                Q(code__any_of=batch) | Q(name__any_of=batch)).values_list("code", "name", "pk").order_by():
            if code in wanted:
                by_code[code] = pk
            if name in wanted:
                by_name[name].append(pk)
    for row in rows:
        _place_row(row, splits, by_code, by_name)


def _place_row(row: ParsedRow, splits: dict[str, list[tuple[str, str]]], by_code: dict[str, int],
               by_name: dict[str, list[int]]) -> None:
    """The village and group of one row from the villages found, or its error."""
    text = row.values.get("village") or ""
    code = row.values.get("village_code")
    if code:
        if code in by_code:
            group = next((g for _name, g in splits.get(text, ())), "")
            row.resolved["village_id"], row.resolved["village_group"] = by_code[code], group
        else:
            row.add_error("village_code", _("Unknown village code: it is not in your territory. Check the "
                                            "code, or leave it empty and write the village name."))
        return
    if text in by_code:
        row.resolved["village_id"], row.resolved["village_group"] = by_code[text], ""
        return
    name, group = text, ""
    if text not in by_name:  # "江村村2组": the longest known village name before the group
        name, group = next(((n, g) for n, g in splits.get(text, ()) if n in by_name), (text, ""))
    matches = by_name.get(name, [])
    if len(matches) == 1:
        row.resolved["village_id"] = matches[0]
        row.resolved["village_group"] = group
    elif matches:
        row.add_error("village", _("Several villages of your territory have this name. Write the village "
                                   "code instead (see the template's list)."))
    else:
        row.add_error("village", _("This village is not in your territory. Write the village name as in the "
                                   "template's list (a group may follow, as in 朱口村一组), or its code."))


def match_households(ctx: ImportContext, rows: list[ParsedRow]) -> None:
    """Account number first (within the territory), else village + head of household
    when exactly one household matches; set-based, one query per batch."""
    by_account: dict[str, int] = {}
    for batch in batched(unique_in_order(row.values.get("account_no") for row in rows)):
        by_account.update(ctx.writable(Household).filter(account_no__any_of=batch).values_list(
            "account_no", "pk").order_by())
    pending: list[ParsedRow] = []
    for row in rows:
        household = by_account.get(row.values.get("account_no") or "")
        row.resolved["household_id"] = household
        if household is None and row.values.get("head_name"):
            pending.append(row)
    pairs = list(dict.fromkeys((row.resolved["village_id"], row.values["head_name"]) for row in pending))
    found: dict[tuple[int, str], list[int]] = defaultdict(list)
    for batch in batched(pairs):
        for village_id, name, pk in households_by_village_and_name(batch):
            found[(village_id, name)].append(pk)
    for row in pending:
        hits = found.get((row.resolved["village_id"], row.values["head_name"]), [])
        if len(hits) == 1:
            row.resolved["household_id"] = hits[0]


def check_rows(ctx: ImportContext, rows: list[ParsedRow]) -> None:
    """The rules of an entry (customers.services), row by row, then the name + village +
    account duplicates, a key known only once the village is resolved."""
    for row in rows:
        for key, message in services.resident_date_problems(
                arrival=row.values.get("arrival_date"), departure=row.values.get("departure_date"),
                import_day=ctx.reference_day):
            # With --season the dates must lie within 120 days of that season's New Year, so a
            # list of another season is refused row by row.
            row.add_error(key, message)
    by_key: dict[str, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        if row.ok and ResidentKind.row_key(row) is None:
            by_key[row_match_key(row)].append(row)
    for same in by_key.values():
        if len(same) > 1:
            numbers = ", ".join(str(row.number) for row in same)
            for row in same:
                row.add_error(*resident_duplicate_error(row, numbers))


# The season of the import being run, set when its rows are resolved and read by `key_values`
# (which gets no context): a context variable rather than a key in each row's `resolved` dict,
# which would leave its size class on 100,000 rows; per thread, so two imports never mix.
_LIST_SEASON: ContextVar[int | None] = ContextVar("resident_list_season", default=None)


def list_season(ctx: ImportContext) -> int:
    """The season a list is imported for: the one named (`--season`, the web form's choice),
    else the coming season of the import day. Entries are matched within it only, so last
    season's list and this season's coexist (docs/domain.md §6.7)."""
    return ctx.season if ctx.season is not None else season_of(ctx.import_day)


def resident_duplicate_error(row: ParsedRow, numbers: str) -> tuple[str, str]:
    if row.values.get("id_number"):
        return "id_number", _("The same ID number appears in rows %(rows)s of the file. Keep one of these rows "
                              "and delete the others.") % {"rows": numbers}
    if row.values.get("phone"):
        return "phone", _("The same name and phone appear in rows %(rows)s of the file. Keep one of these rows "
                          "and delete the others.") % {"rows": numbers}
    return "name", _("The same name, village and account appear in rows %(rows)s of the file. Keep one of these "
                     "rows and delete the others.") % {"rows": numbers}


def add_tokens(row: ParsedRow, fields: dict[str, Any]) -> None:
    """The token and masked form of each personal column present in the file."""
    values = row.values
    if "id_number" in values:
        number = values["id_number"] or ""
        fields["id_number_enc"] = crypto.encrypt(number, purpose="id_number")
        fields["id_number_masked"] = parsing.mask_id_number(number) if number else ""
    if "phone" in values:
        phone = values["phone"] or ""
        fields["phone_enc"] = crypto.encrypt(phone, purpose="phone")
        fields["phone_masked"] = parsing.mask_phone(phone) if phone else ""


def drop_tokens(fields: dict[str, Any]) -> None:
    for name in ("id_number_enc", "id_number_masked", "phone_enc", "phone_masked"):
        fields.pop(name, None)


def keep_hand_links(plan: ImportPlan) -> None:
    """A resident a grid manager linked by hand keeps the link when the list matches no household."""
    for row in plan.rows:
        current = plan.current(row)
        fields = plan.fields[row.number]
        if current is not None and fields["household_id"] is None:
            fields["household_id"] = current["household_id"]
            if plan.states[row.number] == "updated" and all(
                    current[name] == fields.get(name) for name in plan.update_fields):
                plan.states[row.number] = "unchanged"


def find_under_weaker_keys(ctx: ImportContext, plan: ImportPlan) -> None:
    """A new row whose person is listed in the same village under a weaker key (name +
    phone, or name + village + account: the ID number or the phone was added since)
    updates that entry.

    The import streams (a batch of rows at a time), so what is shared between batches is
    in `ctx.shared`: the entries without an ID key that rows matched exactly (`targeted`),
    and the updates under a weaker key, which are written at the end of the import
    (`finish_weaker_key_updates`), once every row's exact match is known."""
    targeted: set[int] = ctx.shared.setdefault("targeted", set())
    # Entries matched exactly under a key other than the ID's: an entry with an ID key is never
    # found under a weaker key, so only these can be taken twice (few on most lists).
    pk_at = 0  # existing_names start with "pk"
    targeted.update(current[pk_at] for key, current in plan.existing.items() if not str(key[-1]).startswith("id:"))
    candidates = [row for row in plan.rows if plan.states[row.number] == "new"
                  and (row.values.get("id_number") or row.values.get("phone"))]
    season = list_season(ctx)
    # The entries without an ID number in the villages of these rows: few, one query per batch.
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for batch in batched(sorted({row.resolved["village_id"] for row in candidates})):
        for values in ctx.writable(ReturningResident).filter(village_id__any_of=batch, season=season).exclude(
                match_key__startswith="id:").values("pk", "village_id", "match_key", "household_id").order_by():
            found[(values["village_id"], values["match_key"])] = values
    if not found:
        return
    rekeyed: dict[int, int] = plan.notes.setdefault("rekeyed", {})
    taken: set[int] = ctx.shared.setdefault("rekey_targets", set())
    for row in candidates:
        village_id = row.resolved["village_id"]
        current = next((found[village_id, key] for key in weaker_keys(row)
                        if (village_id, key) in found and found[village_id, key]["pk"] not in targeted
                        and found[village_id, key]["pk"] not in taken), None)
        if current is None:
            continue
        taken.add(current["pk"])
        fields = plan.fields[row.number]
        own_household = fields["household_id"]
        if fields["household_id"] is None:
            fields["household_id"] = current["household_id"]
        rekeyed[row.number] = current["pk"]
        plan.states[row.number] = "updated"
        ctx.shared.setdefault("weaker", []).append(_WeakerKeyUpdate(row=row, pk=current["pk"], fields=fields,
                                                                    own_household=own_household))


@dataclass(slots=True)
class _WeakerKeyUpdate:
    """A row that updates an entry found under a weaker key, kept back to the end of the import."""

    row: ParsedRow
    pk: int
    fields: dict[str, Any]
    own_household: int | None


def finish_weaker_key_updates(ctx: ImportContext, counts: dict[str, int], write: bool) -> None:
    """The updates under a weaker key, after the last batch: an entry that a later row
    matched exactly stays that row's, and the row that would have taken it is a new
    entry (as when the whole list is checked at once); the others update their entry with
    its new key."""
    updates: list[_WeakerKeyUpdate] = ctx.shared.get("weaker", [])
    if not updates:
        return
    targeted: set[int] = ctx.shared.get("targeted", set())
    keep = [update for update in updates if update.pk not in targeted]
    demoted = [update for update in updates if update.pk in targeted]
    for update in demoted:
        counts["updated"] -= 1
        counts["new"] += 1
        if update.own_household is None and update.fields["household_id"] is not None:
            counts["unlinked"] = counts.get("unlinked", 0) + 1
        update.fields["household_id"] = update.own_household
    if not write:
        return
    update_fields, personal = ctx.shared["write_fields"]
    stamp, new_only = ctx.shared["stamp"], ctx.shared["new_only"]
    key_fields = list(services.RESIDENT_KEY_FIELDS)
    if demoted:
        rows = []
        for update in demoted:
            fields = update.fields
            fields.update({"village_id": update.row.resolved.get("village_id"),
                           "match_key": row_match_key(update.row)})
            add_tokens(update.row, fields)
            rows.append(fields)
        upsert(ReturningResident, rows, unique_fields=key_fields,
               update_fields=[*update_fields, *personal, "import_job_id", "updated_at"],
               common={**stamp, **new_only})
    if keep:
        changes = []
        for update in keep:
            fields = update.fields
            add_tokens(update.row, fields)
            changes.append(ReturningResident(pk=update.pk, match_key=row_match_key(update.row), **fields, **stamp))
        ReturningResident.objects.bulk_update(
            changes, ["match_key", *update_fields, *personal, "import_job_id", "updated_at"], batch_size=500)


def weaker_keys(row: ParsedRow) -> list[str]:
    values = row.values
    name = values.get("name") or ""
    keys = []
    id_hmac, phone_hmac = row_hmacs(row)
    if id_hmac and phone_hmac:
        keys.append(ReturningResident.build_match_key(name=name, phone_hmac=phone_hmac))
    if values.get("id_number") or values.get("phone"):
        keys.append(ReturningResident.build_match_key(
            name=name, village_id=row.resolved.get("village_id"), account_no=values.get("account_no") or ""))
    return keys


def write_residents(ctx: ImportContext, plan: ImportPlan) -> None:
    """New and changed entries of a batch upserted on their key, a chunk at a time; those
    found under a weaker key are updated at the end of the import (finish_weaker_key_updates)."""
    shared = ctx.shared
    if "stamp" not in shared:  # one time stamp for the whole import, whatever its batches
        now = timezone.now()
        shared["stamp"] = {"import_job_id": getattr(ctx.job, "pk", None), "updated_at": now}
        # A village clerk's upload is the village's own entry (they may reveal its numbers).
        by_clerk = getattr(ctx.user, "pk", None) is not None and is_village_clerk(ctx.user)
        source = ReturningResident.Source.VILLAGE if by_clerk else ReturningResident.Source.IMPORT
        shared["new_only"] = {"created_at": now, "source": source, "status": ReturningResident.Status.EXPECTED}
    personal = written_personal_fields(plan)
    shared["write_fields"] = (plan.update_fields, personal)  # not the plan: its rows go with the batch
    stamp, new_only = shared["stamp"], shared["new_only"]
    rekeyed: dict[int, int] = plan.notes.get("rekeyed", {})
    to_write = [row for row in plan.rows if plan.states[row.number] != "unchanged" and row.number not in rekeyed]
    key_fields = list(services.RESIDENT_KEY_FIELDS)
    # Written a chunk at a time, the tokens of a chunk dropped after it. The stamp travels
    # beside the rows (`common`): each row's dict keeps at most 21 keys.
    for chunk in batched(to_write, WRITE_CHUNK):
        rows = []
        for row in chunk:
            fields = plan.fields[row.number]  # completed in place: a copy per row costs memory
            fields.update(zip(key_fields, plan.db_key(row), strict=True))
            add_tokens(row, fields)
            rows.append(fields)
        upsert(ReturningResident, rows, unique_fields=key_fields,
               update_fields=[*plan.update_fields, *personal, "import_job_id", "updated_at"],
               common={**stamp, **new_only})
        for fields in rows:
            drop_tokens(fields)


def written_personal_fields(plan: ImportPlan) -> list[str]:
    """Token and masked columns written with each row, for the personal columns of the file."""
    return [f"{key}_{part}" for key in PERSONAL_KEYS if key in plan.present for part in ("enc", "masked")]


def export_residents(queryset, *, columns, chunk_size: int) -> Iterator[dict[str, Any]]:
    paths = [c.export for c in columns if c.export]
    keyring = crypto.keyring()
    personal = [name for key in PERSONAL_KEYS for name in (f"{key}_masked", f"{key}_enc")]
    for values in queryset.values(*paths, *personal, "village__name", "village_group", "_reveal").iterator(
            chunk_size=chunk_size):
        row = {c.key: values[c.export] for c in columns if c.export}
        row["village"] = values["village__name"] + (values["village_group"] or "")
        row["heating"] = HEATING_WORDS.get(values["heating"], "") if values["heating"] else ""
        # Decrypted only for a role that may see the numbers (the export is audited).
        for key in PERSONAL_KEYS:
            row[key] = (keyring.decrypt(values[f"{key}_enc"], purpose=key) if values["_reveal"]
                        else values[f"{key}_masked"])
        yield row


class ResidentKind(ImportKind):
    """The village committee's list of returning residents (docs/domain.md section 2).

    The village is a code or a name ("朱口村一组" is the village 朱口村, group 一组),
    only inside the user's territory. A row links to a household by account number,
    otherwise by village + head of household when exactly one household matches;
    otherwise it stays unlinked (counted as "unlinked"). The key is the village, the season
    the list is imported for (`list_season`: the coming one, or `--season` / the web form's
    choice) and `ReturningResident.match_key` (services.RESIDENT_KEY_FIELDS), so last
    season's list and this season's never touch each other's entries; a person listed in
    another village, inside or outside the territory, is a new entry of this village, so
    the answer never tells whether a number is listed elsewhere (docs/security.md,
    "Existence oracles"). A person listed before under a weaker key (no ID number, or no
    phone) is updated, not duplicated, when the ID or phone is added.

    ID and phone numbers are matched, de-duplicated and compared by their keyed HMACs
    (computed once per row); only the rows written are encrypted (docs/personal-data.md).
    The rules each entry obeys are customers.services' (`resident_date_problems`).
    """

    name = "residents"
    model = ReturningResident
    filterset_class = ReturningResidentFilterSet
    list_url_name = "customers:resident_list"
    records_job = True  # written by `write_residents`
    verbose_name = _lazy("Returning residents")
    key_column = "name"
    key_field = "match_key"
    key_fields = services.RESIDENT_KEY_FIELDS
    template_note_row = True
    template_title = _lazy("Spring Festival returning residents list of the village")
    personal_columns = PERSONAL_KEYS
    columns = RESIDENT_COLUMNS
    required_any = (("village", "village_code"),)

    def column_parsers(self, ctx: ImportContext) -> dict[str, Callable[[Any], Any]]:
        today = ctx.reference_day

        def date_parser(value: Any) -> date:
            return parsing.parse_date(value, reference=today)

        dates = memoised(_problem_parser(date_parser))
        return {"arrival_date": dates, "departure_date": dates,
                **{key: memoised(self.column(key).parser) for key in ("persons", "heating", "village")}}

    def mask_value(self, column_key: str, text: str) -> str:
        compact = text.replace(" ", "").replace("-", "")
        if column_key == "id_number" and len(compact) == 18:
            return parsing.mask_id_number(compact)
        if column_key == "phone" and len(compact) == 11:
            return parsing.mask_phone(compact)
        return super().mask_value(column_key, text)

    @staticmethod
    def row_key(row: ParsedRow) -> Any:
        # The file's duplicates by the keys known before the village: the same ID (or name and
        # phone) twice in one file is refused even for two villages. Name + village + account:
        # checked after lookups (check_rows).
        id_hmac, phone_hmac = row_hmacs(row)
        if id_hmac:
            return "id:" + id_hmac
        if phone_hmac and row.values.get("name"):
            return f"np:{row.values['name']}|{phone_hmac}"
        return None

    def key_values(self, row: ParsedRow) -> dict[str, Any]:
        return {"village_id": row.resolved.get("village_id"), "season": _LIST_SEASON.get(),
                "match_key": row_match_key(row)}

    def duplicate_error(self, row: ParsedRow, numbers: str) -> tuple[str, str]:
        return resident_duplicate_error(row, numbers)

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        _LIST_SEASON.set(list_season(ctx))
        resolve_villages(ctx, rows)
        match_households(ctx, [row for row in rows if row.ok])

    def clean_rows(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        check_rows(ctx, rows)

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        fields = super().row_fields(row)
        if "persons" in fields and fields["persons"] is None:
            fields["persons"] = 1
        fields["village_id"] = row.resolved.get("village_id")
        fields["village_group"] = row.resolved.get("village_group", "")
        fields["household_id"] = row.resolved.get("household_id")
        # Compared by HMAC; the token and the masked form are added only to the rows written.
        id_hmac, phone_hmac = row_hmacs(row)
        if "id_number" in row.values:
            fields["id_number_hmac"] = id_hmac
        if "phone" in row.values:
            fields["phone_hmac"] = phone_hmac
        return fields

    def compare_fields(self, present: set[str]) -> list[str]:
        personal = [f"{key}_hmac" for key in PERSONAL_KEYS if key in present]
        return [*super().compare_fields(present), "village_group", "household_id", *personal]

    def refine_plan(self, ctx: ImportContext, plan: ImportPlan) -> None:
        keep_hand_links(plan)
        find_under_weaker_keys(ctx, plan)

    def job_season(self, season: int | None) -> int | None:
        # Fixed at upload: the coming season of that day unless another was chosen.
        return season if season is not None else season_of(import_engine.local_today())

    def job_rows_query(self, job) -> dict[str, str] | None:
        # Every season: the rows of the job's own season, whatever season the list shows by default.
        return {**super().job_rows_query(job), "season": "all"}

    def extra_counts(self, plan: ImportPlan) -> dict[str, int]:
        return {"unlinked": sum(1 for row in plan.rows if plan.fields[row.number].get("household_id") is None)}

    def write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        write_residents(ctx, plan)

    def stream_batch_rows(self) -> int | None:
        return int(getattr(settings, "IMPORT_BATCH_ROWS", DEFAULT_BATCH_ROWS))

    def finish_pass(self, ctx: ImportContext, counts: dict[str, int], write: bool) -> None:
        finish_weaker_key_updates(ctx, counts, write)

    def export_queryset(self, user):
        from zhoukou_grid.core.scoping import for_user

        # The user's right to see ID and phone numbers travels with the queryset to export_rows.
        reveal = self.export_has_personal_data(user)
        return for_user(user, ReturningResident, include_context=False).annotate(
            _reveal=Value(reveal, output_field=BooleanField())).order_by("village__code", "arrival_date", "name", "pk")

    def export_has_personal_data(self, user) -> bool:
        return bool(user and user.has_perm(REVEAL_PERMISSION))

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        return export_residents(queryset, columns=self.columns, chunk_size=chunk_size)

    def template_lists(self, user) -> dict[str, list[str]]:
        """Village names of the territory (the code where a name is not unique)."""
        villages = list(writable_for_user(user, Village).order_by("code").values_list("code", "name")[:20000])
        counts: dict[str, int] = defaultdict(int)
        for _code, name in villages:
            counts[name] += 1
        return {"village": [name if counts[name] == 1 else code for code, name in villages]}


_GROUP_RE = re.compile(r"^[(（]?([^()（）]*?组)[)）]?$")


def village_and_group(text: str) -> list[tuple[str, str]]:
    """Readings of "X村Y组" as (village name, group), longest village name first:
    "江村村2组" -> [("江村村", "2组"), ("江村", "村2组")]; the import takes the first that
    names a village of the territory. A text without a group has no reading."""
    readings = []
    for index in range(len(text) - 1, 0, -1):
        if text[index - 1] == "村":
            group = _GROUP_RE.match(text[index:])
            if group:
                readings.append((text[:index], group.group(1)))
    return readings


def households_by_village_and_name(pairs) -> list[tuple[int, str, int]]:
    """(village_id, name, household pk) of the households matching (village_id, name) pairs:
    one query. On PostgreSQL a join with the pairs (the (village, name) index answers it);
    elsewhere IN on both columns, filtered exactly in Python."""
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        table = Household._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT h.village_id, h.name, h.id FROM {table} h "
                "JOIN unnest(%s::bigint[], %s::text[]) AS p(village_id, name) "
                "ON h.village_id = p.village_id AND h.name = p.name",
                [[village_id for village_id, _name in pairs], [name for _village_id, name in pairs]])
            return cursor.fetchall()
    wanted = set(pairs)
    return [hit for hit in Household.objects.filter(
        village_id__in={v for v, _n in pairs}, name__in={n for _v, n in pairs}).values_list(
        "village_id", "name", "pk").order_by() if (hit[0], hit[1]) in wanted]


register(ResidentKind())


# --- Key customers (docs/import-formats.md) ---------------------------------------------------
# The Chinese word written in exports for each choice; imports take these, their synonyms,
# the codes (school) and the English labels.
CATEGORY_WORDS = {
    "business": ("企业", "商户", "工厂", "商业", "工商业", "超市", "商场"),
    "school": ("学校", "中学", "小学", "幼儿园"),
    "nursing_home": ("养老院", "敬老院", "福利院"),
    "hospital": ("医院", "卫生院", "诊所", "卫生室"),
    "government": ("政府机关", "政府", "机关", "村委会", "乡政府", "镇政府"),
    "water": ("水厂", "供水", "自来水厂", "供水站"),
    "heating": ("供热", "热力", "供暖", "热力公司"),
    "telecom": ("通信基站", "通信", "基站", "移动", "联通", "电信"),
    "farm": ("养殖场", "养殖", "农场", "大棚", "种植"),
    "other": ("其他", "其它"),
}
IMPORTANCE_WORDS = {
    "special": ("特级", "特级重要", "特级重要用户"),
    "first": ("一级", "一级重要", "一级重要用户"),
    "second": ("二级", "二级重要", "二级重要用户"),
    "temporary": ("临时", "临时性重要", "临时重要用户"),
}
SUPPLY_WORDS = {"single": ("单电源", "单回路", "单路", "单"), "dual": ("双电源", "双回路", "双路", "双")}


def _word_choice(words: dict[str, tuple[str, ...]], labels) -> Callable[[Any], str]:
    aliases = {word: code for code, synonyms in words.items() for word in synonyms}
    aliases.update({str(label): code for code, label in labels})
    return parsers.choice(tuple(words), aliases)


def _word_of(words: dict[str, tuple[str, ...]], code: str) -> str:
    return words[code][0] if code in words else ""


class KeyCustomerKind(ImportKind):
    """Key customers' files (一户一档), keyed by account number.

    The grid comes from the household with the same account when it is in the user's
    territory (its village and transformer too); otherwise from the 网格编码 column,
    otherwise from the village (村编码 or 村名称); a customer already on file keeps its
    grid when none of these is given. Exports carry 网格编码 and 村编码 so that they
    import back unchanged.

    The contact phone is personal data, stored encrypted (docs/personal-data.md): compared
    by its HMAC, encrypted only in the rows written, exported in full only to a role that
    may see it (the export's audit row says so and counts the rows), masked otherwise.
    """

    name = "keycustomers"
    model = KeyCustomer
    filterset_class = KeyCustomerFilterSet
    list_url_name = "customers:keycustomer_list"
    records_job = True
    verbose_name = _lazy("Key customers")
    key_column = "account_no"
    key_field = "account_no"
    personal_columns = ("contact_phone",)
    columns = (
        Column("account_no", "户号", synonyms=("用电户号", "用户编号", "客户编号"), required=True,
               parser=parsers.digits(10, 13, text_only=True), text=True, field="account_no", export="account_no",
               help=_lazy("Electricity account number, 10 to 13 digits. Keep this column formatted as text."),
               example="4100000009"),
        Column("name", "客户名称", synonyms=("用户名称", "单位名称", "户名"), required=True, parser=parsers.text(100),
               field="name", export="name", help=_lazy("Name of the customer."), example="朱口镇中心小学"),
        Column("category", "类别", synonyms=("客户类别", "用户类别", "行业类别"), required=True,
               parser=_word_choice(CATEGORY_WORDS, KeyCustomer.Category.choices),
               choices=tuple(words[0] for words in CATEGORY_WORDS.values()), field="category", export="category",
               help=_lazy("Kind of customer: choose from the list."), example="学校"),
        Column("importance", "重要等级", synonyms=("重要性等级", "等级"),
               parser=_word_choice(IMPORTANCE_WORDS, KeyCustomer.Importance.choices),
               choices=tuple(words[0] for words in IMPORTANCE_WORDS.values()), field="importance",
               export="importance", help=_lazy("Importance level; may be empty."), example="二级"),
        Column("contact_name", "联系人", synonyms=("负责人",), parser=parsers.text(64), field="contact_name",
               export="contact_name", help=_lazy("Contact person; may be empty."), example="李老师"),
        Column("contact_phone", "联系电话", synonyms=("手机号", "电话", "联系人电话"),
               parser=_personal(parsing.parse_mobile), text=True, export="",
               help=_lazy("Mobile number of the contact, 11 digits; may be empty."), example="13800000000"),
        Column("supply", "供电方式", synonyms=("电源类型", "供电电源"),
               parser=_word_choice(SUPPLY_WORDS, KeyCustomer.Supply.choices),
               choices=tuple(words[0] for words in SUPPLY_WORDS.values()), field="supply", export="supply",
               help=_lazy("Single or dual supply; empty means single."), example="单电源"),
        Column("backup_kw", "自备电源(kW)", synonyms=("自备电源", "自备发电机", "自备电源容量"),
               parser=parsers.integer(0, 100000), field="backup_kw", export="backup_kw",
               help=_lazy("Capacity of the customer's own backup generator in kW; empty when there is none."),
               example=30),
        Column("address", "地址", synonyms=("用电地址",), parser=parsers.text(200), field="address", export="address",
               help=_lazy("Address; may be empty."), example="朱口镇朱口村"),
        Column("grid_code", "网格编码", synonyms=("所属网格",), parser=parsers.code(32), text=True, export="grid__code",
               help=_lazy("Grid code: needed only when the account is not a household of your territory."),
               example=""),
        Column("village_code", "村编码", synonyms=("村名称", "村名", "所在村"), parser=parsers.code(64), text=True,
               export="village__code",
               help=_lazy("Village code or name: gives the grid when the account is not a household and no grid code "
                          "is given."), example=""),
    )

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        accounts = [row.values["account_no"] for row in rows]
        households: dict[str, tuple] = {}
        for batch in batched(unique_in_order(accounts)):
            for account, village_id, grid_id, transformer_id in ctx.writable(Household).filter(
                    account_no__any_of=batch).values_list("account_no", "village_id", "village__grid_id",
                                                      "transformer_id").order_by():
                households[account] = (village_id, grid_id, transformer_id)
        grids = resolve_codes(ctx, Grid, "code", (row.values.get("grid_code") for row in rows))
        village_values = unique_in_order(row.values.get("village_code") for row in rows)
        villages: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for batch in batched(village_values):
            for code, name, pk, grid_id in ctx.writable(Village).filter(Q(code__any_of=batch) | Q(name__any_of=batch)).values_list(
                    "code", "name", "pk", "grid_id").order_by():
                villages[code].append((pk, grid_id))
                if name != code:
                    villages[name].append((pk, grid_id))
        existing: dict[str, int] = {}
        for batch in batched(unique_in_order(accounts)):
            existing.update(ctx.writable(KeyCustomer).filter(account_no__any_of=batch).values_list(
                "account_no", "grid_id"))
        for row in rows:
            household = households.get(row.values["account_no"])
            grid_code, village_value = row.values.get("grid_code"), row.values.get("village_code")
            resolved = row.resolved
            if household is not None:
                resolved["village_id"], resolved["grid_id"], resolved["transformer_id"] = household
                continue
            if grid_code:
                hit = grids.get(grid_code)
                if hit is None:
                    row.add_error("grid_code", _("Unknown grid code: it is not in your territory. Check the code."))
                    continue
                resolved["grid_id"] = hit[0]
            if village_value:
                hits = list(dict.fromkeys(villages.get(village_value, [])))
                if len(hits) != 1:
                    row.add_error("village_code", _(
                        "Several villages of your territory have this name. Give the village code instead.") if hits
                        else _("Unknown village: it is not in your territory. Check the village code or name."))
                    continue
                village_id, village_grid = hits[0]
                if resolved.get("grid_id") not in (None, village_grid):
                    row.add_error("village_code", _("This village belongs to another grid. Check the grid code and "
                                                    "the village."))
                    continue
                resolved["village_id"], resolved["grid_id"] = village_id, village_grid
            if resolved.get("grid_id") is None:
                if row.values["account_no"] in existing:
                    resolved["grid_id"] = existing[row.values["account_no"]]
                else:
                    row.add_error("account_no", _(
                        "This account is not a household of your territory, so its grid is unknown. Fill in the "
                        "grid code (网格编码) or the village (村编码) of the customer."))

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        fields = super().row_fields(row)
        if "supply" in fields and not fields["supply"]:
            fields["supply"] = KeyCustomer.Supply.SINGLE
        fields["grid_id"] = row.resolved["grid_id"]
        for name in ("village_id", "transformer_id"):
            if name in row.resolved:
                fields[name] = row.resolved[name]
        if "contact_phone" in row.values:  # compared by HMAC; the token is made for the rows written
            fields["contact_phone_hmac"] = personal_index("phone", row.values["contact_phone"] or "")
        return fields

    def compare_fields(self, present: set[str]) -> list[str]:
        phone = ["contact_phone_hmac"] if "contact_phone" in present else []
        return [*super().compare_fields(present), "grid_id", "village_id", "transformer_id", *phone]

    def write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        rows = []
        for row in plan.rows:
            if plan.states[row.number] == "unchanged":
                continue
            fields = {**self.key_values(row), **plan.fields[row.number]}
            if "contact_phone" in row.values:
                fields.update(contact_phone_columns("contact_phone", row.values["contact_phone"] or ""))
            rows.append(fields)
        phone = ["contact_phone_enc", "contact_phone_masked"] if "contact_phone" in plan.present else []
        stamp = self.job_stamp(ctx)
        upsert(KeyCustomer, rows, unique_fields=self.unique_fields(),
               update_fields=[*plan.update_fields, *phone, *stamp], common=stamp)

    def refine_plan(self, ctx: ImportContext, plan: ImportPlan) -> None:
        # A row that says nothing of the village or transformer keeps the ones on file.
        for row in plan.rows:
            current = plan.current(row)
            fields = plan.fields[row.number]
            for name in ("village_id", "transformer_id"):
                if name not in fields:
                    fields[name] = current[name] if current is not None else None
            if current is not None:
                changed = any(current[name] != fields.get(name) for name in plan.update_fields)
                plan.states[row.number] = "updated" if changed else "unchanged"

    def export_queryset(self, user):
        # The user's right to see the phone numbers travels with the queryset to export_rows.
        return super().export_queryset(user).annotate(
            _reveal=Value(self.export_has_personal_data(user), output_field=BooleanField()))

    def export_has_personal_data(self, user) -> bool:
        return bool(user and user.has_perm(REVEAL_PERMISSION))

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        paths = {c.key: c.export for c in self.columns if c.export}
        keyring = crypto.keyring()
        for values in queryset.values(*paths.values(), "contact_phone_enc", "contact_phone_masked", "_reveal").iterator(
                chunk_size=chunk_size):
            row = {key: values[path] for key, path in paths.items()}
            # Decrypted only for a role that may see the numbers (the export is audited).
            row["contact_phone"] = (keyring.decrypt(values["contact_phone_enc"], purpose="contact_phone")
                                    if values["_reveal"] else values["contact_phone_masked"])
            row["category"] = _word_of(CATEGORY_WORDS, row["category"])
            row["importance"] = _word_of(IMPORTANCE_WORDS, row["importance"])
            row["supply"] = _word_of(SUPPLY_WORDS, row["supply"])
            yield row

    def template_lists(self, user) -> dict[str, list[str]]:
        def codes(model):
            return list(writable_for_user(user, model).order_by("code").values_list("code", flat=True)[:20000])

        return {"grid_code": codes(Grid), "village_code": codes(Village)}


register(KeyCustomerKind())
