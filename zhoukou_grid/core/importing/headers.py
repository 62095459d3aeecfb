"""Header normalisation and header-row detection.

Real files arrive with a title row or two above the header, units in brackets
("额定容量（kVA）"), full-width characters, line breaks inside header cells, a blank
row here and there and a total row at the end. Everything here is plain Python.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Bracketed units or remarks: (kVA) （W） [m] 【必填】 (mm²). NFKC has already folded
# full-width brackets to ASCII ones when this runs.
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕")
_NOISE = re.compile(r"[\s_\-*:：·.。]+")
TOTAL_WORDS = ("合计", "总计", "小计", "total")
_TOTAL_INITIALS = frozenset("合总小TtＴｔ")
HEADER_SCAN_ROWS = 20


def normalise_header(text: Any) -> str:
    """The comparable form of a header: NFKC, no units in brackets, no spaces, case-folded."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFKC", str(text))
    value = _BRACKETED.sub("", value)
    value = _NOISE.sub("", value)
    return value.casefold()


def cell_text(value: Any) -> str:
    """A cell as the user sees it, for messages: integral floats without '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def is_total_row(row: Sequence[Any]) -> bool:
    """A final 合计/总计/小计 row: its first non-empty cell starts with one of those words."""
    for cell in row:
        if cell is None or cell == "":
            continue
        if type(cell) is not str:
            return False
        stripped = cell.lstrip()
        if not stripped:
            continue
        # Cheap first-character test: almost every row is data, not a total.
        if stripped[0] not in _TOTAL_INITIALS:
            return False
        return normalise_header(stripped).startswith(TOTAL_WORDS)
    return False


@dataclass
class HeaderMatch:
    """Where the header is and which file column feeds which spec column."""

    row_index: int  # 0-based index in the rows
    columns: dict[str, int] = field(default_factory=dict)  # spec key -> file column index
    written: dict[str, str] = field(default_factory=dict)  # spec key -> header as written
    ignored: list[str] = field(default_factory=list)  # headers as written that no column knows
    extra_rows: tuple[int, ...] = ()  # 0-based indexes of a second header line or a note line (skipped)

    @property
    def excel_row(self) -> int:
        return self.row_index + 1

    @property
    def data_start(self) -> int:
        """0-based index of the first row below the header lines."""
        return max((self.row_index, *self.extra_rows)) + 1


def match_header_row(cells: Sequence[Any], lookup: dict[str, str]) -> HeaderMatch:
    """Map the cells of one candidate header row onto spec keys through `lookup`
    (normalised header -> key). The first column wins when two carry the same key."""
    match = HeaderMatch(row_index=-1)
    for index, cell in enumerate(cells):
        written = cell_text(cell).replace("\n", " ").strip()
        normalised = normalise_header(cell)
        if not normalised:
            continue
        key = lookup.get(normalised)
        if key is None or key in match.columns:
            match.ignored.append(written)
            continue
        match.columns[key] = index
        match.written[key] = written
    return match


def find_header(rows: Sequence[Sequence[Any]], lookup: dict[str, str], *, scan: int = HEADER_SCAN_ROWS) -> HeaderMatch | None:
    """The row among the first `scan` rows that matches the most known headers."""
    best: HeaderMatch | None = None
    for index, cells in enumerate(rows[:scan]):
        match = match_header_row(cells, lookup)
        if match.columns and (best is None or len(match.columns) > len(best.columns)):
            match.row_index = index
            best = match
    return merge_header_lines(rows, best, lookup) if best is not None else None


# Headers every list may carry that no kind imports (counted as header words when telling a
# second header line from data).
IGNORED_HEADER_WORDS = frozenset({"序号", "编号", "行号", "no", "no.", "#"})
# A note line under the header ("必填", "例：2027-01-25", "（选填）") starts with one of these.
_NOTE_PREFIXES = ("必填", "选填", "可选", "可不填", "例", "如", "格式", "填写", "说明", "注", "(", "（", "*")


def _header_words(cells: Sequence[Any], lookup: dict[str, str]) -> tuple[int, int]:
    """(known header words, non-empty cells) of one row."""
    known = filled = 0
    for cell in cells:
        normalised = normalise_header(cell)
        if not normalised:
            continue
        filled += 1
        if normalised in lookup or normalised in IGNORED_HEADER_WORDS:
            known += 1
    return known, filled


def _is_note_line(cells: Sequence[Any]) -> bool:
    texts = [cell_text(cell) for cell in cells if cell_text(cell)]
    return bool(texts) and all(
        isinstance(cell, str) and cell.strip().startswith(_NOTE_PREFIXES) for cell in cells if cell_text(cell))


def merge_header_lines(rows: Sequence[Sequence[Any]], match: HeaderMatch, lookup: dict[str, str]) -> HeaderMatch:
    """Take in a header spread over two lines, and skip a note line under the header.

    Village lists often have a group line above the real header ("返乡人员信息" merged over
    three columns, with 户主 standing alone in its column) or a second header line below
    it (English names, sub-headers). A neighbouring row counts as a header line when at
    least half of its filled cells are headers this kind knows (or 序号); its columns fill
    the positions the main line leaves empty. A row of notes ("必填", "例：…") directly
    under the header is skipped too.
    """
    extra: list[int] = []
    for index in (match.row_index - 1, match.row_index + 1):
        if index < 0 or index >= len(rows):
            continue
        cells = rows[index]
        known, filled = _header_words(cells, lookup)
        if known and known * 2 >= filled:
            taken = set(match.columns.values())
            for position, cell in enumerate(cells):
                key = lookup.get(normalise_header(cell))
                if key is None or position in taken or key in match.columns:
                    continue
                match.columns[key] = position
                match.written[key] = cell_text(cell).replace("\n", " ").strip()
                written = match.written[key]
                if written in match.ignored:
                    match.ignored.remove(written)
            extra.append(index)
        elif index == match.row_index + 1 and _is_note_line(cells):
            extra.append(index)
    # Headers the main line ignored at positions that a second line has now mapped.
    mapped = set(match.columns.values())
    main = rows[match.row_index]
    match.ignored = [cell_text(main[i]).replace("\n", " ").strip() for i in range(len(main))
                     if normalise_header(main[i]) and i not in mapped]
    match.extra_rows = tuple(extra)
    return match


def build_lookup(entries: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """normalised header -> key, from (key, headers) pairs."""
    lookup: dict[str, str] = {}
    for key, headers in entries:
        for header in headers:
            lookup.setdefault(normalise_header(header), key)
    return lookup
