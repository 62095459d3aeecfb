"""Hostile workbooks: a 1.7 KB XLSX whose one cell sits at XFD200000 made python-calamine
allocate ~100 GB and abort the process (SIGABRT: a dead web or Celery worker). The reader now
measures the cell extent the sheet XML declares and uses before anything reads it, and reads
workbooks in a child process under a memory limit (docs/security.md, "Hostile files")."""

from __future__ import annotations

import io
import logging
import os
import pickle
import resource
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes, xlsx_bytes
from tests.imports.office_files import sheet_workbook, xls_workbook
from tests.imports.residents_world import ZHUKOU_XLSX
from zhoukou_grid.core.importing import reader
from zhoukou_grid.core.importing.reader import SpreadsheetError, iter_sheets, read_rows
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import ImportJob

FAR = '<sheetData><row r="200000"><c r="XFD200000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
# A header row and a <dimension> that says A1:D1, and the far cell all the same.
LYING = ('<dimension ref="A1:D1"/><sheetData><row r="1">'
         + "".join(f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
                   for col, name in zip("ABCD", ["姓名", "联系电话", "村", "返乡日期"], strict=True))
         + '</row><row r="200000"><c r="XFD200000"><v>1</v></c></row></sheetData>')
TOO_FAR = "reaches row 200000 and column XFD (3,276,800,000 cells counted from A1)"


def refused(data: bytes) -> str:
    with pytest.raises(SpreadsheetError) as error:
        read_rows(data, "名单.xlsx")
    return error.value.message


def test_the_1_7_kb_workbook_with_one_cell_at_xfd200000_is_refused_before_it_is_read():
    data = sheet_workbook(FAR)
    assert len(data) < 2000
    message = refused(data)
    assert TOO_FAR in message
    assert "1048576 rows, 256 columns, 30,000,000 cells" in message
    assert "Delete the empty rows and columns after the data" in message


def test_a_dimension_that_lies_does_not_hide_the_far_cell():
    assert TOO_FAR in refused(sheet_workbook(LYING))


@pytest.mark.parametrize("sheet_xml", [
    # Cells and rows without r: the reader places them after the previous ones.
    '<sheetData><row r="1">' + "<c><v>1</v></c>" * 16384 + "</row><row r=\"200000\"><c><v>1</v></c></row></sheetData>",
    '<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="200000"><c s="0" r="XFD200000"><v>1</v></c></row>'
    "</sheetData>",  # r not the first attribute
    "<sheetData><row r='1'><c r='A1'><v>1</v></c></row><row r='200000'><c r='XFD200000'><v>1</v></c></row>"
    "</sheetData>",  # single quotes
    '<sheetData><row r="200000"><c\tr="XFD200000"><v>1</v></c></row></sheetData>',  # a tab in the tag
    '<sheetData><row r="200000"><c r="&#88;FD200000"><v>1</v></c></row></sheetData>',  # an escaped reference
    '<x:sheetData xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:row r="200000">'
    '<x:c r="XFD200000"><x:v>1</x:v></x:c></x:row></x:sheetData>',  # a namespace prefix
    '<dimension ref="A1:XFD200000"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>',  # declared
    '<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="200000"><c r="XFC200000"><v>1</v></c>'
    '<c r="$XFD$200000"><v>1</v></c></row></sheetData>',  # an absolute reference
], ids=["no r", "r not first", "single quotes", "tab", "escaped", "prefixed", "dimension", "absolute"])
def test_every_way_of_writing_the_far_cell_is_measured(sheet_xml):
    assert "reaches row 200000 and column XFD" in refused(sheet_workbook(sheet_xml))


def test_the_far_cell_is_found_past_the_first_megabyte_and_after_cells_without_r():
    ordinary = "".join(f'<row r="{r}">' + "".join(f'<c r="{col}{r}"><v>{r}</v></c>' for col in "ABCDEFGH")
                       + "</row>" for r in range(1, 40_001))
    assert len(ordinary) > 3 * 1024 * 1024
    assert TOO_FAR in refused(sheet_workbook(f"<sheetData>{ordinary}" + FAR.removeprefix("<sheetData>")))
    # Cells without r continue the row they are in, across the chunk where the scan changes its way.
    tail = '<row r="200000"><c r="XFC200000"><v>1</v></c>' + "<c><v>2</v></c></row></sheetData>"
    assert TOO_FAR in refused(sheet_workbook(f"<sheetData>{ordinary}{tail}"))


