"""Turn uploaded bytes into rows of cells.

The type is decided by the content, never by the file name: clerks rename files, and
WPS saves CSV with an .xls name. XLSX/XLS are read with python-calamine (about ten
times faster than openpyxl on 100,000 rows); CSV is decoded strictly as UTF-8 (with or
without BOM) first, then as GB18030 (a superset of GBK and GB2312), because UTF-8 bytes
do not reliably fail as GB18030 while the other order does.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import logging
import pickle
import re
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing import read_worker

logger = logging.getLogger(__name__)

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
# 1 GB: a 1,000,000-row residents list with inline strings (XlsxWriter, WPS) expands to
# 700 MB; each member is inflated in bounded memory, and a large sheet read a slice at a
# time, so the size is a sanity bound, not a memory one (setting IMPORT_MAX_UNCOMPRESSED_BYTES).
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200
MAX_MEMBERS = 2000
# The cell extent of each sheet: python-calamine allocates a cell for every position of the
# rectangle from A1 to the farthest cell it meets, and aborts the whole process (no Python
# exception) when that allocation fails: one cell at XFD200000 asks for ~100 GB
# (docs/library-notes.md, "Reading untrusted spreadsheets"). Settings override these.
DEFAULT_MAX_ROWS = 1_048_576  # Excel's own limit
DEFAULT_MAX_COLUMNS = 256
DEFAULT_MAX_CELLS = 30_000_000  # rows × columns: e.g. 1,000,000 rows of 30 columns, ~3 GB once read
# Tags of the sheet XML that place cells, with their attributes (quoted values may hold ">").
_TAG = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?(row|c|dimension)((?:\s(?:[^>"']|"[^"]*"|'[^']*')*)?)/?>""")
_ATTR = re.compile(rb"""(?:^|\s)(r|ref)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# The common case at C speed: cells and rows written as spreadsheet programs write them
# (`<c r="B7"`, `<row r="7"`), counted against every cell and row tag; any other form (no r,
# r not first, a namespace prefix, a tab or line break in the tag) has the sheet walked tag by tag.
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"')
_DIGITS, _LETTERS = b"0123456789", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PLAIN_ROW = re.compile(rb'<row r="([0-9]{1,7})"')
_OTHER_FORMS = re.compile(rb"<(?:c|row)[\t\r\n/>]")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")  # ":" is rare in sheet data: this search is fast
_DIMENSION = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?(?<=\s)ref\s*=\s*["']([^"']*)["']""")
# Any number of letters and digits: calamine reads "AAAA1" as column 18,279, beyond Excel's XFD.
_REFERENCE = re.compile(r"\$?([A-Za-z]*)\$?([0-9]+)")
# Text between tags longer than this is skipped unread; a single tag this long is not from a
# spreadsheet program (cells hold at most 32,767 characters).
MAX_TAG_BYTES = 16 * 1024 * 1024
# Beyond any limit: longer references are counted as this far, not computed.
_FAR = 10 ** 12

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


class WorkbookTooLarge(SpreadsheetError):
    """The workbook is over a size limit (a zip bomb, a sheet spanning too many cells): refused
    like an oversize upload, before any reader sees it."""


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
    streams = iter_sheet_streams(data, filename)
    return (list(sheet.rows()) for sheet in streams)


# Rows of a sheet read before the import decides which sheet it takes (the header is within
# the first 20 rows): a sheet's other rows stream by as they are read, never all at once.
HEAD_ROWS = 50


class SheetStream:
    """One sheet of a file, read once from top to bottom: `head` holds its first rows (at
    least HEAD_ROWS, when it has that many), `rows()` yields all of them, the head first.
    The rows after the head are read as they are asked for, so that a file of a million
    rows never has all its rows in memory at once."""

    def __init__(self, head: list[Row], rest: Iterator[Row] | None = None):
        self.head = head
        self._rest = rest
        self._used = False
        self.estimated_rows: int | None = None  # rows the sheet seems to have (for progress), None: unknown
        self.data: bytes = b""  # the file's bytes (to read it again)

    def rows(self) -> Iterator[Row]:
        if self._used:
            raise RuntimeError("a sheet's rows are read once")
        self._used = True
        yield from self.head
        if self._rest is not None:
            yield from self._rest

    def drain(self) -> None:
        """Read and forget the rows not asked for (the reader then goes on to the next sheet)."""
        if self._rest is not None:
            for _row in self._rest:
                pass
            self._rest = None


