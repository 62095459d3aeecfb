"""A residents import streams: the file is read, parsed, checked, compared and written a
batch of rows at a time (setting IMPORT_BATCH_ROWS), in one transaction, so that memory
stays flat in the row count; the answer is the one the whole file at once would give
(row numbers, duplicates across batches, all or nothing); unchanged rows are compared by
HMAC and never encrypted; a large sheet is read a slice of its XML at a time."""

from __future__ import annotations

import io
from datetime import date

import pytest
import xlsxwriter

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes, xlsx_bytes
from zhoukou_grid.core import crypto
from zhoukou_grid.core.importing import engine, read_worker
from zhoukou_grid.core.importing.reader import iter_sheet_streams, read_rows
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "联系电话", "村", "返乡日期"]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(serial: int) -> str:
    first17 = f"41162719800101{serial:03d}"
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def person(i: int) -> list[str]:
    return [f"人{i}", id_number(i), f"138{i:08d}", "朱口村" if i % 2 else "后常营村", "2027-01-25"]


def run(rows, user, *, skip_invalid=False, dry_run=False, xlsx=False):
    data = xlsx_bytes([HEADER, *rows], text_columns=(1, 2)) if xlsx else csv_bytes([HEADER, *rows])
    return import_file(kind=get_kind("residents"), data=data, file_name="list.xlsx" if xlsx else "list.csv",
                       user=user, skip_invalid=skip_invalid, dry_run=dry_run)


def test_the_import_holds_one_batch_of_rows_at_a_time_and_writes_as_it_goes(taikang, import_day, settings,
                                                                           monkeypatch):
    settings.IMPORT_BATCH_ROWS = 10
    read = {"rows": 0}
    seen = []
    original_rows = engine.SheetStream.rows

    def counting_rows(sheet):
        for row in original_rows(sheet):
            read["rows"] += 1
            yield row

    def parse(kind, rows, header, ctx=None):
        # At each batch: how many rows the reader has given, and how many residents are written.
        seen.append((len(rows), read["rows"], ReturningResident.objects.count()))
        return parse_rows_from(kind, rows, header, ctx)

    parse_rows_from = engine._parse_rows_from
    monkeypatch.setattr(engine.SheetStream, "rows", counting_rows)
    monkeypatch.setattr(engine, "_parse_rows_from", parse)
    result = run([person(i) for i in range(95)], taikang.manager)
    assert result.counts["new"] == 95 and result.written and not result.errors
    assert ReturningResident.objects.count() == 95
    assert [size for size, _read, _written in seen] == [10] * 9 + [5]
    # The reader is never more than a batch (and the header) ahead of the import: the whole
    # file is never in memory. Each batch is written before the next is parsed.
    for number, (_size, rows_read, written) in enumerate(seen):
        assert rows_read <= 1 + 10 * (number + 1)
        assert written == 10 * number


def test_the_streamed_answer_is_the_whole_files_errors_and_all(taikang, import_day, settings):
    rows = [person(i) for i in range(35)]
    rows[2][4] = "2027-13-45"  # row 4 of the file: a date that does not exist (batch 1)
    rows[27][3] = "不存在村"  # row 29: unknown village (batch 3)
    rows[29][1] = rows[3][1]  # row 31 repeats row 5's ID number: two batches apart
    rows[33][0] = ""  # row 35: no name (last batch)
    settings.IMPORT_BATCH_ROWS = 1000
    whole = run(rows, taikang.manager, dry_run=True)
    settings.IMPORT_BATCH_ROWS = 10
    streamed = run(rows, taikang.manager, dry_run=True)
    assert streamed.errors == whole.errors
    assert streamed.counts == whole.counts
    assert [(number, messages) for number, _cells, messages in streamed.rejected_rows] == [
        (number, messages) for number, _cells, messages in whole.rejected_rows]
    assert [error["row"] for error in streamed.errors] == [4, 5, 29, 31, 35]
    duplicate = [error for error in streamed.errors if error["row"] == 31][0]
    assert "rows 5, 31" in duplicate["message"] and duplicate["column"] == "身份证号"
    assert streamed.counts["rejected"] == 5 and streamed.counts["new"] == 30


def test_an_error_in_a_later_batch_writes_nothing(taikang, import_day, settings):
    settings.IMPORT_BATCH_ROWS = 10
    rows = [person(i) for i in range(25)]
    rows[23][4] = "明年"  # row 25 of the file, in the third batch: after two batches were written
    result = run(rows, taikang.manager)
    assert not result.written and result.counts["rejected"] == 1 and result.counts["new"] == 24
    assert [error["row"] for error in result.errors] == [25]
    assert not ReturningResident.objects.exists()
    skipped = run(rows, taikang.manager, skip_invalid=True)
    assert skipped.written and ReturningResident.objects.count() == 24


