"""The import engine, kind by kind: every bad input of the foundation issue gets its
message, its row and column, and the proof that nothing was written."""

from __future__ import annotations

import pytest

from customers.models import Household
from tests.imports.conftest import csv_bytes, xlsx_bytes
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.territory.models import LVLine, Transformer, Village

pytestmark = pytest.mark.django_db

VILLAGE_HEADER = ["网格编码", "村编码", "村名称"]
TRANSFORMER_HEADER = ["台区编号", "台区名称", "网格编码", "额定容量(kVA)", "空载损耗(W)", "负载损耗(W)", "投运年份", "联络台区"]
HOUSEHOLD_HEADER = ["户号", "户名", "村编码", "村名称", "台区编号", "线路编号", "相别", "地址"]


def run(kind, data, user=None, **options):
    return import_file(kind=get_kind(kind), data=data, file_name=f"{kind}.xlsx", user=user, **options)


def snapshot():
    """Everything an import could write, to prove that nothing was."""
    return (
        list(Village.objects.values_list("code", "name", "grid_id")),
        list(Transformer.objects.values_list("code", "name", "rated_kva", "grid_id")),
        list(Transformer.ties.through.objects.values_list("from_transformer_id", "to_transformer_id")),
        list(LVLine.objects.values_list("code", "transformer_id")),
        list(Household.objects.values_list("account_no", "name", "village_id", "transformer_id", "line_id", "phase")),
        ImportJob.objects.count(),
        AuditLog.objects.count(),
    )


def only_error(result):
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- File-level errors --------------------------------------------------------------

def test_it_rejects_a_file_without_header(county_admin):
    before = snapshot()
    data = xlsx_bytes([["周口供电公司"], ["a", "b", "c"], [1, 2, 3]])
    with pytest.raises(SpreadsheetError) as error:
        run("villages", data, county_admin)
    assert "No header row found" in error.value.message
    assert "村编码" in error.value.message
    assert snapshot() == before


def test_it_names_a_missing_required_column_with_the_header_row(county_admin, world):
    before = snapshot()
    data = xlsx_bytes([["村庄清单"], ["网格编码", "村名称"], ["JA-WG-01", "新村"]])
    with pytest.raises(SpreadsheetError) as error:
        run("villages", data, county_admin)
    assert error.value.row == 2
    assert error.value.column == "村编码"
    assert "The required column 村编码 is missing" in error.value.message
    assert snapshot() == before


def test_a_header_without_data_rows_is_rejected(county_admin):
    with pytest.raises(SpreadsheetError) as error:
        run("villages", xlsx_bytes([VILLAGE_HEADER]), county_admin)
    assert "no data rows" in error.value.message


# --- Row errors ---------------------------------------------------------------------

def test_an_unknown_code_is_rejected_with_row_column_and_value(county_admin):
    before = snapshot()
    result = run("villages", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"],
                                         ["NO-SUCH-GRID", "411601000002", "新二村"]]), county_admin)
    error = only_error(result)
    assert error == {"row": 3, "column": "网格编码", "value": "NO-SUCH-GRID", "message": error["message"]}
    assert error["message"].startswith("Unknown grid code")
    assert result.counts == {"new": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert not result.written
    assert snapshot() == before


def test_a_code_outside_the_territory_reads_exactly_like_an_unknown_one(county_admin):
    unknown = run("villages", xlsx_bytes([VILLAGE_HEADER, ["NO-SUCH-GRID", "411601000002", "新二村"]]), county_admin)
    before = snapshot()
    outside = run("villages", xlsx_bytes([VILLAGE_HEADER, ["YI-WG-01", "411601000002", "新二村"]]), county_admin)
    assert only_error(outside)["message"] == only_error(unknown)["message"]
    assert snapshot() == before


def test_a_record_of_another_territory_is_not_taken_over(county_admin, world):
    other = world.grids["b1"].village
    before = snapshot()
    result = run("villages", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", other.code, "改名村"]]), county_admin)
    error = only_error(result)
    assert (error["row"], error["column"]) == (2, "村编码")
    assert "outside your territory" in error["message"]
    assert snapshot() == before


def test_a_duplicate_key_names_both_rows(county_admin):
    before = snapshot()
    data = xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"], ["JA-WG-01", "411601000009", "新九村"],
                       ["JA-WG-02", "411601000001", "又一村"]], text_columns=[1])
    result = run("villages", data, county_admin)
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "村编码"), (4, "村编码")]
    assert all("rows 2, 4" in e["message"] for e in result.errors)
    assert result.counts["rejected"] == 2 and result.counts["new"] == 1
    assert snapshot() == before


