"""Values as village committees type them, and what the portal makes of them."""

from datetime import date, datetime

import pytest
from lunardate import LunarDate

from customers.parsing import (
    ValueProblem,
    id_check_digit,
    lunar_day_number,
    mask_id_number,
    mask_phone,
    parse_date,
    parse_heating,
    parse_id_number,
    parse_mobile,
    parse_person_count,
)

IMPORT_DAY = date(2026, 11, 27)


def problem_code(func, *args, **kwargs):
    with pytest.raises(ValueProblem) as info:
        func(*args, **kwargs)
    return info.value.code


class TestIdNumbers:
    def test_it_accepts_a_valid_number(self):
        assert parse_id_number("411627196503253526") == "411627196503253526"

    def test_it_upper_cases_a_trailing_x_and_folds_full_width(self):
        assert parse_id_number("41162719771129719x") == "41162719771129719X"
        assert parse_id_number("４１１６２７１９７７１１２９７１９Ｘ") == "41162719771129719X"

    def test_check_digit_follows_gb_11643(self):
        # Weighted sum of 11010519491231002 is 167; 167 mod 11 = 2 -> "X".
        assert id_check_digit("11010519491231002") == "X"
        assert id_check_digit("41162719650325352") == "6"

    def test_it_rejects_a_wrong_check_digit(self):
        assert problem_code(parse_id_number, "411627196503253527") == "id_checksum"

    def test_it_rejects_an_impossible_birth_date(self):
        number = "41162719650231352"
        assert problem_code(parse_id_number, number + id_check_digit(number)) == "id_birth_date"

    def test_it_rejects_a_birth_date_in_the_future(self):
        number = "41162720990101352"
        assert problem_code(parse_id_number, number + id_check_digit(number), today=IMPORT_DAY) == "id_birth_date"

    @pytest.mark.parametrize("value", [4.116271992071419e17, "4.11602199001011E+17", 411627199207141000])
    def test_a_number_excel_stored_as_a_float_is_reported_as_damaged(self, value):
        assert problem_code(parse_id_number, value) == "id_damaged_by_excel"

    def test_it_rejects_wrong_length_and_old_15_digit_numbers(self):
        assert problem_code(parse_id_number, "41162719650325") == "id_format"
        assert problem_code(parse_id_number, "411627650325352") == "id_old_15_digits"

    def test_masking_keeps_area_and_last_four(self):
        assert mask_id_number("411627196503253526") == "411627********3526"


class TestMobiles:
    @pytest.mark.parametrize(
        "value", ["13812345678", "138-1234-5678", " 138 1234 5678 ", "+86 138 1234 5678", "008613812345678",
                  "8613812345678", 13812345678.0, "１３８１２３４５６７８"],
    )
    def test_it_normalises(self, value):
        assert parse_mobile(value) == "13812345678"

    def test_it_rejects_short_numbers_landlines_and_text(self):
        assert problem_code(parse_mobile, "1399999") == "phone_length"
        assert problem_code(parse_mobile, "03946123456") == "phone_format"
        assert problem_code(parse_mobile, "无") == "phone_not_digits"

    def test_masking(self):
        assert mask_phone("13812341234") == "138****1234"


class TestDates:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (datetime(2027, 1, 25, 0, 0), date(2027, 1, 25)),
            (date(2027, 1, 25), date(2027, 1, 25)),
            (46412, date(2027, 1, 25)),  # Excel serial
            (46412.0, date(2027, 1, 25)),
            ("2027-01-25", date(2027, 1, 25)),
            ("2027/1/25", date(2027, 1, 25)),
            ("2027.1.25", date(2027, 1, 25)),
            ("2027年1月25日", date(2027, 1, 25)),
            ("2027 年 1 月 25 日", date(2027, 1, 25)),
            ("2027-01-25 00:00:00", date(2027, 1, 25)),
            ("20270125", date(2027, 1, 25)),
            ("２０２７年１月２５日", date(2027, 1, 25)),
            ("1月25日", date(2027, 1, 25)),
            ("1月25号", date(2027, 1, 25)),
            ("12月28日", date(2026, 12, 28)),  # before the New Year: the year before
            ("腊月二十八", date(2027, 2, 4)),  # the sample file's row 5
            ("腊月二十六", date(2027, 2, 2)),
            ("农历腊月廿六", date(2027, 2, 2)),
            ("正月初三", date(2027, 2, 8)),
            ("正月初八", date(2027, 2, 13)),
            ("除夕", date(2027, 2, 5)),
            ("大年初一", date(2027, 2, 6)),
        ],
    )
    def test_every_form_seen_in_village_lists(self, value, expected):
        assert parse_date(value, reference=IMPORT_DAY) == expected

    def test_lunar_months_from_the_seventh_on_belong_to_the_lunar_year_before(self):
        assert parse_date("冬月十五", reference=IMPORT_DAY) == LunarDate(2026, 11, 15).to_solar_date()
        assert parse_date("冬月十五", reference=IMPORT_DAY).year == 2026

    def test_it_rejects_what_it_cannot_read(self):
        assert problem_code(parse_date, "下周", reference=IMPORT_DAY) == "date_unreadable"
        assert problem_code(parse_date, "2027-02-30", reference=IMPORT_DAY) == "date_invalid"
        assert problem_code(parse_date, "", reference=IMPORT_DAY) == "date_empty"
        assert problem_code(parse_date, "腊月三十一", reference=IMPORT_DAY) == "date_lunar_day"
        assert problem_code(parse_date, 12.5, reference=IMPORT_DAY) == "date_unreadable"

    def test_lunar_day_names(self):
        assert [lunar_day_number(t) for t in ("初一", "初十", "十一", "二十", "廿一", "二十九", "三十")] == [
            1, 10, 11, 20, 21, 29, 30]


class TestOtherColumns:
    def test_person_count(self):
        assert parse_person_count("") == 1
        assert parse_person_count(3.0) == 3
        assert parse_person_count("２人") == 2
        assert problem_code(parse_person_count, 0) == "persons_not_positive"
        assert problem_code(parse_person_count, 51) == "persons_too_many"
        assert problem_code(parse_person_count, "几个") == "persons_not_number"

    def test_heating(self):
        assert parse_heating("电暖器") == "electric_heater"
        assert parse_heating(" 空调 ") == "air_conditioner"
        assert parse_heating("无") == "none"
        assert parse_heating("烧炕") == "other"
        assert parse_heating("") == ""
