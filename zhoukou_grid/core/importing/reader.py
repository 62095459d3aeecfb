"""Turn uploaded bytes into rows of cells.

The type is decided by the content, never by the file name: clerks rename files, and
WPS saves CSV with an .xls name. XLSX/XLS are read with python-calamine (about ten
times faster than openpyxl on 100,000 rows); CSV is decoded strictly as UTF-8 (with or
without BOM) first, then as GB18030 (a superset of GBK and GB2312), because UTF-8 bytes
do not reliably fail as GB18030 while the other order does.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Common files that are uploaded by mistake; named so the message can be precise.
OTHER_MAGICS = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"BM", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"II*\x00", b"MM\x00*",
    b"MZ", b"\x7fELF",  # programs (Windows, Linux)
)
# A text file that starts with markup is a web page or XML (HTML, SVG, Excel 2003 XML),
# whatever its name: some systems save an HTML table as ".xls".
MARKUP_START = ("<",)
DELIMITERS = (",", "\t", ";")
# An Excel file protected by a password is not a zip but an OLE compound file holding
# these two streams (MS-OFFCRYPTO); their names are stored in UTF-16LE in its directory.
ENCRYPTED_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
# Zip bombs: an XLSX is refused before reading when its members declare more than this
# much uncompressed data in all, or a member expands more than MAX_RATIO times.
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 2000

Row = list[Any]


class SpreadsheetError(Exception):
    """The file as a whole cannot be used. `message` is translated, for the user."""

    def __init__(self, message: str, *, row: int | None = None, column: str = "", value: str = ""):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column
        self.value = value

    def as_error(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


def _not_a_spreadsheet() -> SpreadsheetError:
    return SpreadsheetError(
        _("This file is not a spreadsheet. Save it in Excel or WPS as .xlsx (or .xls, or .csv) and upload it again.")
    )


def _empty() -> SpreadsheetError:
    return SpreadsheetError(_("The file is empty. Fill in the header row and at least one data row."))


def read_rows(data: bytes, filename: str = "") -> list[Row]:
    """All rows of the first visible sheet with data (or of the CSV), as lists of cells.

    Cells are str, float, int, bool, date/datetime or "" for empty; row i of the result
    is row i+1 as Excel shows it.
    """
    return next(iter_sheets(data, filename))


def iter_sheets(data: bytes, filename: str = "") -> Iterator[list[Row]]:
    """The rows of each visible sheet that holds data, read one sheet at a time (a CSV
    is one sheet). Raises SpreadsheetError before yielding if the file is unusable."""
    if not data or not data.strip():
        raise _empty()
    if data.startswith(OLE_MAGIC) and any(name in data for name in ENCRYPTED_STREAMS):
        raise _password_protected()
    if data.startswith(ZIP_MAGIC):
        check_zip_container(data)
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        return _iter_workbook(data)
    if data.startswith(OTHER_MAGICS):
        raise _not_a_spreadsheet()
    return iter([_read_csv(data)])


def _password_protected() -> SpreadsheetError:
    return SpreadsheetError(_("The workbook is protected by a password. Open it in Excel or WPS, remove the password "
                              "(File › Info › Protect Workbook), save it and upload it again."))


def _damaged_workbook() -> SpreadsheetError:
    return SpreadsheetError(
        _("The workbook cannot be opened: it is damaged or not an Excel file. Open it in Excel or WPS, "
          "save it again as .xlsx and upload it again.")
    )


def check_zip_container(data: bytes) -> None:
    """Refuse a damaged XLSX or a zip bomb before any cell is read, in bounded memory.

    The declared sizes of the members are checked first (total, ratio, count); then each
    member is inflated in chunks and thrown away, which stops at the declared size and
    checks the CRC: a member that lies about its size is refused too."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _damaged_workbook() from None
    total = sum(member.file_size for member in members)
    too_big = len(members) > MAX_MEMBERS or total > MAX_UNCOMPRESSED_BYTES or any(
        member.file_size > 10 * 1024 * 1024 and member.file_size > MAX_RATIO * max(member.compress_size, 1)
        for member in members)
    if too_big:
        raise SpreadsheetError(_(
            "The workbook would expand to %(size)d MB when opened, too much to be a real list (or the file is "
            "damaged). Split it into smaller files, or save it again from Excel or WPS.") % {
            "size": total // (1024 * 1024)})
    try:
        for member in members:
            with archive.open(member) as stream:
                while stream.read(1024 * 1024):
                    pass
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError):
        raise _damaged_workbook() from None


def _damaged(exc: Exception) -> SpreadsheetError:
    if "Password" in type(exc).__name__ or "password" in str(exc).lower():
        return _password_protected()
    return SpreadsheetError(
        _("The workbook cannot be opened: it is damaged or not an Excel file. Open it in Excel or WPS, "
          "save it again as .xlsx and upload it again.")
    )


def _iter_workbook(data: bytes) -> Iterator[list[Row]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        visible = [
            index for index, meta in enumerate(workbook.sheets_metadata) if str(meta.visible).endswith("Visible")
        ]
    except Exception as exc:  # noqa: BLE001 - calamine raises many types for damaged files
        raise _damaged(exc) from None
    if not visible:
        raise _not_a_spreadsheet()

    def sheets() -> Iterator[list[Row]]:
        found = False
        for index in visible:
            try:
                rows = workbook.get_sheet_by_index(index).to_python(skip_empty_area=False)
            except Exception as exc:  # noqa: BLE001
                raise _damaged(exc) from None
            if any(_row_has_data(row) for row in rows):
                found = True
                yield [list(row) for row in rows]
        if not found:
            raise _empty()

    iterator = sheets()
    first = next(iterator)  # so that an unusable workbook fails here, not at the first use
    return itertools.chain([first], iterator)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": UTF-16 with a BOM
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SpreadsheetError(
        _("The file cannot be read as text in UTF-8 or GBK (it is in another encoding). Save it from Excel or WPS "
          "as .xlsx, or as CSV in UTF-8, and upload it again.")
    )


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    return controls > max(2, len(sample) // 100)


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter (comma, tab or semicolon) found most consistently in the first lines."""
    best, best_score = ",", -1
    for delimiter in DELIMITERS:
        counts = [line.count(delimiter) for line in lines if line.strip()]
        if not counts:
            continue
        # Lines with the delimiter, weighted by how often it occurs in them.
        score = sum(1 for count in counts if count) * 1000 + min(count for count in counts if count) if any(counts) else 0
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _web_page() -> SpreadsheetError:
    return SpreadsheetError(_("This file is a web page or XML document (HTML, SVG or XML), not a spreadsheet, whatever "
                              "its name says. Open it in Excel or WPS, save it as .xlsx and upload it again."))


def _read_csv(data: bytes) -> list[Row]:
    text = _decode(data)
    if _looks_binary(text):
        raise _not_a_spreadsheet()
    if text.lstrip("\ufeff \t\r\n").startswith(MARKUP_START):
        raise _web_page()
    head_lines = text[:20000].splitlines()[:30]
    delimiter = sniff_delimiter(head_lines)
    try:
        rows = [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:
        raise _not_a_spreadsheet()
    if not any(_row_has_data(row) for row in rows):
        raise _empty()
    return rows


def _row_has_data(row: Sequence[Any]) -> bool:
    return any(not (cell is None or (isinstance(cell, str) and not cell.strip())) for cell in row)


def row_is_blank(row: Sequence[Any]) -> bool:
    return not _row_has_data(row)
