"""Exports in the import columns, error workbooks and XLSX templates.

Exports stream: CSV row by row (UTF-8 with BOM, which Excel on Chinese Windows needs to
see UTF-8), XLSX through XlsxWriter's `constant_memory` mode into a temporary file, so a
100,000-row export never sits in memory. Every text cell that a spreadsheet would run
as a formula (= + - @ tab CR) gets a leading apostrophe; the importer takes it off.
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing.parsers import escape_formula
from zhoukou_grid.core.importing.spec import ImportKind

BOM = "\ufeff"
DATE_FORMAT = "yyyy-mm-dd"


def export_cells(kind: ImportKind, queryset) -> Iterator[list[Any]]:
    """Rows of cells in column order (header not included), formula-escaped."""
    keys = [column.key for column in kind.columns]
    for row in kind.export_rows(queryset):
        yield [escape_formula(_plain(row.get(key))) for key in keys]


def _plain(value: Any) -> Any:
    return "" if value is None else value


def header_cells(kind: ImportKind) -> list[str]:
    return [column.header for column in kind.columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def iter_csv(kind: ImportKind, queryset) -> Iterator[bytes]:
    """CSV lines as UTF-8 bytes, the first one starting with a BOM."""
    writer = csv.writer(_Echo())
    yield (BOM + writer.writerow(header_cells(kind))).encode("utf-8")
    buffer: list[str] = []
    for cells in export_cells(kind, queryset):
        buffer.append(writer.writerow(cells))
        if len(buffer) >= 500:
            yield "".join(buffer).encode("utf-8")
            buffer = []
    if buffer:
        yield "".join(buffer).encode("utf-8")


def write_csv(kind: ImportKind, queryset, stream) -> int:
    count = -1
    for chunk in iter_csv(kind, queryset):
        stream.write(chunk)
        count += chunk.count(b"\n")
    return max(count, 0)


def write_xlsx(kind: ImportKind, queryset, path: str) -> int:
    """Write the export to `path` (XlsxWriter constant_memory needs a file). Returns the row count."""
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False,
                                          "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet(str(kind.name))
    bold = workbook.add_format({"bold": True})
    text = workbook.add_format({"num_format": "@"})
    day = workbook.add_format({"num_format": DATE_FORMAT})
    for index, column in enumerate(kind.columns):
        sheet.set_column(index, index, max(12, len(column.header) * 2 + 2),
                         text if column.text else (day if column.date else None))
    sheet.write_row(0, 0, header_cells(kind), bold)
    count = 0
    for count, cells in enumerate(export_cells(kind, queryset), start=1):
        for col, (column, value) in enumerate(zip(kind.columns, cells, strict=True)):
            if isinstance(value, str) or column.text:
                sheet.write_string(count, col, str(value), text if column.text else None)
            elif isinstance(value, datetime.date):
                sheet.write_datetime(count, col, value, day)
            else:
                sheet.write_number(count, col, value)
    workbook.close()
    return count


def export_to_tempfile(kind: ImportKind, queryset, fmt: str) -> tuple[Any, int]:
    """A named temporary file holding the export, positioned at 0, and the row count."""
    handle = tempfile.NamedTemporaryFile(prefix=f"export-{kind.name}-", suffix=f".{fmt}")
    if fmt == "xlsx":
        count = write_xlsx(kind, queryset, handle.name)
        handle.seek(0)
    else:
        count = write_csv(kind, queryset, handle)
        handle.flush()
        handle.seek(0)
    return handle, count


def write_error_workbook(header: list[Any], rejected: Iterable[tuple[int, list[Any], list[str]]], stream) -> None:
    """The rejected rows as they were in the file, with the row number and an error column,
    so the clerk can fix them and import this workbook again (the two extra columns are
    ignored by the importer)."""
    workbook = xlsxwriter.Workbook(stream, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet(_("Rejected rows"))
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"font_color": "#9C0006", "text_wrap": True})
    width = len(header)
    sheet.write_row(0, 0, [_("Error"), _("Row in the file"), *["" if h is None else str(h) for h in header]], bold)
    sheet.set_column(0, 0, 60)
    for index, (number, cells, messages) in enumerate(rejected, start=1):
        sheet.write_string(index, 0, "; ".join(messages), wrap)
        sheet.write_number(index, 1, number)
        for col, value in enumerate(list(cells)[:max(width, len(cells))]):
            _write_cell(sheet, index, col + 2, value)
    workbook.close()


def _write_cell(sheet, row: int, col: int, value: Any) -> None:
    if value is None or value == "":
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, escape_formula(str(value)))


def error_workbook_bytes(header: list[Any], rejected: Iterable[tuple[int, list[Any], list[str]]]) -> bytes:
    buffer = io.BytesIO()
    write_error_workbook(header, rejected, buffer)
    return buffer.getvalue()


@dataclass
class _TemplateSheet:
    """The template being written: its sheets, cell formats and where its rows are."""

    sheet: Any
    lists_sheet: Any
    formats: dict[str, Any]
    header_row: int = 0
    notes_row: int | None = None
    list_col: int = 0  # next free column of the hidden sheet of drop-down values

    @property
    def first_data(self) -> int:
        return self.header_row + 1


def _template_formats(workbook) -> dict[str, Any]:
    return {
        "header": workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "required": workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1}),
        "note": workbook.add_format({"italic": True, "font_color": "#595959", "text_wrap": True}),
        "note_cell": workbook.add_format({"font_color": "#595959", "text_wrap": True, "valign": "top", "font_size": 9}),
        "title": workbook.add_format({"bold": True, "font_size": 14, "align": "center"}),
        "text": workbook.add_format({"num_format": "@"}),
        "day": workbook.add_format({"num_format": DATE_FORMAT}),
    }


def _template_heading(out: _TemplateSheet, kind: ImportKind) -> None:
    """The title and the note above the header; sets where the header (and notes) go."""
    sheet, formats = out.sheet, out.formats
    required = [c.header for c in kind.columns if c.required]
    last_col = max(len(kind.columns) - 1, 1)
    row = 0
    if kind.template_title:
        sheet.merge_range(row, 0, row, last_col, str(kind.template_title), formats["title"])
        sheet.set_row(row, 24)
        row += 1
    if kind.template_note_row:
        # One line of notes above the header: the header stays the last line above the data,
        # so the filled-in template imports as it is.
        sheet.merge_range(row, 0, row, last_col, _(
            "Fill in one row per person below the header. Columns in orange are required (%(required)s). The line "
            "below explains each column.") % {"required": "、".join(required)}, formats["note"])
        sheet.set_row(row, 30)
        out.notes_row, out.header_row = row + 1, row + 2
        sheet.set_row(out.notes_row, 75)
    else:
        sheet.merge_range(row, 0, row, last_col, _(
            "Fill in one row per record from row %(first)d on and delete the example row. Columns in orange are "
            "required (%(required)s). Point at a header to read what the column holds.") % {
            "required": "、".join(required), "first": row + 3}, formats["note"])
        sheet.set_row(row, 45)
        out.notes_row, out.header_row = None, row + 1


def _template_column(out: _TemplateSheet, index: int, column, values: list | None) -> None:
    """One column: width and format, header with its help, the example, and its input checks."""
    sheet, formats, first_data = out.sheet, out.formats, out.first_data
    last_row = first_data + 10000
    text = formats["text"]
    cell_format = text if column.text else (formats["day"] if column.date else None)
    sheet.set_column(index, index, max(14, len(column.header) * 2 + 4), cell_format)
    sheet.write_string(out.header_row, index, column.header, formats["required" if column.required else "header"])
    help_text = str(column.help) if column.help else ""
    if column.required:
        help_text = _("Required.") + " " + help_text
    if out.notes_row is not None:
        sheet.write_string(out.notes_row, index, help_text, formats["note_cell"])
    elif help_text:
        sheet.write_comment(out.header_row, index, help_text, {"x_scale": 2, "y_scale": 1.2})
    example = column.example
    if out.notes_row is None and example not in (None, ""):
        if isinstance(example, str) or column.text:
            sheet.write_string(first_data, index, str(example), text if column.text else None)
        else:
            sheet.write_number(first_data, index, example)
    if column.date:
        sheet.data_validation(first_data, index, last_row, index, {
            "validate": "any", "input_title": column.header[:32],
            "input_message": (str(column.help) if column.help else "")[:255]})
    if column.choices:
        sheet.data_validation(first_data, index, last_row, index, {
            "validate": "list", "source": list(column.choices),
            "error_title": _("Invalid value"),
            "error_message": _("Choose one of: %(choices)s.") % {"choices": ", ".join(column.choices)},
        })
    elif values:
        out.lists_sheet.write_string(0, out.list_col, column.key)
        for offset, value in enumerate(values, start=1):
            out.lists_sheet.write_string(offset, out.list_col, str(value))
        letter = xlsxwriter.utility.xl_col_to_name(out.list_col)
        sheet.data_validation(first_data, index, last_row, index, {
            "validate": "list", "source": f"=lists!${letter}$2:${letter}${len(values) + 1}",
            "error_type": "warning",
            "error_title": _("Unknown code"),
            "error_message": _("This code is not in your territory."),
        })
        out.list_col += 1


def template_bytes(kind: ImportKind, user) -> bytes:
    """The XLSX template of a kind: a note row, the header (with a comment per column),
    one example row, code columns formatted as text and drop-down lists."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(str(kind.name))
    lists_sheet = workbook.add_worksheet("lists")
    lists_sheet.hide()
    out = _TemplateSheet(sheet=sheet, lists_sheet=lists_sheet, formats=_template_formats(workbook))
    _template_heading(out, kind)
    lists = kind.template_lists(user)
    for index, column in enumerate(kind.columns):
        _template_column(out, index, column, lists.get(column.key))
    sheet.freeze_panes(out.first_data, 0)
    workbook.close()
    return buffer.getvalue()