@pytest.mark.parametrize("value, message", [
    ("二百", "Enter a whole number"), (0, "Must be at least 1"), (200.5, "Enter a whole number"), (9000, "at most 5000"),
])
def test_a_value_of_the_wrong_type_is_rejected(county_admin, value, message):
    before = snapshot()
    data = xlsx_bytes([TRANSFORMER_HEADER, ["TQ-NEW-1", "新台区", "JA-WG-01", value]])
    error = only_error(run("transformers", data, county_admin))
    assert (error["row"], error["column"]) == (2, "额定容量(kVA)")
    assert message in error["message"]
    assert snapshot() == before


def test_rated_kva_accepts_text_float_and_full_width_digits(county_admin):
    data = xlsx_bytes([TRANSFORMER_HEADER, ["TQ-NEW-1", "一", "JA-WG-01", "200"], ["TQ-NEW-2", "二", "JA-WG-01", 200.0],
                       ["TQ-NEW-3", "三", "JA-WG-01", "２００"], ["ＴＱ－ＮＥＷ－４", "四", "JA-WG-01", "200.0"]])
    result = run("transformers", data, county_admin)
    assert result.errors == [] and result.written
    assert dict(Transformer.objects.filter(code__startswith="TQ-NEW").values_list("code", "rated_kva")) == {
        "TQ-NEW-1": 200, "TQ-NEW-2": 200, "TQ-NEW-3": 200, "TQ-NEW-4": 200}


