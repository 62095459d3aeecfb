"""Residents exports (the import columns, personal data masked unless the user may see it,
audited with a count) and the template a grid manager sends to a village committee."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from django.urls import reverse

from customers.models import ReturningResident
from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
from zhoukou_grid.territory.models import Role

pytestmark = pytest.mark.django_db

GOOD_ID = "411627196503253526"
ROWS = [["户号", "户主姓名", "姓名", "身份证号", "联系电话", "村", "务工地", "返乡人数", "返乡日期", "返程日期", "取暖方式",
         "新增用电", "备注"],
        ["4116270000001", "董华", "卢红", GOOD_ID, "17948454719", "朱口村一组", "河南郑州", 2, "2027-02-01", "2027-02-12",
         "无", "", "=HYPERLINK(\"x\")"],
        ["", "", "唐宇刚", "", "17471677825", "后常营村", "", 1, "腊月二十八", "", "空调", "小超市", ""]]


@pytest.fixture
def listed(taikang, import_day):
    result = import_file(kind=get_kind("residents"), data=xlsx_bytes(ROWS, text_columns=[0]), file_name="a.xlsx",
                         user=taikang.manager)
    assert result.written and not result.errors
    return taikang


def export(client, fmt="xlsx", **params):
    response = client.get(reverse("imports:export", args=["residents"]), {"format": fmt, **params})
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if fmt == "csv":
        return [line.split(",") for line in content.decode("utf-8-sig").splitlines()]
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_an_export_with_personal_data_imports_back_unchanged_and_is_audited_with_its_count(client, listed):
    client.force_login(listed.manager)
    rows = export(client)
    assert rows[0][:6] == ["户号", "户主姓名", "姓名", "身份证号", "联系电话", "村(组)"]
    by_name = {row[2]: row for row in rows[1:]}
    assert by_name["卢红"][3:6] == [GOOD_ID, "17948454719", "朱口村一组"]
    assert by_name["卢红"][8].date() == date(2027, 2, 1) and by_name["唐宇刚"][8].date() == date(2027, 2, 4)
    assert by_name["卢红"][10] == "无" and by_name["唐宇刚"][10] == "空调"
    assert by_name["卢红"][12] == "'=HYPERLINK(\"x\")"  # a formula is neutralised
    audit = AuditLog.objects.get(action="export")
    assert audit.detail["rows"] == 2 and audit.detail["personal_data"] is True
    # The export imports back: nothing changes.
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(buffer)
    again = import_file(kind=get_kind("residents"), data=buffer.getvalue(), file_name="export.xlsx",
                        user=listed.manager)
    assert again.counts == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0, "unlinked": 1}, again.errors
    csv_rows = export(client, "csv")
    assert csv_rows[1][:3] == ["4116270000001", "董华", "卢红"] and csv_rows[1][8] == "2027-02-01"


def test_without_the_personal_data_permission_the_numbers_are_masked(client, listed, monkeypatch):
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.GRID_MANAGER,
                        ROLE_PERMISSIONS[Role.GRID_MANAGER] - {"customers.view_personal_data"})
    client.force_login(listed.manager)
    rows = export(client)
    lu = next(row for row in rows if row[2] == "卢红")
    assert lu[3:5] == ["411627********3526", "179****4719"]
    assert GOOD_ID not in str(rows) and "17948454719" not in str(rows)
    audit = AuditLog.objects.get(action="export")
    assert "personal_data" not in audit.detail
    # A masked export cannot be taken for real numbers on the way back in.
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(buffer)
    again = import_file(kind=get_kind("residents"), data=buffer.getvalue(), file_name="masked.xlsx",
                        user=listed.manager)
    assert {e["column"] for e in again.errors} == {"身份证号", "联系电话"}
    assert all("masked" in e["message"] for e in again.errors)


def test_exports_are_scoped_to_the_territory(client, listed):
    client.force_login(listed.other_manager)
    assert export(client)[1:] == []


def test_the_command_export_is_audited_with_its_count(tmp_path, listed):
    from django.core.management import call_command

    out = tmp_path / "residents.csv"
    call_command("export_data", "residents", "--format", "csv", "--out", str(out), "--as", listed.manager.username)
    assert GOOD_ID in out.read_text(encoding="utf-8-sig")
    audit = AuditLog.objects.get(action="export")
    assert audit.detail == {"kind": "residents", "format": "csv", "rows": 2, "personal_data": True}


def test_the_template_is_what_a_village_committee_can_fill_in(client, taikang, import_day):
    client.force_login(taikang.manager)
    response = client.get(reverse("imports:template", args=["residents"]))
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["residents"]
    header = [cell.value for cell in sheet[4]]
    assert header[:6] == ["户号", "户主姓名", "姓名", "身份证号", "联系电话", "村(组)"]
    notes = [cell.value for cell in sheet[3]]
    assert notes[2].startswith("Required.") and "Keep the column formatted as text" in notes[3]
    assert sheet["A1"].value == "Spring Festival returning residents list of the village"
    assert "Columns in orange are required (姓名、返乡日期)" in sheet["A2"].value
    column = {name: openpyxl.utils.get_column_letter(i + 1) for i, name in enumerate(header)}
    # ID and phone columns as text, dates as dates, in the rows to fill in.
    def number_format(name):  # openpyxl keeps neighbouring columns of one format together
        index = header.index(name) + 1
        return next(d.number_format for d in sheet.column_dimensions.values() if d.min <= index <= d.max)

    assert number_format("身份证号") == number_format("联系电话") == number_format("户号") == "@"
    assert number_format("返乡日期") == number_format("返程日期") == "yyyy-mm-dd"
    assert number_format("姓名") == "General"
    validations = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
    heating = validations[f"{column['取暖方式']}5"]
    assert heating.type == "list" and "电暖器" in heating.formula1 and "空调" in heating.formula1
    villages = validations[f"{column['村(组)']}5"]
    lists = workbook["lists"]
    offered = [cell.value for cell in lists[villages.formula1.split("$")[1]][1:] if cell.value]
    assert offered == ["朱口村", "后常营村"]  # the manager's villages only, not 小王庄村
    # No example row: the filled-in template imports as it is.
    assert all(cell.value is None for cell in sheet[5])
    sheet["C5"], sheet[f"{column['村(组)']}5"], sheet[f"{column['返乡日期']}5"] = "张三", "朱口村", date(2027, 1, 25)
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = import_file(kind=get_kind("residents"), data=buffer.getvalue(), file_name="filled.xlsx",
                         user=taikang.manager)
    assert not result.errors and result.header_row == 4 and result.counts["new"] == 1
    assert ReturningResident.objects.get().arrival_date == date(2027, 1, 25)


def test_the_template_offers_codes_for_village_names_used_twice(client, taikang):
    from tests.factories import VillageFactory

    VillageFactory(grid=taikang.other_grid, code="411627108299", name="朱口村")
    client.force_login(taikang.admin)
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(reverse("imports:template", args=["residents"])).content))
    offered = [cell.value for cell in workbook["lists"]["A"][1:] if cell.value]
    assert offered == ["411627108201", "后常营村", "小王庄村", "411627108299"]
