"""Read a workbook with python-calamine in a child process, under a memory limit.

python-calamine is native code: a hostile or damaged workbook can make it abort the whole
process (no Python exception, docs/library-notes.md "Reading untrusted spreadsheets").
`zhoukou_grid.core.importing.reader` therefore runs this file as a script in a child process
(`python -I read_worker.py MEMORY_BYTES`): the workbook's bytes come on stdin, the sheets go
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
import resource
import struct
import sys
from collections.abc import Iterator
from typing import Any

BLOCK_ROWS = 20_000


def _password(exc: BaseException) -> bool:
    return "Password" in type(exc).__name__ or "password" in str(exc).lower()


def workbook_messages(data: bytes, limits: tuple[int, int, int] | None = None) -> Iterator[tuple[str, Any]]:
    """The messages described above, for the workbook `data`; `limits`: rows, columns and
    rows × columns a sheet may span."""
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
    yield "open", None
    for index in visible:
        try:
            sheet = workbook.get_sheet_by_index(index)
            if limits is not None and sheet.height and sheet.width:
                extent = (sheet.end[0] + 1, sheet.end[1] + 1)
                if extent[0] > limits[0] or extent[1] > limits[1] or extent[0] * extent[1] > limits[2]:
                    yield "extent", extent
                    return
            # Row by row rather than to_python(): only a block of rows is ever held as Python
            # objects here. Rows are padded from A1 as to_python(skip_empty_area=False) pads them.
            pad = [""] * (sheet.start or (0, 0))[1]
            block: list[list[Any]] = []
            for row in sheet.iter_rows():
                block.append(pad + list(row))
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


def main() -> int:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    limits = tuple(int(value) for value in sys.argv[2:5]) if len(sys.argv) > 4 else None
    if limit > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)  # a limit of the parent's own stays the ceiling
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    for message in workbook_messages(data, limits):
        # One pickle per message, after its length: the parent reads exactly that many bytes.
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<Q", len(body)))
        out.write(body)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
