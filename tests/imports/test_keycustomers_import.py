"""The keycustomers kind: the columns of docs/import-formats.md, the grid from the household
account (else 网格编码, else the village), Chinese words for the choices, re-imports,
exports that import back, and the template."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse

from customers.models import KeyCustomer
from tests.factories import KeyCustomerFactory
from tests.imports.conftest import csv_bytes, xlsx_bytes
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog, ImportJob

pytestmark = pytest.mark.django_db

HEADER = ["户号", "客户名称", "类别", "重要等级", "联系人", "联系电话", "供电方式", "自备电源(kW)", "地址"]


def run(rows, user, **options):
    return import_file(kind=get_kind("keycustomers"), data=xlsx_bytes(rows, text_columns=[0]),
                       file_name="重要客户.xlsx", user=user, **options)


def test_the_columns_are_those_of_the_import_formats():
    kind = get_kind("keycustomers")
    columns = [(c.header, c.key, c.required) for c in kind.columns]
    assert columns[:9] == [
        ("户号", "account_no", True), ("客户名称", "name", True), ("类别", "category", True),
        ("重要等级", "importance", False), ("联系人", "contact_name", False), ("联系电话", "contact_phone", False),
        ("供电方式", "supply", False), ("自备电源(kW)", "backup_kw", False), ("地址", "address", False)]
    assert kind.key_field == "account_no"


def test_the_grid_comes_from_the_household_account(taikang):
    household = taikang.households["董华"]
    result = run([HEADER, [household.account_no, "朱口镇中心小学", "学校", "二级", "李老师", "138 0000 0001", "双电源",
                           30, "朱口村"]], taikang.manager)
    assert not result.errors and result.written
    customer = KeyCustomer.objects.get()
    assert (customer.grid, customer.village, customer.transformer) == (taikang.grid, taikang.zhukou,
                                                                       household.transformer)
    assert (customer.category, customer.importance, customer.supply, customer.backup_kw) == (
        "school", "second", "dual", 30)
    assert customer.contact_phone == "13800000001"


def test_without_a_household_the_grid_code_or_the_village_decides(taikang):
    rows = [HEADER + ["网格编码", "村编码"],
            ["4116279000001", "水厂", "water", "", "", "", "", "", "", "TK-WG-0201", ""],
            ["4116279000002", "敬老院", "敬老院", "一级", "", "", "单电源", "", "", "", "后常营村"],
            ["4116279000003", "基站", "通信基站", "", "", "", "", "", "", "", "411627108201"],
            ["4116279000004", "养殖场", "养殖场", "", "", "", "", "", "", "", ""],
            ["4116279000005", "超市", "企业", "", "", "", "", "", "", "TK-WG-0202", ""],
            ["4116279000006", "医院", "医院", "", "", "", "", "", "", "TK-WG-0201", "小王庄村"]]
    result = run(rows, taikang.manager)
    assert [(e["row"], e["column"]) for e in result.errors] == [(5, "户号"), (6, "网格编码"), (7, "村编码")]
    assert "Fill in the grid code (网格编码) or the village (村编码)" in result.errors[0]["message"]
    assert "Unknown grid code" in result.errors[1]["message"]  # another grid: not the manager's
    assert "not in your territory" in result.errors[2]["message"]
    assert result.counts["new"] == 3 and not result.written
    run(rows[:4], taikang.manager)
    got = {c.name: (c.grid_id, c.village_id, c.category) for c in KeyCustomer.objects.all()}
    assert got == {"水厂": (taikang.grid.pk, None, "water"),
                   "敬老院": (taikang.grid.pk, taikang.houchangying.pk, "nursing_home"),
                   "基站": (taikang.grid.pk, taikang.zhukou.pk, "telecom")}


def test_a_customer_on_file_keeps_its_grid_and_reimports_are_unchanged_or_updated(taikang):
    KeyCustomerFactory(account_no="4116279000009", name="旧名", grid=taikang.grid, category="farm")
    rows = [HEADER, ["4116279000009", "朱口养殖场", "养殖", "", "", "", "", "", ""]]
    first = run(rows, taikang.manager)
    assert first.counts["updated"] == 1 and not first.errors
    assert run(rows, taikang.manager).counts["unchanged"] == 1
    assert KeyCustomer.objects.get().name == "朱口养殖场" and KeyCustomer.objects.count() == 1


@pytest.mark.parametrize(("column", "cell", "message"), [
    ("户号", 4116279000001, "stored by Excel as a number"),
    ("户号", "41162", "10 to 13 digits"),
    ("类别", "火箭发射场", "Must be one of"),
    ("重要等级", "很重要", "Must be one of"),
    ("联系电话", "1399999", "11 digits (this one has 7)"),
    ("供电方式", "三电源", "Must be one of"),
    ("自备电源(kW)", "很多", "whole number"),
    ("客户名称", "", "This column is required"),
])
def test_each_bad_cell_is_reported_with_its_row_and_column(taikang, column, cell, message):
    row = ["4116279000001", "水厂", "水厂", "", "", "", "", "", "", "TK-WG-0201"]
    row[HEADER.index(column)] = cell
    before = (KeyCustomer.objects.count(), ImportJob.objects.count(), AuditLog.objects.count())
    result = run([["重要客户名录"], HEADER + ["网格编码"], row], taikang.admin)
    (error,) = result.errors
    assert (error["row"], error["column"]) == (3, column) and message in error["message"], error
    assert (KeyCustomer.objects.count(), ImportJob.objects.count(), AuditLog.objects.count()) == before


def test_duplicate_accounts_in_the_file_are_reported_with_both_rows(taikang):
    row = ["4116279000001", "水厂", "水厂", "", "", "", "", "", "", "TK-WG-0201"]
    result = run([HEADER + ["网格编码"], row, row], taikang.manager)
    assert [e["row"] for e in result.errors] == [2, 3] and "rows 2, 3" in result.errors[0]["message"]


def test_a_customer_of_another_territory_cannot_be_changed(taikang):
    KeyCustomerFactory(account_no="4116279000001", grid=taikang.other_grid)
    result = run([HEADER + ["网格编码"], ["4116279000001", "水厂", "水厂", "", "", "", "", "", "", "TK-WG-0201"]],
                 taikang.manager)
    assert "outside your territory" in result.errors[0]["message"]


def test_an_export_imports_back_unchanged_in_chinese_words(client, taikang, tmp_path):
    run([HEADER + ["网格编码"],
         [taikang.households["董华"].account_no, "小学", "学校", "一级", "李老师", "13800000001", "双电源", 30, "朱口村"],
         ["4116279000002", "水厂", "水厂", "", "", "", "", "", "", "TK-WG-0201"]], taikang.manager)
    client.force_login(taikang.manager)
    for fmt in ("csv", "xlsx"):
        response = client.get(reverse("imports:export", args=["keycustomers"]), {"format": fmt})
        content = b"".join(response.streaming_content)
        if fmt == "csv":
            lines = content.decode("utf-8-sig").splitlines()
            assert lines[0].split(",")[:10] == [*HEADER, "网格编码"]
            assert lines[1].split(",")[2:4] == ["学校", "一级"] and lines[1].split(",")[6] == "双电源"
        again = import_file(kind=get_kind("keycustomers"), data=content, file_name=f"export.{fmt}",
                            user=taikang.manager)
        assert again.counts == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0}, (fmt, again.errors)


def test_a_csv_in_gbk_with_a_title_row(taikang):
    data = csv_bytes([["朱口镇重要客户"], HEADER, [taikang.households["常文"].account_no, "卫生院", "卫生院", "", "", "",
                                                "", "", ""]], encoding="gbk")
    result = import_file(kind=get_kind("keycustomers"), data=data, file_name="kc.csv", user=taikang.manager)
    assert result.written and KeyCustomer.objects.get().category == "hospital"


def test_a_residents_list_uploaded_as_key_customers_says_so(taikang):
    with pytest.raises(SpreadsheetError) as error:
        import_file(kind=get_kind("keycustomers"), data=xlsx_bytes([["姓名", "联系电话", "村", "返乡日期"],
                                                                     ["张三", "13800000001", "朱口村", "2027-01-25"]]),
                    file_name="x.xlsx", user=taikang.manager)
    assert error.value.message.startswith("This looks like a file of Returning residents")


def test_the_template_lists_the_choices_and_the_codes_of_the_territory(client, taikang):
    client.force_login(taikang.manager)
    response = client.get(reverse("imports:template", args=["keycustomers"]))
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["keycustomers"]
    assert [cell.value for cell in sheet[2]][:3] == ["户号", "客户名称", "类别"]
    formulas = {str(v.sqref).split(":")[0][0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert "学校" in formulas["C"] and "一级" in formulas["D"] and "双电源" in formulas["G"]
    codes = [cell.value for cell in workbook["lists"]["A"][1:] if cell.value]
    assert codes == ["TK-WG-0201"]


def test_the_contact_phone_is_stored_encrypted_compared_by_hmac_and_a_masked_one_refused(taikang):
    from django.db import connection

    account = taikang.households["董华"].account_no
    row = [account, "小学", "学校", "", "李老师", "13800000001", "", "", ""]
    assert run([HEADER, row], taikang.manager).counts["new"] == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {KeyCustomer._meta.db_table}")
        assert "13800000001" not in str(cursor.fetchall())
    customer = KeyCustomer.objects.get()
    assert (customer.contact_phone, customer.contact_phone_masked) == ("13800000001", "138****0001")
    assert run([HEADER, row], taikang.manager).counts["unchanged"] == 1
    assert run([HEADER, [*row[:5], "138 0000 0002", *row[6:]]], taikang.manager).counts["updated"] == 1
    assert KeyCustomer.objects.get().contact_phone == "13800000002"
    # An export without personal data, imported back, cannot overwrite the number with its mask.
    masked = run([HEADER, [*row[:5], "138****0002", *row[6:]]], taikang.manager)
    (error,) = masked.errors
    assert error["column"] == "联系电话" and "masked" in error["message"]
    assert KeyCustomer.objects.get().contact_phone == "13800000002"
