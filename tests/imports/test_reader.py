"""Reading bytes into rows: type by content, encodings, delimiters, bad files."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from tests.imports.conftest import csv_bytes, xlsx_bytes
from zhoukou_grid.core.importing.headers import find_header, is_total_row, normalise_header
from zhoukou_grid.core.importing.reader import SpreadsheetError, read_rows, sniff_delimiter

ROWS = [["网格编码", "村编码", "村名称"], ["TK-WG-0201", "411627108201", "朱口村"]]


def test_it_reads_gbk_csv():
    assert read_rows(csv_bytes(ROWS, encoding="gbk")) == ROWS


def test_it_reads_gb18030_and_utf8_with_and_without_bom():
    for encoding in ("gb18030", "utf-8", "utf-8-sig"):
        assert read_rows(csv_bytes(ROWS, encoding=encoding)) == ROWS, encoding


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_it_sniffs_the_delimiter(delimiter):
    assert read_rows(csv_bytes(ROWS, delimiter=delimiter)) == ROWS


def test_sniffing_prefers_the_delimiter_present_on_every_line():
    assert sniff_delimiter(["a;b;c", "1;2,5;3", "4;5;6"]) == ";"


def test_it_reads_xlsx_by_content_whatever_the_name():
    data = xlsx_bytes([["标题"], [], *ROWS])
    rows = read_rows(data, "renamed.csv")
    assert rows[2:] == ROWS
    assert rows[1] == ["", "", ""]  # the blank row keeps its place: row numbers stay Excel's


def test_a_csv_named_xlsx_is_read_as_csv():
    assert read_rows(csv_bytes(ROWS), "table.xlsx") == ROWS


def test_random_binary_bytes_are_rejected():
    data = bytes(range(256)) * 8 + os.urandom(2048)
    with pytest.raises(SpreadsheetError) as error:
        read_rows(data, "data.csv")
    assert "UTF-8 or GBK" in error.value.message or "not a spreadsheet" in error.value.message


def test_a_png_renamed_xlsx_is_not_a_spreadsheet():
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(500)
    with pytest.raises(SpreadsheetError) as error:
        read_rows(png, "photo.xlsx")
    assert "not a spreadsheet" in error.value.message


def test_a_zip_that_is_not_a_workbook_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SpreadsheetError) as error:
        read_rows(buffer.getvalue(), "x.xlsx")
    assert "cannot be opened" in error.value.message


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf", b",,,\r\n,,\r\n"])
def test_an_empty_file_is_rejected(data):
    with pytest.raises(SpreadsheetError) as error:
        read_rows(data, "empty.csv")
    assert "empty" in error.value.message


def test_an_empty_workbook_is_rejected():
    with pytest.raises(SpreadsheetError) as error:
        read_rows(xlsx_bytes([]), "empty.xlsx")
    assert "empty" in error.value.message


@pytest.mark.parametrize("written, expected", [
    ("额定容量(kVA)", "额定容量"),
    ("额定容量（kVA）", "额定容量"),
    ("负载损耗 （W）", "负载损耗"),
    ("截面(mm²)", "截面"),
    ("台区\n编号", "台区编号"),
    ("ＴＩＥ＿ＣＯＤＥＳ", "tiecodes"),
    ("Rated_KVA", "ratedkva"),
    (" 户 号 *", "户号"),
])
def test_headers_are_normalised(written, expected):
    assert normalise_header(written) == expected


def test_the_header_row_is_the_one_matching_most_known_headers():
    lookup = {"村编码": "village_code", "村名称": "village_name", "网格编码": "grid_code"}
    rows = [["周口 村名称 一览"], ["制表：朱口所", "", ""], ["网格编码", "村编码", "村名称", "备注"], ["x", "y", "z"]]
    header = find_header(rows, lookup)
    assert header.row_index == 2 and header.excel_row == 3
    assert header.columns == {"grid_code": 0, "village_code": 1, "village_name": 2}
    assert header.ignored == ["备注"]


@pytest.mark.parametrize("row, expected", [
    (["合计", "", 12], True), (["", "总 计"], True), (["小计："], True), (["Total", 3], True),
    (["朱口村", "合计"], False), (["", ""], False),
])
def test_total_rows_are_recognised(row, expected):
    assert is_total_row(row) is expected


def test_a_damaged_xls_is_rejected_as_a_workbook_that_cannot_be_opened():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4000)
    with pytest.raises(SpreadsheetError) as error:
        read_rows(ole, "old.xls")
    assert "cannot be opened" in error.value.message


def test_a_workbook_reads_from_its_first_visible_sheet():
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    hidden = workbook.add_worksheet("lists")
    hidden.write_row(0, 0, ["not", "this"])
    sheet = workbook.add_worksheet("data")
    for r, row in enumerate(ROWS):
        sheet.write_row(r, 0, row)
    sheet.activate()
    hidden.hide()
    workbook.close()
    assert read_rows(buffer.getvalue()) == ROWS
