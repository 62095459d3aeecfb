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

    @property
    def excel_row(self) -> int:
        return self.row_index + 1


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
    return best


def build_lookup(entries: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """normalised header -> key, from (key, headers) pairs."""
    lookup: dict[str, str] = {}
    for key, headers in entries:
        for header in headers:
            lookup.setdefault(normalise_header(header), key)
    return lookup
