"""Read a workbook with python-calamine in a child process, under a memory limit.

python-calamine is native code: a hostile or damaged workbook can make it abort the whole
process (no Python exception, docs/library-notes.md "Reading untrusted spreadsheets").
`zhoukou_grid.core.importing.reader` therefore runs this file as a script in a child process
(`python -I read_worker.py MEMORY_BYTES MAX_ROWS MAX_COLUMNS MAX_CELLS SLICE_BYTES`): the workbook's bytes come on stdin, the sheets go
back on stdout as pickled messages, each after its length (8 bytes, little-endian); a child that dies takes only itself down.

No Django here (nor anything of the project): the child starts in a few tens of
milliseconds, and the file can be imported by the reader for the in-process path too.

Messages, in order: ("open", None) or ("damaged", password: bool); then for each visible
sheet ("rows", [row, ...]) blocks of at most BLOCK_ROWS rows and ("sheet", None) at its end,
or ("damaged", password) for a sheet that cannot be read; ("end", None) last. A workbook with
no visible sheet sends ("none", None). ("memory", None): the reader ran out of memory.
("extent", (rows, columns)): a sheet spans more than the limits (counted from A1), checked
before its cells become Python objects; XLSX is measured before this, but .xls, XLSB and
ODS are only measured here.
"""

from __future__ import annotations

import io
import pickle
import re
import resource
import struct
import sys
import zipfile
from collections.abc import Iterator
from typing import Any

BLOCK_ROWS = 5_000  # rows per message: what the parent holds of the reader's output at once
# A worksheet whose XML is larger than this is read a slice at a time (`_sliced_rows`):
# python-calamine holds a whole sheet as its own cells (about 1.5 KB per row of a residents
# list), so a 1,000,000-row sheet would take 1.5 GB at once; a slice of this many bytes of
# XML (about 20,000 such rows) keeps the reader's memory flat in the row count.
SLICE_BYTES = 16 * 1024 * 1024
_SHEET_DATA = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)sheetData(\s[^>]*)?(/?)>")
_ROW_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?row\s*>")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_PLAIN_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s+r=")
_DIMENSION_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*>")
_ROOT = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)worksheet[\s>]")
_SHEET_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\s([^>]*)>")
_RELATIONSHIP = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Relationship\s([^>]*)>")
_XML_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _password(exc: BaseException) -> bool:
    return "Password" in type(exc).__name__ or "password" in str(exc).lower()