def iter_sheet_streams(data: bytes, filename: str = "") -> Iterator[SheetStream]:
    """The visible sheets that hold data, as SheetStreams, one after the other (a sheet not
    read to its end is drained when the next is asked for; a CSV is one sheet). Raises
    SpreadsheetError before yielding if the file is unusable."""
    if not data or not data.strip():
        raise _empty()
    if data.startswith(OLE_MAGIC) and any(name in data for name in ENCRYPTED_STREAMS):
        raise _password_protected()
    estimate = None
    if data.startswith(ZIP_MAGIC):
        estimate = check_zip_container(data)
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        return _estimated(_iter_workbook(data), estimate)
    if data.startswith(OTHER_MAGICS):
        raise _not_a_spreadsheet()
    return _estimated(iter([_csv_stream(data)]), data.count(b"\n"))


def _estimated(sheets: Iterator[SheetStream], rows: int | None) -> Iterator[SheetStream]:
    for sheet in sheets:
        sheet.estimated_rows = rows
        yield sheet


def _password_protected() -> SpreadsheetError:
    return SpreadsheetError(_("The workbook is protected by a password. Open it in Excel or WPS, remove the password "
                              "(File › Info › Protect Workbook), save it and upload it again."))


def _damaged_workbook() -> SpreadsheetError:
    return SpreadsheetError(
        _("The workbook cannot be opened: it is damaged or not an Excel file. Open it in Excel or WPS, "
          "save it again as .xlsx and upload it again.")
    )


def check_workbook_limits(data: bytes) -> None:
    """Raise WorkbookTooLarge when an XLSX is over a size limit (see check_zip_container);
    anything else (damaged, not a workbook) is left for the reader to judge."""
    if data.startswith(ZIP_MAGIC):
        try:
            check_zip_container(data)
        except WorkbookTooLarge:
            raise
        except SpreadsheetError:
            pass


def check_zip_container(data: bytes) -> int:
    """Refuse a damaged XLSX, a zip bomb or a sheet spanning too many cells before any cell
    is read, in bounded memory.

    The declared sizes of the members are checked first (total, ratio, count); then each
    member is inflated in 1 MB chunks and thrown away, which stops at the declared size and
    checks the CRC: a member that lies about its size is refused too. While it streams by,
    the cells its XML places are measured (`_member_extent`) against IMPORT_MAX_ROWS,
    IMPORT_MAX_COLUMNS and IMPORT_MAX_CELLS. Returns the farthest row a sheet reaches (a
    guess of the rows to import, for the progress bar)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _damaged_workbook() from None
    total = sum(member.file_size for member in members)
    max_total = int(getattr(settings, "IMPORT_MAX_UNCOMPRESSED_BYTES", MAX_UNCOMPRESSED_BYTES))
    too_big = len(members) > MAX_MEMBERS or total > max_total or any(
        member.file_size > 10 * 1024 * 1024 and member.file_size > MAX_RATIO * max(member.compress_size, 1)
        for member in members)
    if too_big:
        raise WorkbookTooLarge(_(
            "The workbook would expand to %(size)d MB when opened, too much to be a real list (or the file is "
            "damaged). Split it into smaller files, or save it again from Excel or WPS.") % {
            "size": total // (1024 * 1024)})
    limits = extent_limits()
    rows = 0
    try:
        for member in members:
            with archive.open(member) as stream:
                extent = _member_extent(stream)
            if extent is not None:
                _check_extent(extent, limits)
                rows = max(rows, extent.rows)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError):
        raise _damaged_workbook() from None
    return rows


class Extent:
    """The farthest row and column (1-based) a sheet places a cell at."""

    def __init__(self):
        self.rows = 0
        self.columns = 0

    def add(self, row: int, column: int) -> None:
        self.rows = max(self.rows, row)
        self.columns = max(self.columns, column)


def extent_limits() -> tuple[int, int, int]:
    """(rows, columns, rows × columns) a sheet may span: IMPORT_MAX_ROWS, IMPORT_MAX_COLUMNS, IMPORT_MAX_CELLS."""
    return (int(getattr(settings, "IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)),
            int(getattr(settings, "IMPORT_MAX_COLUMNS", DEFAULT_MAX_COLUMNS)),
            int(getattr(settings, "IMPORT_MAX_CELLS", DEFAULT_MAX_CELLS)))


def column_number(letters: str | bytes) -> int:
    """1 for A, 27 for AA, 16384 for XFD."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    if len(letters) > 8:
        return _FAR
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def row_number(digits: str | bytes) -> int:
    return int(digits) if len(digits) <= 12 else _FAR


