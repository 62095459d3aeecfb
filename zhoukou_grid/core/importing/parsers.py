"""Cell parsers: a cell (str, float, int, date, bool or None) -> a clean value.

Each raises `CellError` with a message that tells a village clerk what is wrong and
how to fix it. Empty cells never reach a parser: the engine handles them.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

# Characters that make a spreadsheet cell a formula (OWASP CSV injection); exports
# prefix an apostrophe, imports take it off again so an export imports back unchanged.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_LIST_SEPARATORS = re.compile(r"[,;、\s]+")


class CellError(ValueError):
    """One cell cannot be used; `message` is translated, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def unescape_formula(text: str) -> str:
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES:
        return text[1:]
    return text


def escape_formula(value: Any) -> Any:
    """A leading apostrophe on text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def text(max_length: int = 200) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = unescape_formula((value if type(value) is str else _as_text(value)).strip())
        if len(result) > max_length:
            raise CellError(_("Too long: at most %(max)d characters.") % {"max": max_length})
        return result

    return parse


def code(max_length: int = 32) -> Callable[[Any], str]:
    """A code or identifier: full-width folded, no inner spaces, no float damage."""

    def parse(value: Any) -> str:
        if isinstance(value, float) and not value.is_integer():
            raise CellError(
                _("This code was stored as a number and has lost digits. Format the column as text and type the code again.")
            )
        result = value if type(value) is str else _as_text(value)
        if not result.isascii():
            result = unicodedata.normalize("NFKC", result)
        result = unescape_formula(result.strip())
        if not result.isprintable() or " " in result:
            result = "".join(result.split())
        if ("e" in result or "E" in result) and _SCIENTIFIC.match(result):
            raise CellError(
                _("This code was stored as a number in scientific notation (like 4.1E+09) and has lost digits. "
                  "Format the column as text and type the code again.")
            )
        if len(result) > max_length:
            raise CellError(_("Too long: at most %(max)d characters.") % {"max": max_length})
        return result

    return parse


def digits(min_digits: int, max_digits: int, *, text_only: bool = False) -> Callable[[Any], str]:
    """An all-digit identifier such as an electricity account number. With `text_only`,
    a cell Excel stored as a number is refused: it may have lost leading zeros or digits."""
    base = code(max_digits + 10)

    def parse(value: Any) -> str:
        if text_only and isinstance(value, int | float) and not isinstance(value, bool):
            raise CellError(
                _("This number was stored by Excel as a number, which can drop leading zeros and digits "
                  "(it shows as %(shown)s). Format the column as text and type the numbers again.")
                % {"shown": f"{value:.6g}" if abs(value) >= 1e11 else _as_text(value)}
            )
        result = base(value)
        if result.endswith(".0") and result[:-2].isdigit():
            result = result[:-2]
        if not result.isdigit() or not (min_digits <= len(result) <= max_digits):
            raise CellError(
                _("Must be %(min)d to %(max)d digits, without spaces or letters.") % {"min": min_digits, "max": max_digits}
            )
        return result

    return parse


# A unit typed after the number ("200kVA", "850米"): the header already says the unit.
_TRAILING_UNIT = re.compile(r"^([+-]?[\d.]+)\s*(kva|kw|w|a|m|mm2|mm²|千伏安|千瓦|瓦|安|米|年)$", re.IGNORECASE)


def integer(min_value: int | None = None, max_value: int | None = None) -> Callable[[Any], int]:
    """A whole number: 200, 200.0, "200", "２００", "1,000" and "200kVA" are accepted."""

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise CellError(_("Enter a whole number, such as 200."))
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise CellError(_("Enter a whole number, such as 200."))
            number = int(value)
        else:
            raw = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace(" ", "")
            unit = _TRAILING_UNIT.match(raw)
            if unit:
                raw = unit.group(1)
            try:
                as_float = float(raw)
            except ValueError:
                raise CellError(_("Enter a whole number, such as 200."))
            if not as_float.is_integer():
                raise CellError(_("Enter a whole number, such as 200."))
            number = int(as_float)
        if min_value is not None and number < min_value:
            raise CellError(_("Must be at least %(min)d.") % {"min": min_value})
        if max_value is not None and number > max_value:
            raise CellError(_("Must be at most %(max)d.") % {"max": max_value})
        return number

    return parse


def choice(choices: tuple[str, ...], aliases: dict[str, str] | None = None) -> Callable[[Any], str]:
    """One of `choices`, compared after full-width folding and upper-casing."""
    folded = {c.upper(): c for c in choices}
    folded.update({k.upper(): v for k, v in (aliases or {}).items()})

    def parse(value: Any) -> str:
        raw = re.sub(r"\s+", "", unicodedata.normalize("NFKC", _as_text(value))).upper()
        if raw in folded:
            return folded[raw]
        raise CellError(_("Must be one of: %(choices)s.") % {"choices": ", ".join(choices)})

    return parse


def code_list(max_length: int = 32) -> Callable[[Any], tuple[str, ...]]:
    """Codes separated by commas, 、 or semicolons (full-width ones too)."""
    one = code(max_length)

    def parse(value: Any) -> tuple[str, ...]:
        raw = unicodedata.normalize("NFKC", unescape_formula(_as_text(value)))
        parts = [one(part) for part in _LIST_SEPARATORS.split(raw) if part.strip()]
        return tuple(sorted(set(parts)))

    return parse


def year(min_value: int = 1950, max_value: int = 2100) -> Callable[[Any], int]:
    """A year: 2015, "2015年", or a date cell or text (2015-06-01, 2015/6/1) of which the year is kept."""
    whole = integer(min_value, max_value)

    def parse(value: Any) -> int:
        if isinstance(value, datetime.date):
            value = value.year
        elif isinstance(value, str):
            match = re.match(r"^\s*(\d{4})\s*(?:[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?|年)?\s*$",
                             unicodedata.normalize("NFKC", value))
            if match:
                value = match.group(1)
        return whole(value)

    return parse