def test_the_limits_are_settings(settings):
    four_columns = xlsx_bytes([["姓名", "联系电话", "村", "返乡日期"], ["张三", "13800000001", "朱口村", "2027-01-25"]])
    assert read_rows(four_columns)[0] == ["姓名", "联系电话", "村", "返乡日期"]
    settings.IMPORT_MAX_COLUMNS = 3
    assert "reaches row 2 and column D" in refused(four_columns)
    settings.IMPORT_MAX_COLUMNS, settings.IMPORT_MAX_ROWS = 256, 1
    assert "more than an import accepts (1 rows" in refused(four_columns)
    settings.IMPORT_MAX_ROWS, settings.IMPORT_MAX_CELLS = 10, 7
    assert "(8 cells counted from A1)" in refused(four_columns)


def test_a_child_reader_that_crashes_refuses_the_file_and_this_process_goes_on(settings, caplog):
    # Without the extent check, the far cell reaches python-calamine: its child process aborts.
    settings.IMPORT_MAX_COLUMNS = settings.IMPORT_MAX_ROWS = settings.IMPORT_MAX_CELLS = 10 ** 12
    settings.IMPORT_READER_MEMORY_BYTES = 1024 ** 3
    with caplog.at_level(logging.WARNING, logger="zhoukou_grid.core.importing.reader"):
        message = refused(sheet_workbook(FAR))
    assert "needed more memory or time than the server allows" in message
    # calamine aborts the child (SIGABRT), or Python in it runs out of memory: the child only.
    assert "exit status -6" in caplog.text or "ran out of memory" in caplog.text
    assert read_rows(ZHUKOU_XLSX.read_bytes())[1][0] == "序号"  # this process reads on


def test_a_child_reader_past_its_time_is_stopped(settings):
    settings.IMPORT_READER_TIMEOUT_SECONDS = 0.001
    assert "needed more memory or time" in refused(ZHUKOU_XLSX.read_bytes())


def test_the_child_reads_exactly_what_the_reader_in_process_reads(settings):
    data = ZHUKOU_XLSX.read_bytes()
    timings = {}
    rows = {}
    for isolated in (False, True, False, True):  # the second round of each counts (warm caches)
        settings.IMPORT_READER_ISOLATED = isolated
        start = time.perf_counter()
        rows[isolated] = list(iter_sheets(data, ZHUKOU_XLSX.name))
        timings[isolated] = time.perf_counter() - start
    assert rows[True] == rows[False] and len(rows[True][0]) > 20
    overhead = timings[True] - timings[False]
    print(f"\nreading {ZHUKOU_XLSX.name} ({len(data)} bytes): in-process {timings[False] * 1000:.1f} ms, "
          f"child process {timings[True] * 1000:.1f} ms (overhead {overhead * 1000:.1f} ms)")
    assert overhead < 2.0  # a child Python that imports only python-calamine: tens of milliseconds


def test_what_the_child_sends_back_cannot_build_anything_but_cell_values():
    import datetime as dt

    cells = ("rows", [["a", 1, 2.5, True, dt.date(2027, 1, 25), dt.datetime(2027, 1, 25, 8), dt.time(8),
                       dt.timedelta(hours=1)]])
    assert reader._CellsUnpickler(io.BytesIO(pickle.dumps(cells))).load() == cells
    with pytest.raises(pickle.UnpicklingError):
        reader._CellsUnpickler(io.BytesIO(pickle.dumps(("rows", [[os.getcwd]])))).load()


@pytest.mark.django_db
def test_a_normal_workbook_still_imports(taikang, import_day):
    result = import_file(kind=get_kind("residents"), data=ZHUKOU_XLSX.read_bytes(), file_name=ZHUKOU_XLSX.name,
                         user=taikang.manager, skip_invalid=True)
    assert result.written and ReturningResident.objects.count() == 22