def column_letters(number: int) -> str:
    if number >= _FAR:
        return "?"
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _member_extent(stream) -> Extent | None:
    """Stream one zip member in 1 MB chunks and measure the cells its XML places: the
    `<dimension ref>`, every `<row r>` and `<c r>`, and the cells and rows without `r`
    (placed after the previous one). None when the member places no cell (not a sheet,
    or not XML: pictures and the like are only drained)."""
    extent = Extent()
    walker = _TagWalker(extent)
    found = False
    tail = b""
    first = True
    while True:
        chunk = stream.read(1024 * 1024)
        if first:
            first = False
            if not chunk.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                while stream.read(1024 * 1024):
                    pass
                return None
        buffer = tail + chunk
        # Measure up to the last "<" (whole tags only); the rest waits for the next chunk.
        cut = max(buffer.rfind(b"<"), 0) if chunk else len(buffer)
        head, tail = buffer[:cut], buffer[cut:]
        if len(tail) > MAX_TAG_BYTES:
            # A long text after a tag (no "<" in it, so no tag either): measure the tag, skip the text.
            end = tail.find(b">")
            if end < 0:
                raise _damaged_workbook()
            head, tail = buffer[:cut + end + 1], b""
        if head and _scan(head, extent, walker):
            found = True
        if not chunk:
            return extent if found else None


def _scan(text: bytes, extent: Extent, walker: _TagWalker) -> bool:
    """Measure the whole tags of `text`; whether it holds any cell, row or dimension."""
    dimension = False
    if b"dimension" in text:
        for match in _DIMENSION.finditer(text):
            dimension = True
            for reference in match.group(1).decode("ascii", "replace").split(":"):
                position = _REFERENCE.fullmatch(reference.strip())
                if position:
                    extent.add(row_number(position.group(2)), column_number(position.group(1)))
    if walker.active:
        walker.walk(text)
        return True
    cells = _PLAIN_CELL.findall(text)
    rows = _PLAIN_ROW.findall(text)
    plain_tags = len(cells) == text.count(b"<c ") and len(rows) == text.count(b"<row ")
    if plain_tags and (text.count(b"<c") != len(cells) or text.count(b"<row") != len(rows)):
        plain_tags = _OTHER_FORMS.search(text) is None  # <cols>, <rowBreaks>... or <c/>, <row>
    if not plain_tags or _PREFIXED.search(text):
        # Some cell or row is not in the plain form (no r, escaped, prefixed...): from here to
        # the end of the member, place them one by one as the reader would.
        walker.active = True
        walker.walk(text)
        return True
    placed = len(cells) + len(rows)
    if not placed:
        return dimension
    if cells:
        # Split the references into letters and numbers with bytes operations: no Python per cell.
        joined = b" ".join(cells)
        extent.add(max(map(int, set(joined.translate(None, _LETTERS).split()))),
                   max(column_number(letters) for letters in set(joined.translate(None, _DIGITS).split())))
    extent.add(max(map(int, rows), default=0), 0)
    # Where the walker would stand, should a later chunk need it: the last cell or row of this one.
    if cells and text.rfind(b"<c ") > text.rfind(b"<row "):
        last = _REFERENCE.fullmatch(cells[-1].decode("ascii"))
        walker.row, walker.column = int(last.group(2)), column_number(last.group(1))
    elif rows:
        walker.row, walker.column = int(rows[-1]), 0
    return True


class _TagWalker:
    """Places cells and rows one tag at a time, as python-calamine does: a row without r is the
    next row, a cell without r the next column of its row (an r that is not a plain reference
    counts as missing, which can only overstate the extent)."""

    def __init__(self, extent: Extent):
        self.extent = extent
        self.active = False
        self.row = 0
        self.column = 0

    def walk(self, text: bytes) -> None:
        for match in _TAG.finditer(text):
            name = match.group(1)
            if name == b"dimension":
                continue
            value = None
            for attribute in _ATTR.finditer(match.group(2)):
                if attribute.group(1) == b"r":
                    value = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
            reference = _REFERENCE.fullmatch(html.unescape(value.decode("utf-8", "replace")).strip()) if value else None
            if name == b"row":
                self.row = row_number(reference.group(2)) if reference and not reference.group(1) else self.row + 1
                self.column = 0
                self.extent.add(self.row, 0)
            else:
                if reference and reference.group(1):
                    row = row_number(reference.group(2))
                    self.row, self.column = max(self.row, row), column_number(reference.group(1))
                    self.extent.add(row, self.column)
                else:
                    self.column += 1
                    self.extent.add(max(self.row, 1), self.column)