def workbook_messages(data: bytes, limits: tuple[int, int, int] | None = None,
                      slice_bytes: int = SLICE_BYTES) -> Iterator[tuple[str, Any]]:
    """The messages described above, for the workbook `data`; `limits`: rows, columns and
    rows × columns a sheet may span; `slice_bytes`: the XML of a larger sheet is read a
    slice of about this size at a time."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        visible = [index for index, meta in enumerate(workbook.sheets_metadata)
                   if str(meta.visible).endswith("Visible")]
    except MemoryError:
        yield "memory", None
        return
    except Exception as exc:  # noqa: BLE001 - calamine raises many types for damaged files
        yield "damaged", _password(exc)
        return
    if not visible:
        yield "none", None
        return
    archive, sheet_members = _sheet_members(data, [meta.name for meta in workbook.sheets_metadata])
    if any(member.file_size > slice_bytes for member in sheet_members.values()):
        # calamine keeps its own copy of the file's bytes: dropped while large sheets are sliced,
        # opened again only for a sheet read whole.
        del workbook
        workbook = None
    yield "open", None
    for index in visible:
        block: list[list[Any]] = []
        try:
            member = sheet_members.get(index)
            if member is not None and member.file_size > slice_bytes and _rows_numbered(archive, member):
                # An XLSX sheet: its extent was measured before this process started (reader.py).
                rows = _sliced_rows(archive, member, index, slice_bytes)
            else:
                if workbook is None:
                    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
                sheet = workbook.get_sheet_by_index(index)
                if limits is not None and sheet.height and sheet.width:
                    extent = (sheet.end[0] + 1, sheet.end[1] + 1)
                    if extent[0] > limits[0] or extent[1] > limits[1] or extent[0] * extent[1] > limits[2]:
                        yield "extent", extent
                        return
                rows = _whole_rows(sheet)
            block: list[list[Any]] = []
            for row in rows:
                block.append(row)
                if len(block) == BLOCK_ROWS:
                    yield "rows", block
                    block = []
        except MemoryError:
            yield "memory", None
            return
        except Exception as exc:  # noqa: BLE001
            yield "damaged", _password(exc)
            return
        if block:
            yield "rows", block
        yield "sheet", None
    yield "end", None


def _whole_rows(sheet) -> Iterator[list[Any]]:
    # Row by row rather than to_python(): only a block of rows is ever held as Python
    # objects here. Rows are padded from A1 as to_python(skip_empty_area=False) pads them.
    pad = [""] * (sheet.start or (0, 0))[1]
    for row in sheet.iter_rows():
        yield pad + list(row)


def _attributes(text: bytes) -> dict[bytes, bytes]:
    return {match.group(1).split(b":")[-1]: match.group(2) if match.group(2) is not None else match.group(3)
            for match in _XML_ATTR.finditer(text)}


def _sheet_members(data: bytes, names: list[str]) -> tuple[zipfile.ZipFile | None, dict[int, zipfile.ZipInfo]]:
    """The zip member of each sheet of an XLSX (by the index of calamine's sheets_metadata),
    from xl/workbook.xml and its relationships; nothing for XLS, XLSB or ODS, or when the
    workbook names them in some other way (the sheet is then read whole)."""
    if not data.startswith(b"PK"):
        return None, {}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
        if "xl/workbook.xml" not in members or "xl/_rels/workbook.xml.rels" not in members:
            return None, {}
        targets = {}
        for match in _RELATIONSHIP.finditer(archive.read("xl/_rels/workbook.xml.rels")):
            attributes = _attributes(match.group(1))
            if b"Id" in attributes and b"Target" in attributes:
                target = attributes[b"Target"].decode("utf-8", "replace")
                targets[attributes[b"Id"]] = target.lstrip("/") if target.startswith("/") else "xl/" + target
        found = {}
        for match in _SHEET_ENTRY.finditer(archive.read("xl/workbook.xml")):
            attributes = _attributes(match.group(1))
            name = attributes.get(b"name", b"").decode("utf-8", "replace")
            member = members.get(targets.get(attributes.get(b"id"), ""))
            if member is not None and name in names:
                found[names.index(name)] = member
        return archive, found
    except Exception:  # noqa: BLE001 - any doubt: the sheet is read whole, as before
        return None, {}


def _stream(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    with archive.open(member) as stream:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                return
            yield chunk


def _rows_numbered(archive: zipfile.ZipFile | None, member: zipfile.ZipInfo) -> bool:
    """Whether every row of the sheet says its number (`<row r="…"`, as spreadsheet programs
    write them): a slice then keeps the file's row numbers. Otherwise the sheet is read whole."""
    if archive is None:
        return False
    tail = b""
    for chunk in _stream(archive, member):
        text = tail + chunk
        cut = text.rfind(b"<")
        text, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
        if len(_ROW_TAG.findall(text)) != len(_PLAIN_ROW_TAG.findall(text)):
            return False
    return len(_ROW_TAG.findall(tail)) == len(_PLAIN_ROW_TAG.findall(tail))


def _sliced_rows(archive: zipfile.ZipFile, member: zipfile.ZipInfo, index: int,
                 slice_bytes: int = SLICE_BYTES) -> Iterator[list[Any]]:
    """The rows of a large sheet, read by python-calamine a slice of about SLICE_BYTES of its
    XML at a time: each slice is the sheet's own XML start (without its <dimension>), whole
    <row> elements, and the end tags, in a copy of the workbook holding only that sheet's
    slice (styles and shared strings kept, so dates and texts read as before). Rows keep the
    file's numbers (padded from A1 between slices, as a whole sheet is)."""
    from python_calamine import CalamineWorkbook

    # The other members, once: styles, shared strings, the workbook; other sheets become empty.
    others = []
    for info in archive.infolist():
        if info.filename == member.filename:
            continue
        is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        others.append((info.filename, None if is_sheet else archive.read(info)))
    chunks = _stream(archive, member)
    buffer = b""
    head = None
    for chunk in chunks:
        buffer += chunk
        head = _SHEET_DATA.search(buffer)
        if head is not None or len(buffer) > 64 * 1024 * 1024:
            break
    root = _ROOT.search(buffer)
    if head is None or root is None or head.group(3):  # no rows at all (<sheetData/>) or not a sheet
        return
    prefix = _DIMENSION_TAG.sub(b"", buffer[:head.end()])
    suffix = b"</" + head.group(1) + b"sheetData></" + root.group(1) + b"worksheet>"
    buffer = buffer[head.end():]
    emitted = 0  # rows yielded so far: the next row is row emitted + 1 of the file
    ended = False
    while not ended:
        parts, size = [buffer], len(buffer)
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= slice_bytes:
                break
        else:
            ended = True
        buffer = b"".join(parts)
        del parts
        if ended:
            end = buffer.find(b"</" + head.group(1) + b"sheetData")
            body, buffer = (buffer if end < 0 else buffer[:end]), b""
        else:
            ends = list(_ROW_END.finditer(buffer, max(len(buffer) - 4 * 1024 * 1024, 0)))
            if not ends:  # one row longer than 4 MB: keep reading
                continue
            last = ends[-1]
            body, buffer = buffer[:last.end()], buffer[last.end():]
        if not _ROW_TAG.search(body):
            continue
        copy = io.BytesIO()
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as target:
            for name, content in others:
                target.writestr(name, prefix + suffix if content is None else content)  # other sheets: empty
            target.writestr(member.filename, prefix + body + suffix)
        del body
        copy.seek(0)
        sheet = CalamineWorkbook.from_filelike(copy).get_sheet_by_index(index)
        del copy
        if not sheet.height:
            continue
        start_row, start_column = sheet.start
        pad = [""] * start_column
        while emitted < start_row:
            yield []
            emitted += 1
        for row in sheet.to_python(skip_empty_area=True):
            yield pad + row
            emitted += 1
        del sheet


def main() -> int:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    limits = tuple(int(value) for value in sys.argv[2:5]) if len(sys.argv) > 4 else None
    slice_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else SLICE_BYTES
    if limit > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)  # a limit of the parent's own stays the ceiling
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    for message in workbook_messages(data, limits, slice_bytes):
        # One pickle per message, after its length: the parent reads exactly that many bytes.
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<Q", len(body)))
        out.write(body)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
