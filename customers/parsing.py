"""Parsing the values village committees type into their lists.

Plain Python, no Django: ID numbers (GB 11643-1999), mobile phones, dates in every form
seen in village spreadsheets (Excel dates and serials, 2027年1月25日, 2027.1.25, 1月25日,
腊月二十六, 除夕), head counts and heating types.

Every failure raises `ValueProblem` with a stable `code` and parameters; the import layer
turns the code into a message in the user's language.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lunardate import LunarDate

from zhoukou_grid.core.lunar_calendar import lunar_new_year, new_years_eve, season_of


@dataclass(eq=False)
class ValueProblem(ValueError):
    """A value that cannot be used. `code` selects the message shown to the user."""

    code: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code


def fold(value: object) -> str:
    """Text of a cell with full-width characters folded and outer spaces removed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


# --- ID numbers ------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_SCIENTIFIC_RE = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)
_ID_NOISE_RE = re.compile(r"[\s\-]")
_ID_AS_FLOAT_RE = re.compile(r"^\d{16,18}\.0+$")


def id_check_digit(first17: str) -> str:
    # map() instead of a generator: this runs once per row of 100,000-row lists.
    return _ID_CHECK[sum(map(operator.mul, map(int, first17), _ID_WEIGHTS)) % 11]


def parse_id_number(value: object, *, today: date | None = None) -> str:
    """A valid 18-character ID number, upper-case X; raises ValueProblem otherwise.

    A number that Excel stored as a float (4.11602199001011E+17) has lost its last digits
    and cannot be repaired: it is reported as `id_damaged_by_excel`, never guessed.
    The area code is not checked (real older people carry codes of areas since renamed).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and len(str(int(value))) > 15:
        # Excel keeps 15 significant digits of a number: an 18-digit ID typed as one is lost.
        raise ValueProblem("id_damaged_by_excel")
    text = _ID_NOISE_RE.sub("", fold(value)).upper()
    if _SCIENTIFIC_RE.match(text) or _ID_AS_FLOAT_RE.match(text):
        raise ValueProblem("id_damaged_by_excel")
    if len(text) == 15 and text.isdigit():
        raise ValueProblem("id_old_15_digits")
    if not _ID_RE.match(text):
        raise ValueProblem("id_format", {"length": len(text)})
    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise ValueProblem("id_birth_date") from None
    today = today or date.today()
    if birth.year < 1890 or birth > today:
        raise ValueProblem("id_birth_date")
    if not _id_checksum_ok(text):
        raise ValueProblem("id_checksum")
    return text


def _id_checksum_ok(text: str) -> bool:
    return id_check_digit(text[:17]) == text[17]


# --- Mobile phones ---------------------------------------------------------------
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE_RE = re.compile(r"[\s\-()（）.]")


def parse_mobile(value: object) -> str:
    """An 11-digit mainland mobile number; spaces, dashes and +86/0086/86 removed."""
    text = _PHONE_NOISE_RE.sub("", fold(value))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not text.isdigit():
        raise ValueProblem("phone_not_digits")
    if len(text) != 11:
        raise ValueProblem("phone_length", {"length": len(text)})
    if not _PHONE_RE.match(text):
        raise ValueProblem("phone_format")
    return text


def mask_phone(phone: str) -> str:
    """138****1234."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


def mask_contact_phone(phone: str) -> str:
    """A contact's phone as typed: 138****1234 for a mobile; a landline keeps its area
    code and last three digits (0394****345)."""
    phone = (phone or "").strip()
    if not phone:
        return ""
    digits = [ch for ch in phone if ch.isdigit()]
    if len(digits) == 11 and phone.isdigit():
        return f"{phone[:3]}****{phone[-4:]}"
    if len(digits) >= 7:
        return f"{phone[:4]}****{phone[-3:]}"
    return "****"


def mask_id_number(id_number: str) -> str:
    """411627********3526: area code and the last four kept."""
    return f"{id_number[:6]}********{id_number[-4:]}" if len(id_number) == 18 else "****"


# --- Dates -----------------------------------------------------------------------
_EXCEL_EPOCH = date(1899, 12, 30)
_LUNAR_MONTHS = {"正": 1, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
                 "十": 10, "冬": 11, "十一": 11, "腊": 12, "十二": 12}
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_FULL_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_LUNAR_RE = re.compile(r"^(?:农历)?(闰)?(正|一|二|三|四|五|六|七|八|九|十一|十二|十|冬|腊)月(.+?)[日号]?$")