def _check_extent(extent: Extent, limits: tuple[int, int, int]) -> None:
    max_rows, max_columns, max_cells = limits
    if extent.rows <= max_rows and extent.columns <= max_columns and extent.rows * extent.columns <= max_cells:
        return
    raise WorkbookTooLarge(_(
        "A sheet of the workbook reaches row %(rows)d and column %(column)s (%(cells)s cells counted from A1), "
        "more than an import accepts (%(max_rows)d rows, %(max_columns)d columns, %(max_cells)s cells). Delete the "
        "empty rows and columns after the data (a stray cell far away is enough to cause this), or split the list "
        "into several files, save it and upload it again.") % {
        "rows": extent.rows, "column": column_letters(extent.columns) or "-",
        "cells": f"{extent.rows * extent.columns:,}", "max_rows": max_rows, "max_columns": max_columns,
        "max_cells": f"{max_cells:,}"})


def _reader_stopped() -> SpreadsheetError:
    return SpreadsheetError(_(
        "The workbook could not be read: reading it needed more memory or time than the server allows, so it "
        "was stopped (the file is damaged, or much larger than it looks: cells far below or to the right of the "
        "data count too). Delete the empty rows and columns after the data, save it again from Excel or WPS as "
        ".xlsx and upload it again; if it happens again, split the list into several files."))


# Defaults of the settings of the reader's child process (see read_worker.py).
DEFAULT_READER_MEMORY_BYTES = 4 * 1024 ** 3
DEFAULT_READER_TIMEOUT_SECONDS = 600
_TERMINAL = ("end", "damaged", "none", "memory", "extent")
MAX_MESSAGE_BYTES = 1024 ** 3  # a block of 20,000 rows is a few MB


def _iter_workbook(data: bytes) -> Iterator[SheetStream]:
    if getattr(settings, "IMPORT_READER_ISOLATED", True):
        messages = _read_in_child(data)
    else:
        messages = read_worker.workbook_messages(data, extent_limits(), slice_bytes())
    iterator = _sheets(messages)
    first = next(iterator)  # so that an unusable workbook fails here, not at the first use
    return itertools.chain([first], iterator)


def slice_bytes() -> int:
    """IMPORT_READER_SLICE_BYTES: a sheet whose XML is larger is read a slice at a time
    (read_worker.SLICE_BYTES), so that the reader's memory does not grow with the rows."""
    return int(getattr(settings, "IMPORT_READER_SLICE_BYTES", read_worker.SLICE_BYTES))


def _check_message(kind: str, value: Any) -> None:
    if kind == "damaged":
        raise _password_protected() if value else _damaged_workbook()
    if kind == "none":
        raise _not_a_spreadsheet()
    if kind == "memory":
        logger.warning("the workbook reader ran out of memory")
        raise _reader_stopped()
    if kind == "extent":
        extent = Extent()
        extent.add(*value)
        _check_extent(extent, extent_limits())
        raise _reader_stopped()  # over the limits in the child, within them here: the settings changed


def _sheets(messages) -> Iterator[SheetStream]:
    """The sheets holding data, from the messages of read_worker.workbook_messages, as they
    come: a sheet's head is read before it is yielded, its other rows when they are asked for."""
    messages = iter(messages)
    found = False
    ended = False

    def rest_of_sheet() -> Iterator[Row]:
        nonlocal ended
        for kind, value in messages:
            _check_message(kind, value)
            if kind == "rows":
                yield from value
            elif kind == "sheet":
                return
            elif kind == "end":
                ended = True
                return
        ended = True

    while not ended:
        head: list[Row] = []
        sheet_done = False
        for kind, value in messages:
            _check_message(kind, value)
            if kind == "rows":
                head.extend(value)
                if len(head) >= HEAD_ROWS:
                    break
            elif kind == "sheet":
                sheet_done = True
                break
            elif kind == "end":
                ended = True
                break
        else:
            ended = True
        if ended and not head:
            break
        if sheet_done or ended:
            if any(_row_has_data(row) for row in head):
                found = True
                yield SheetStream(head)
            continue
        sheet = SheetStream(head, rest_of_sheet())
        found = True
        yield sheet
        sheet.drain()
    if not found:
        raise _empty()