def test_a_required_cell_left_empty_is_rejected(county_admin):
    error = only_error(run("villages", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", None]]), county_admin))
    assert (error["row"], error["column"], error["value"]) == (2, "村名称", "")
    assert "required" in error["message"]


def test_an_account_number_damaged_by_excel_asks_to_format_the_column_as_text(county_admin, world):
    a1 = world.grids["a1"]
    before = snapshot()
    data = csv_bytes([HOUSEHOLD_HEADER, ["4.1E+09", "张三", a1.village.code, "", a1.transformer.code, "", "A", ""]])
    error = only_error(run("households", data, county_admin))
    assert (error["row"], error["column"], error["value"]) == (2, "户号", "4.1E+09")
    assert "Format the column as text" in error["message"]
    assert snapshot() == before


@pytest.mark.parametrize("account", ["12345", "12345678901234", "41000A0001"])
def test_an_account_number_must_have_10_to_13_digits(county_admin, world, account):
    a1 = world.grids["a1"]
    data = xlsx_bytes([HOUSEHOLD_HEADER, [account, "张三", a1.village.code, "", a1.transformer.code, "", "A", ""]])
    error = only_error(run("households", data, county_admin))
    assert error["column"] == "户号" and "10 to 13 digits" in error["message"]


def test_households_resolve_village_by_name_and_check_the_line(county_admin, world):
    a1, a2 = world.grids["a1"], world.grids["a2"]
    data = xlsx_bytes([
        HOUSEHOLD_HEADER,
        ["4100000001", "张三", "", a1.village.name, a1.transformer.code, a1.line.code, "a", "一组"],
        ["4100000002", "李四", "", a1.village.name, a1.transformer.code, a2.line.code, "B", ""],
        ["4100000003", "王五", "", "", a1.transformer.code, "", "ABC", ""],
        ["4100000004", "赵六", "", a1.village.name, a1.transformer.code, "", "D", ""],
    ], text_columns=[0])
    result = run("households", data, county_admin)
    assert [(e["row"], e["column"]) for e in result.errors] == [(3, "线路编号"), (4, "村编码"), (5, "相别")]
    assert "another transformer" in result.errors[0]["message"]
    assert "Fill in one of: 村编码 / 村名称" in result.errors[1]["message"]
    assert "A, B, C, ABC" in result.errors[2]["message"]
    assert result.counts["new"] == 1


def test_an_ambiguous_village_name_asks_for_the_code(county_admin, world):
    Village.objects.create(grid=world.grids["a2"].grid, code="411601999999", name=world.grids["a1"].village.name)
    a1 = world.grids["a1"]
    data = xlsx_bytes([HOUSEHOLD_HEADER, ["4100000001", "张三", "", a1.village.name, a1.transformer.code, "", "", ""]])
    error = only_error(run("households", data, county_admin))
    assert error["column"] == "村名称" and "Give the village code" in error["message"]


# --- What is accepted ----------------------------------------------------------------

def test_title_rows_blank_rows_and_a_total_row_are_skipped(county_admin):
    data = xlsx_bytes([
        ["甲县村庄清单（2026年）"], ["制表单位：甲一所", None, "日期：2026-11-01"], [],
        ["序号", "网格编码", "村编码", "村名称", "备注"],
        [1, "JA-WG-01", "411601000001", "新一村", "东"],
        [],
        [2, "JA-WG-02", "411601000002", "新二村", None],
        ["合计", None, None, "2个村"],
    ], text_columns=[2])
    result = run("villages", data, county_admin)
    assert result.errors == []
    assert result.header_row == 4
    assert result.ignored_columns == ["序号", "备注"]
    assert result.counts == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert set(Village.objects.filter(code__startswith="411601").values_list("code", "name")) == {
        ("411601000001", "新一村"), ("411601000002", "新二村")}


def test_english_headers_and_units_in_full_width_brackets_are_accepted(county_admin):
    data = xlsx_bytes([["CODE", "Name", "grid_code", "Rated KVA", "负载损耗（W）"],
                       ["TQ-EN-1", "英文台区", "JA-WG-01", 315, 3650]])
    result = run("transformers", data, county_admin)
    assert result.errors == []
    assert Transformer.objects.filter(code="TQ-EN-1", rated_kva=315, pk_w=3650).exists()


def test_numeric_codes_typed_as_numbers_keep_their_digits(county_admin):
    result = run("villages", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", 411601000001, "数字村"]]), county_admin)
    assert result.errors == []
    assert Village.objects.filter(code="411601000001").exists()


def test_a_re_import_is_unchanged_and_an_edit_is_an_update(county_admin):
    rows = [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"], ["JA-WG-02", "411601000002", "新二村"]]
    assert run("villages", xlsx_bytes(rows), county_admin).counts["new"] == 2
    again = run("villages", xlsx_bytes(rows), county_admin)
    assert again.counts == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    rows[2] = ["JA-WG-03", "411601000002", "新二村（改）"]
    edited = run("villages", xlsx_bytes(rows), county_admin)
    assert edited.counts == {"new": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    assert Village.objects.get(code="411601000002").grid.code == "JA-WG-03"
    assert Village.objects.filter(code__startswith="411601").count() == 2


def test_a_column_missing_from_the_file_is_left_alone(county_admin, world):
    transformer = world.grids["a1"].transformer
    Transformer.objects.filter(pk=transformer.pk).update(p0_w=240)
    data = xlsx_bytes([["台区编号", "台区名称", "网格编码", "额定容量(kVA)"],
                       [transformer.code, transformer.name, "JA-WG-01", 400]])
    result = run("transformers", data, county_admin)
    assert result.counts["updated"] == 1
    transformer.refresh_from_db()
    assert (transformer.rated_kva, transformer.p0_w) == (400, 240)


def test_a_dry_run_writes_nothing(county_admin):
    before = snapshot()
    result = run("villages", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]]), county_admin,
                 dry_run=True)
    assert result.counts["new"] == 1 and not result.written
    assert snapshot() == before


def test_skip_invalid_writes_the_valid_rows_only(county_admin):
    data = xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"], ["YI-WG-01", "411601000002", "越界村"]])
    result = run("villages", data, county_admin, skip_invalid=True)
    assert result.written and result.counts["new"] == 1 and result.counts["rejected"] == 1
    assert Village.objects.filter(code="411601000001").exists()
    assert not Village.objects.filter(code="411601000002").exists()
    assert [number for number, _cells, _messages in result.rejected_rows] == [3]


def test_a_real_import_records_a_job_and_an_audit_row_without_personal_data(county_admin, world):
    a1 = world.grids["a1"]
    data = xlsx_bytes([HOUSEHOLD_HEADER, ["4100000001", "张三", a1.village.code, "", a1.transformer.code, "", "A", "一组"]])
    run("households", data, county_admin)
    job = ImportJob.objects.get()
    assert (job.user, job.kind, job.status, job.counts["new"]) == (county_admin, "households", "done", 1)
    audit = AuditLog.objects.get(action="import")
    assert audit.user == county_admin and audit.object_id == str(job.pk)
    assert audit.detail["new"] == 1
    assert "张三" not in str(audit.detail) and "4100000001" not in str(audit.detail)


# --- Ties ---------------------------------------------------------------------------

def ties_of(code):
    return set(Transformer.objects.get(code=code).ties.values_list("code", flat=True))


def test_ties_are_symmetric_and_may_point_to_rows_of_the_same_file(county_admin, world):
    existing = world.grids["a2"].transformer.code
    data = xlsx_bytes([TRANSFORMER_HEADER,
                       ["TQ-T-1", "一", "JA-WG-01", 200, None, None, None, f"TQ-T-2、{existing}"],
                       ["TQ-T-2", "二", "JA-WG-01", 200, None, None, None, ""]])
    result = run("transformers", data, county_admin)
    assert result.errors == []
    assert ties_of("TQ-T-1") == {"TQ-T-2", existing}
    assert ties_of("TQ-T-2") == {"TQ-T-1"}
    assert ties_of(existing) == {"TQ-T-1"}
    again = run("transformers", data, county_admin)
    assert again.counts["unchanged"] == 2
    data = xlsx_bytes([TRANSFORMER_HEADER, ["TQ-T-1", "一", "JA-WG-01", 200, None, None, None, "TQ-T-2"]])
    assert run("transformers", data, county_admin).counts["updated"] == 1
    assert ties_of("TQ-T-1") == {"TQ-T-2"} and ties_of(existing) == set()


def test_a_tie_to_an_unknown_or_foreign_transformer_is_rejected(county_admin, world):
    foreign = world.grids["b1"].transformer.code
    data = xlsx_bytes([TRANSFORMER_HEADER, ["TQ-T-1", "一", "JA-WG-01", 200, None, None, None, f"{foreign},TQ-NOPE"]])
    error = only_error(run("transformers", data, county_admin))
    assert error["column"] == "联络台区" and foreign in error["message"] and "TQ-NOPE" in error["message"]


# --- Scale --------------------------------------------------------------------------

def household_rows(world, count):
    a1 = world.grids["a1"]
    return [HOUSEHOLD_HEADER] + [
        [f"41{n:09d}", f"户{n}", a1.village.code, "", a1.transformer.code, a1.line.code, "ABC"[n % 3], ""]
        for n in range(count)]


def test_the_number_of_queries_does_not_grow_with_the_rows(county_admin, world, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small, large = xlsx_bytes(household_rows(world, 3)), xlsx_bytes(household_rows(world, 300))
    # Warm the caches of the user's territory and permissions as a request would.
    run("households", small, county_admin, dry_run=True)
    with CaptureQueriesContext(connection) as first_small:
        assert run("households", small, county_admin).counts["new"] == 3
    with CaptureQueriesContext(connection) as first_large:
        assert run("households", large, county_admin).counts["new"] == 297
    with django_assert_max_num_queries(12):
        assert run("households", large, county_admin).counts["unchanged"] == 300
    # Lookups (transformer, line, village), existing rows, the upsert, job, audit: the same for 3 or 300 rows.
    # (SQLite allows 999 variables per statement, so Django splits its upsert there; PostgreSQL runs one.)
    def reads(context):
        return [q for q in context.captured_queries if not q["sql"].startswith("INSERT INTO \"customers_household\"")]

    assert len(reads(first_small)) == len(reads(first_large)) <= 11
    if connection.vendor == "postgresql":
        assert len(first_small.captured_queries) == len(first_large.captured_queries) <= 12


def test_numbers_with_their_unit_and_years_as_dates_are_accepted(county_admin):
    import datetime

    data = xlsx_bytes([TRANSFORMER_HEADER, ["TQ-U-1", "一", "JA-WG-01", "315kVA", "340 W", None, "2015年"],
                       ["TQ-U-2", "二", "JA-WG-01", 400, None, None, "2016-06-01"],
                       ["TQ-U-3", "三", "JA-WG-01", 400, None, None, "2017年6月1日"]])
    result = run("transformers", data, county_admin)
    assert result.errors == []
    assert dict(Transformer.objects.filter(code__startswith="TQ-U").values_list("code", "year")) == {
        "TQ-U-1": 2015, "TQ-U-2": 2016, "TQ-U-3": 2017}
    assert Transformer.objects.get(code="TQ-U-1").p0_w == 340
    from zhoukou_grid.core.importing.parsers import year
    assert year()(datetime.date(2018, 3, 1)) == 2018


def test_the_data_sheet_is_found_behind_a_notes_sheet(county_admin):
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    notes = workbook.add_worksheet("填表说明")
    notes.write_row(0, 0, ["填表说明：村编码为12位数字"])
    data = workbook.add_worksheet("村庄")
    data.write_row(0, 0, VILLAGE_HEADER)
    data.write_row(1, 0, ["JA-WG-01", "411601000001", "新一村"])
    workbook.close()
    result = run("villages", buffer.getvalue(), county_admin)
    assert result.errors == [] and result.counts["new"] == 1


@pytest.mark.parametrize("copy_threshold", [0, 100000])
def test_awkward_text_survives_both_write_paths(county_admin, world, monkeypatch, copy_threshold):
    from zhoukou_grid.core.importing import engine

    monkeypatch.setattr(engine, "COPY_THRESHOLD", copy_threshold)
    a1 = world.grids["a1"]
    address = "一组\\t12\\\\号\tB栋\n北 'x' \"y\" %s %(z)s"
    data = xlsx_bytes([HOUSEHOLD_HEADER, ["4100000001", "张三", a1.village.code, "", a1.transformer.code, "", "", address],
                       ["4100000002", "李四", a1.village.code, "", a1.transformer.code, a1.line.code, "A", None]])
    assert run("households", data, county_admin).counts["new"] == 2
    first, second = Household.objects.filter(account_no__in=["4100000001", "4100000002"]).order_by("account_no")
    assert (first.address, first.phase, first.line_id) == (address, "", None)
    assert (second.address, second.line_id) == ("", a1.line.pk)
    assert run("households", data, county_admin).counts["unchanged"] == 2


def test_row_numbers_are_excel_row_numbers_when_the_table_starts_lower_and_to_the_right(county_admin):
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(3, 2, VILLAGE_HEADER)  # C4
    sheet.write_row(4, 2, ["JA-WG-01", "411601000001", "新一村"])
    sheet.write_row(6, 2, ["NOPE", "411601000002", "新二村"])  # C7, after a blank row
    workbook.close()
    result = run("villages", buffer.getvalue(), county_admin)
    assert result.header_row == 4
    assert [(e["row"], e["column"], e["value"]) for e in result.errors] == [(7, "网格编码", "NOPE")]


def test_grid_managers_are_users_of_the_territory_or_without_a_role(county_admin, grid_manager, outsider, world):
    from tests.factories import UserFactory
    from zhoukou_grid.territory.models import Grid

    UserFactory(username="newcomer")
    header = ["供电所编码", "网格编码", "网格名称", "网格经理"]
    data = xlsx_bytes([header, ["JA-GDS-01", "JA-WG-01", "甲一网格", "grid_manager"],
                       ["JA-GDS-01", "JA-WG-02", "甲二网格", "newcomer"],
                       ["JA-GDS-02", "JA-WG-03", "甲三网格", "outsider"]])
    error = only_error(run("grids", data, county_admin))
    assert (error["row"], error["column"], error["value"]) == (4, "网格经理", "outsider")
    assert "Unknown user name" in error["message"]
    data = xlsx_bytes([header, ["JA-GDS-01", "JA-WG-01", "甲一网格", "grid_manager"],
                       ["JA-GDS-01", "JA-WG-02", "甲二网格", "newcomer"], ["JA-GDS-02", "JA-WG-03", "甲三网格", ""]])
    result = run("grids", data, county_admin)
    assert result.counts == {"new": 0, "updated": 1, "unchanged": 2, "rejected": 0}
    assert Grid.objects.get(code="JA-WG-02").manager.username == "newcomer"


@pytest.mark.parametrize("cell", [4100000001, 4.1e9, 412345678901.0])
def test_an_account_number_stored_as_a_number_asks_to_format_the_column_as_text(county_admin, world, cell):
    a1 = world.grids["a1"]
    before = snapshot()
    data = xlsx_bytes([HOUSEHOLD_HEADER, [cell, "张三", a1.village.code, "", a1.transformer.code, "", "A", ""]])
    error = only_error(run("households", data, county_admin))
    assert (error["row"], error["column"]) == (2, "户号")
    assert "Format the column as text" in error["message"]
    assert snapshot() == before