def lunar_day_number(text: str) -> int:
    """初一..初十, 十一..十九, 二十, 廿一..廿九, 二十一..二十九, 三十, 卅."""
    text = text.replace("廿", "二十").replace("卅", "三十")
    if text.startswith("初"):
        rest = text[1:]
        if rest == "十":
            return 10
        if rest in _CN_DIGITS:
            return _CN_DIGITS[rest]
        raise ValueProblem("date_lunar_day")
    if text == "十":
        return 10
    if text.startswith("十") and len(text) == 2 and text[1] in _CN_DIGITS:
        return 10 + _CN_DIGITS[text[1]]
    match = re.match(r"^([二三])十([一二三四五六七八九]?)$", text)
    if match:
        number = _CN_DIGITS[match.group(1)] * 10 + (_CN_DIGITS[match.group(2)] if match.group(2) else 0)
        if number <= 30:
            return number
    if text.isdigit() and 1 <= int(text) <= 30:
        return int(text)
    raise ValueProblem("date_lunar_day")


def _lunar_to_solar(lunar_year: int, month: int, day: int, leap: bool) -> date:
    try:
        return LunarDate(lunar_year, month, day, leap).to_solar_date()
    except ValueError:
        raise ValueProblem("date_lunar_invalid") from None


def parse_date(value: object, *, reference: date) -> date:
    """A date typed in a village list.

    `reference` is the day the list is imported: it chooses the year of dates written
    without one (1月25日, 腊月二十六): the festival the list is about
    (`lunar_calendar.season_of`). Months from July on belong to the year before that New Year.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        serial = float(value)
        if 20000 <= serial <= 80000:
            return _EXCEL_EPOCH + timedelta(days=int(serial))
        if 19000101 <= serial <= 21001231 and float(serial).is_integer():
            value = str(int(serial))
        else:
            raise ValueProblem("date_unreadable", {"value": fold(value)})
    text = re.sub(r"\s+", " ", fold(value))
    if not text:
        raise ValueProblem("date_empty")
    season = season_of(reference)
    for pattern in (_FULL_DATE_RE, _COMPACT_DATE_RE):
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return _checked_date(year, month, day)
    text = text.replace(" ", "")
    match = _MONTH_DAY_RE.match(text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        year = lunar_new_year(season).year - (1 if month >= 7 else 0)
        return _checked_date(year, month, day)
    if text in {"除夕", "大年三十", "年三十", "大年夜", "年三十晚"}:
        return new_years_eve(season)
    festival = re.match(r"^(?:大年)(初.+)$", text)
    if festival:
        text = "正月" + festival.group(1)
    match = _LUNAR_RE.match(text)
    if match:
        leap, month_text, day_text = match.groups()
        month = _LUNAR_MONTHS[month_text]
        day = lunar_day_number(day_text)
        lunar_year = season - (1 if month >= 7 else 0)
        return _lunar_to_solar(lunar_year, month, day, bool(leap))
    raise ValueProblem("date_unreadable", {"value": text})


def _checked_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueProblem("date_invalid", {"value": f"{year}-{month}-{day}"}) from None


# --- Other columns ---------------------------------------------------------------
# Persons coming home with one entry: more is not plausible (one row per family instead).
MAX_PERSONS = 50


def parse_person_count(value: object, *, maximum: int = MAX_PERSONS) -> int:
    """Persons coming home: blank means 1; 1..maximum."""
    text = fold(value).removesuffix("人")
    if not text:
        return 1
    if re.fullmatch(r"\d+(\.0+)?", text):
        count = int(float(text))
    elif text in _CN_DIGITS:
        count = _CN_DIGITS[text]
    else:
        raise ValueProblem("persons_not_number")
    if count <= 0:
        raise ValueProblem("persons_not_positive")
    if count > maximum:
        raise ValueProblem("persons_too_many", {"maximum": maximum})
    return count


HEATING_SYNONYMS: dict[str, tuple[str, ...]] = {
    "electric_heater": ("电暖器", "电暖气", "电取暖器", "小太阳", "油汀", "暖风机", "电炉"),
    "air_conditioner": ("空调",),
    "electric_blanket": ("电热毯", "电褥子"),
    "heat_pump": ("热泵", "空气能", "地暖"),
    "coal": ("煤", "煤炉", "燃煤", "蜂窝煤", "烧煤", "土暖气"),
    "gas": ("天然气", "燃气", "气", "煤气"),
    "none": ("无", "没有", "不取暖", "无取暖"),
}
_HEATING_LOOKUP = {word: kind for kind, words in HEATING_SYNONYMS.items() for word in words}


def parse_heating(value: object) -> str:
    """One of the heating kinds, "other" when typed but not recognised, "" when blank."""
    text = fold(value).replace(" ", "")
    if not text:
        return ""
    if text in _HEATING_LOOKUP:
        return _HEATING_LOOKUP[text]
    for word, kind in sorted(_HEATING_LOOKUP.items(), key=lambda item: -len(item[0])):
        if len(word) > 1 and word in text:
            return kind
    return "other"