class _CellsUnpickler(pickle.Unpickler):
    """Loads only what the reader sends: lists of str, numbers, booleans and dates. The child
    reads hostile bytes; whatever it became, it cannot make this process build anything else."""

    ALLOWED = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta"),
               ("datetime", "timezone")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def _read_in_child(data: bytes) -> Iterator[tuple[str, object]]:
    """Read the workbook in a child process (read_worker.py) limited to IMPORT_READER_MEMORY_BYTES
    of address space and IMPORT_READER_TIMEOUT_SECONDS; a child that dies or is stopped is a
    refused file, never a dead web or Celery worker. The messages are yielded as they arrive
    (the child waits while the import works on the rows it has sent: memory stays flat)."""
    memory = int(getattr(settings, "IMPORT_READER_MEMORY_BYTES", DEFAULT_READER_MEMORY_BYTES))
    timeout = float(getattr(settings, "IMPORT_READER_TIMEOUT_SECONDS", DEFAULT_READER_TIMEOUT_SECONDS))
    # -I: the child ignores PYTHON* variables and the current directory; it imports only python-calamine.
    process = subprocess.Popen([sys.executable, "-I", read_worker.__file__, str(memory),
                                *(str(limit) for limit in extent_limits()), str(slice_bytes())],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, process.kill)
    # A daemon: a reading abandoned halfway (an import that failed, its generator not yet
    # collected) never keeps the process from exiting until the timeout.
    timer.daemon = True
    timer.start()
    # The bytes go in from a thread: the child starts sending rows before it has read them all.
    feeder = threading.Thread(target=_feed, args=(process.stdin, data), daemon=True)
    feeder.start()
    last = None
    try:
        while last not in _TERMINAL:
            header = process.stdout.read(8)
            if len(header) < 8:
                break
            (length,) = struct.unpack("<Q", header)
            body = process.stdout.read(length) if length <= MAX_MESSAGE_BYTES else b""
            if len(body) != length:
                break
            try:
                message = _CellsUnpickler(io.BytesIO(body)).load()
            except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError):
                break
            del body
            if not (isinstance(message, tuple) and len(message) == 2 and isinstance(message[0], str)):
                break
            last = message[0]
            yield message
            del message
        if last not in _TERMINAL:
            process.stdout.close()
            returncode = process.wait()
            # No file content in the log: the exit status says how it died (negative: the signal).
            logger.warning("the workbook reader process stopped before the end (exit status %s)", returncode)
            raise _reader_stopped()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.wait()
        feeder.join(timeout=5)


def _feed(stream, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


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


def _encoding(data: bytes) -> str:
    """The encoding of a CSV file, checked a megabyte at a time (the decoded text of a large
    file is never held whole): UTF-16 with its BOM, else strictly UTF-8 (with or without
    BOM), else GB18030; UTF-8 bytes do not reliably fail as GB18030, GBK bytes do fail as UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": UTF-16 with a BOM
        if _decodes(data, "utf-16"):
            return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(data, encoding):
            return encoding
    raise SpreadsheetError(
        _("The file cannot be read as text in UTF-8 or GBK (it is in another encoding). Save it from Excel or WPS "
          "as .xlsx, or as CSV in UTF-8, and upload it again.")
    )


def _decodes(data: bytes, encoding: str) -> bool:
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)("strict")
    view = memoryview(data)
    step = 1024 * 1024
    try:
        for start in range(0, len(data), step):
            decoder.decode(view[start:start + step])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_stream(data: bytes) -> SheetStream:
    encoding = _encoding(data)
    head_text = data[:80000].decode(encoding, "ignore")
    if _looks_binary(head_text):
        raise _not_a_spreadsheet()
    if head_text.lstrip("\ufeff \t\r\n").startswith(MARKUP_START):
        raise _web_page()
    head_lines = head_text[:20000].splitlines()[:30]
    delimiter = sniff_delimiter(head_lines)
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[Row]:
        try:
            for row in reader:
                yield list(row)
        except csv.Error:
            raise _not_a_spreadsheet() from None

    iterator = rows()
    head: list[Row] = []
    for row in iterator:
        head.append(row)
        if len(head) >= HEAD_ROWS:
            break
    if not any(_row_has_data(row) for row in head):
        raise _empty()  # a CSV whose first rows are all blank: as before, when no row had data
    return SheetStream(head, iterator)


def _row_has_data(row: Sequence[Any]) -> bool:
    return any(not (cell is None or (isinstance(cell, str) and not cell.strip())) for cell in row)


def row_is_blank(row: Sequence[Any]) -> bool:
    return not _row_has_data(row)