def test_a_duplicate_across_batches_with_skip_invalid_writes_neither_row(taikang, import_day, settings):
    settings.IMPORT_BATCH_ROWS = 10
    rows = [person(i) for i in range(25)]
    rows[22][1] = rows[1][1]  # rows 3 and 24 of the file: the same ID number
    result = run(rows, taikang.manager, skip_invalid=True)
    assert result.written
    assert [error["row"] for error in result.errors] == [3, 24]
    assert all("rows 3, 24" in error["message"] for error in result.errors)
    assert (result.counts["new"], result.counts["rejected"]) == (23, 2)
    assert ReturningResident.objects.count() == 23
    assert not ReturningResident.objects.filter(name__in=["人1", "人22"]).exists()


def test_unchanged_rows_are_compared_by_hmac_and_never_encrypted(taikang, import_day, settings, monkeypatch):
    settings.IMPORT_BATCH_ROWS = 10
    rows = [person(i) for i in range(25)]
    run(rows, taikang.manager)
    calls = []
    encrypt = crypto.encrypt

    def counting_encrypt(value, *, purpose, **kwargs):
        calls.append(purpose)
        return encrypt(value, purpose=purpose, **kwargs)

    monkeypatch.setattr(crypto, "encrypt", counting_encrypt)
    again = run(rows, taikang.manager)
    assert (again.counts["unchanged"], again.counts["new"], again.counts["updated"]) == (25, 0, 0)
    assert calls == []
    rows[12][2] = "13700000009"  # one person's new phone: that row alone is encrypted again
    third = run(rows, taikang.manager)
    assert (third.counts["unchanged"], third.counts["updated"]) == (24, 1)
    assert sorted(calls) == ["id_number", "phone"]


def big_sheet(rows: int) -> bytes:
    """A workbook whose data starts at row 3, column B, with a gap of blank rows, dates and text."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("名单")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(2, 1, ["姓名", "返乡日期", "人数"])
    for i in range(rows):
        r = 3 + i + (40 if i >= rows // 2 else 0)
        sheet.write_string(r, 1, f"人{i}")
        sheet.write_datetime(r, 2, date(2027, 1, 1 + i % 28), day)
        sheet.write_number(r, 3, i)
    workbook.close()
    return buffer.getvalue()


def trimmed(row: list) -> list:
    row = list(row)
    while row and row[-1] == "":
        row.pop()
    return row


@pytest.mark.parametrize("isolated", [False, True])
def test_a_large_sheet_is_read_a_slice_at_a_time_with_the_same_rows(settings, monkeypatch, isolated):
    settings.IMPORT_READER_ISOLATED = isolated
    data = big_sheet(600)
    settings.IMPORT_READER_SLICE_BYTES = 10 ** 9
    whole = read_rows(data, "big.xlsx")
    settings.IMPORT_READER_SLICE_BYTES = 4000
    if not isolated:  # in this process: the slices are separate small workbooks
        sliced_reads = []
        original = read_worker._sliced_rows

        def sliced(*args, **kwargs):
            sliced_reads.append(args[1].filename)
            return original(*args, **kwargs)

        monkeypatch.setattr(read_worker, "_sliced_rows", sliced)
    sliced_rows = read_rows(data, "big.xlsx")
    # The same cells in the same rows; a slice pads its rows to its own width (trailing empty
    # cells may differ, as between two sheets).
    assert [trimmed(row) for row in sliced_rows] == [trimmed(row) for row in whole]
    assert len(whole) == 3 + 600 + 40 and whole[3][1:3] == ["人0", date(2027, 1, 1)]
    assert whole[2] == ["", "姓名", "返乡日期", "人数"]
    if not isolated:
        assert sliced_reads == ["xl/worksheets/sheet1.xml"]


def test_a_sheet_stream_reads_its_rows_as_they_are_asked_for(settings):
    settings.IMPORT_READER_ISOLATED = True
    settings.IMPORT_READER_SLICE_BYTES = 64_000
    rows = read_worker.BLOCK_ROWS + 5000
    sheets = iter_sheet_streams(big_sheet(rows), "big.xlsx")
    sheet = next(sheets)
    # The first block of rows from the reader, not the whole sheet; the others as they are read.
    assert len(sheet.head) == read_worker.BLOCK_ROWS
    assert sum(1 for _row in sheet.rows()) == 3 + rows + 40