@pytest.mark.django_db
def test_the_import_api_answers_400_with_the_message_and_keeps_no_job(county_admin):
    api = APIClient()
    api.force_authenticate(county_admin)
    for sheet_xml in (FAR, LYING):
        response = api.post("/api/v1/import-jobs/", {
            "kind": "villages", "file": SimpleUploadedFile("村.xlsx", sheet_workbook(sheet_xml))}, format="multipart")
        assert response.status_code == 400, response.content
        assert TOO_FAR in response.json()["file"][0]
    assert not ImportJob.objects.exists()
    ok = api.post("/api/v1/import-jobs/", {"kind": "villages", "file": SimpleUploadedFile(
        "村.csv", csv_bytes([["网格编码", "村编码", "村名称"], ["JA-WG-01", "411601000001", "新一村"]]))},
        format="multipart")
    assert ok.status_code == 201


def _four_gigabytes():
    resource.setrlimit(resource.RLIMIT_AS, (4 * 1024 ** 3, 4 * 1024 ** 3))


@pytest.mark.parametrize("sheet_xml", [FAR, LYING], ids=["far cell", "lying dimension"])
def test_import_data_exits_2_with_the_message_under_a_4_gb_limit_instead_of_aborting(tmp_path, sheet_xml):
    path = tmp_path / "返乡.xlsx"
    path.write_bytes(sheet_workbook(sheet_xml))
    env = {**os.environ, "ZG_TESTING": "1", "DATABASE_URL": "sqlite:///" + str(tmp_path / "db.sqlite3")}
    process = subprocess.run([sys.executable, "manage.py", "import_data", "residents", str(path), "--dry-run"],
                             cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
                             preexec_fn=_four_gigabytes)
    assert process.returncode == 2, process.stderr[-2000:]
    assert process.stderr.startswith("返乡.xlsx: ")
    # The message in the portal's language (Chinese), naming the farthest row and column.
    assert "第 200000 行、第 XFD 列" in process.stderr and "超出了导入的上限" in process.stderr


def test_an_xls_whose_cell_is_at_the_last_biff_row_and_column_is_refused_and_this_process_goes_on():
    # No extent check can see inside the OLE file before calamine: its child aborts (65,536² cells).
    data = xls_workbook([(0, 0, 1.0), (65535, 65535, 2.0)])
    assert len(data) < 10_000
    assert "needed more memory or time than the server allows" in refused(data)
    assert read_rows(xls_workbook([(0, 0, 1.0), (2, 1, 2.0)])) == [[1.0, ""], ["", ""], ["", 2.0]]


@pytest.mark.parametrize("isolated", [True, False], ids=["child", "in-process"])
def test_an_xls_over_the_limits_is_measured_by_the_reader_before_its_cells_are_converted(settings, isolated):
    settings.IMPORT_READER_ISOLATED = isolated
    data = xls_workbook([(0, 0, 1.0), (65535, 255, 2.0)])  # 65,536 rows × 256 columns: within the defaults
    settings.IMPORT_MAX_CELLS = 1_000_000
    assert "reaches row 65536 and column IV (16,777,216 cells counted from A1)" in refused(data)


def test_rows_are_padded_from_a1_as_excel_numbers_them():
    data = xlsx_bytes([[None], [None], [None, "x"], [None, None, None, 5]])  # the first cell is B3
    assert read_rows(data) == [["", "", "", ""], ["", "", "", ""], ["", "x", "", ""], ["", "", "", 5.0]]


def test_references_beyond_excels_own_letters_and_digits_are_measured_too():
    # calamine reads AAAA1 as column 18,279 and takes rows past 1,048,576 as they are.
    assert "reaches row 1 and column AAAA" in refused(sheet_workbook(
        '<sheetData><row r="1"><c r="A1"><v>1</v></c><c r="AAAA1"><v>1</v></c></row></sheetData>'))
    assert "reaches row 123456789 and column A" in refused(sheet_workbook(
        '<sheetData><row r="123456789"><c r="A123456789"><v>1</v></c></row></sheetData>'))
    assert "more than an import accepts" in refused(sheet_workbook(
        '<sheetData><row r="1"><c r="' + "Z" * 5000 + '1"><v>1</v></c></row></sheetData>'))


def test_a_long_text_between_tags_is_skipped_not_refused(monkeypatch):
    monkeypatch.setattr(reader, "MAX_TAG_BYTES", 1000)
    text = "长" * 400_000  # 1.2 MB: it crosses the first chunk
    data = sheet_workbook(f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c>'
                          '<c r="B1"><v>2</v></c></row></sheetData>')
    assert read_rows(data) == [[text, 2.0]]
    far = sheet_workbook(f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c></row>'
                         + FAR.removeprefix("<sheetData>"))
    assert TOO_FAR in refused(far)
