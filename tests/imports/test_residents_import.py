"""The residents import on real-shaped village lists: the shared samples, every parsing
rule with its Excel row and column, villages and households, keys and re-imports."""

from __future__ import annotations

from datetime import date

import pytest

from customers.models import ReturningResident
from tests.factories import HouseholdFactory, ReturningResidentFactory, VillageFactory
from tests.imports.conftest import csv_bytes, xlsx_bytes
from tests.imports.residents_world import HOUCHANGYING_CSV, IMPORT_DAY, ZHUKOU_XLSX
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog, ImportJob

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "联系电话", "村", "返乡日期", "返程日期", "返乡人数", "取暖方式"]
GOOD_ID = "411627196503253526"  # 卢红 in the samples


def run(data, user, name="list.xlsx", **options):
    return import_file(kind=get_kind("residents"), data=data, file_name=name, user=user, **options)


def errors_by_row(result):
    return {error["row"]: error for error in result.errors}


def id_with_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


# --- The shared samples -------------------------------------------------------------------

def test_the_zhukou_sample_rejects_exactly_rows_8_12_and_16_with_their_reasons(taikang, import_day):
    result = run(ZHUKOU_XLSX.read_bytes(), taikang.manager, name=ZHUKOU_XLSX.name)
    errors = errors_by_row(result)
    assert sorted(errors) == [8, 12, 16] and len(result.errors) == 3
    assert errors[8]["column"] == "身份证号" and "the column as text and re-enter the number" in \
        errors[8]["message"]
    assert errors[12]["column"] == "电话" and "11 digits (this one has 7)" in errors[12]["message"]
    assert errors[16]["column"] == "村（组）" and errors[16]["value"] == "小王庄村"
    assert "not in your territory" in errors[16]["message"]
    assert result.header_row == 2 and "序号" in result.ignored_columns
    assert result.counts == {"new": 22, "updated": 0, "unchanged": 0, "rejected": 3, "unlinked": 20}
    assert not result.written and not ReturningResident.objects.exists()  # rejected rows: nothing written


def test_the_zhukou_sample_writes_its_valid_rows_with_their_dates_villages_and_households(taikang, import_day):
    result = run(ZHUKOU_XLSX.read_bytes(), taikang.manager, skip_invalid=True)
    assert result.written and ReturningResident.objects.count() == 22
    by_name = {r.name: r for r in ReturningResident.objects.all()}
    assert by_name["唐宇刚"].arrival_date == date(2027, 2, 4)  # row 5: 腊月二十八
    assert by_name["姚强兰"].arrival_date == date(2027, 1, 19)  # 1月19日, the year of the coming season
    assert by_name["罗军"].arrival_date == date(2027, 1, 22)  # 2027年1月22日
    assert by_name["江伟秀"].arrival_date == date(2027, 1, 24)  # 2027/1/24
    assert by_name["卢红"].arrival_date == date(2027, 2, 1)  # a real Excel date
    assert (by_name["卢红"].village, by_name["卢红"].village_group) == (taikang.zhukou, "一组")
    assert (by_name["姚强兰"].village, by_name["姚强兰"].village_group) == (taikang.zhukou, "")
    assert by_name["郭金东"].id_number == "41162719771129719X" and by_name["郭金东"].phone == "17605782293"
    assert by_name["卢红"].heating == "none" and by_name["姚强兰"].heating == "electric_heater"
    assert by_name["卢红"].persons == 2 and by_name["卢红"].workplace == "河南郑州"
    # 户主 董华 of 朱口村 and 常文 of 后常营村 have households: linked by village + head of household.
    assert by_name["卢红"].household == taikang.households["董华"]
    assert by_name["唐宇刚"].household == taikang.households["常文"]
    job = ImportJob.objects.get()
    assert {(r.source, r.import_job_id) for r in by_name.values()} == {("import", job.pk)}
    assert job.counts["unlinked"] == 20 and job.status == "done"


def test_the_gbk_sample_of_houchangying_with_other_headers(taikang, import_day):
    data = HOUCHANGYING_CSV.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = run(data, taikang.admin, name=HOUCHANGYING_CSV.name, skip_invalid=True)
    assert [(e["row"], e["column"]) for e in result.errors] == [(11, "手机号")]
    assert result.counts["new"] == 11 and result.written
    qin = ReturningResident.objects.get(name="秦强刚")  # no ID number: keyed by name + phone
    assert qin.match_key == key(name="秦强刚", phone="18920607998") and qin.arrival_date == date(2027, 1, 17)
    assert "18920607998" not in qin.match_key
    assert ReturningResident.objects.get(name="唐宇刚").arrival_date == date(2027, 2, 4)
    assert ReturningResident.objects.get(name="罗军").village_group == "一组"


def test_importing_both_samples_updates_the_people_on_both_lists_and_never_duplicates(taikang, import_day):
    run(ZHUKOU_XLSX.read_bytes(), taikang.manager, skip_invalid=True)
    again = run(HOUCHANGYING_CSV.read_bytes(), taikang.manager, name="b.csv", skip_invalid=True)
    # Ten people of the CSV are on the XLSX with the same values; 秦强刚 was rejected there (damaged ID).
    assert again.counts == {"new": 1, "updated": 0, "unchanged": 10, "rejected": 1, "unlinked": 9}
    assert ReturningResident.objects.count() == 23
    twice = run(ZHUKOU_XLSX.read_bytes(), taikang.manager, skip_invalid=True)
    assert twice.counts["unchanged"] == 22 and twice.counts["new"] == 0
    assert ReturningResident.objects.count() == 23


# --- Parsing rules, in import context -------------------------------------------------------

ID_CASES = [
    # (cell, stored value or None, message part)
    (id_with_check("41162719900101123"), id_with_check("41162719900101123"), None),
    (id_with_check("41162719771129719").lower(), id_with_check("41162719771129719"), None),  # lower-case x
    ("４１１６２７１９６５０３２５３５２６", GOOD_ID, None),  # full-width digits
    (" 411627 19650325 3526 ", GOOD_ID, None),  # stray spaces
    (4.11627196503253e17, None, "the column as text and re-enter the number"),  # a number cell
    ("4.11627196503253E+17", None, "the column as text and re-enter the number"),  # its text
    ("411627196503253527", None, "does not fit the others"),  # check digit
    ("411627650325352", None, "old 15-digit ID number"),
    ("411627196513253526", None, "not a real date"),  # month 13
    ("41162719650325352", None, "this one has 17"),
    ("411627********3526", None, "masked"),
]


@pytest.mark.parametrize(("cell", "stored", "message"), ID_CASES, ids=[str(c[0]) for c in ID_CASES])
def test_id_numbers(taikang, import_day, cell, stored, message):
    result = run(xlsx_bytes([["返乡人员登记表"], HEADER, ["张三", cell, "13800000001", "朱口村", "2027-01-25"]]),
                 taikang.manager)
    if message is None:
        assert not result.errors
        assert ReturningResident.objects.get().id_number == stored
    else:
        (error,) = result.errors
        assert (error["row"], error["column"]) == (3, "身份证号") and message in error["message"], error


PHONE_CASES = [
    ("138 0013 8000", "13800138000", None), ("138-0013-8000", "13800138000", None),
    ("+86 138 0013 8000", "13800138000", None), ("８６１３８００１３８０００", "13800138000", None),
    (13800138000, "13800138000", None),  # a number cell keeps its 11 digits
    ("1399999", None, "11 digits (this one has 7)"), ("23800138000", None, "start with 13 to 19"),
    ("138001380OO", None, "digits only"),
]


@pytest.mark.parametrize(("cell", "stored", "message"), PHONE_CASES, ids=[str(c[0]) for c in PHONE_CASES])
def test_phones(taikang, import_day, cell, stored, message):
    result = run(xlsx_bytes([HEADER, ["张三", "", cell, "朱口村", "2027-01-25"]]), taikang.manager)
    if message is None:
        assert not result.errors
        assert ReturningResident.objects.get().phone == stored
    else:
        (error,) = result.errors
        assert (error["row"], error["column"]) == (2, "联系电话") and message in error["message"], error


DATE_CASES = [
    (date(2027, 1, 25), date(2027, 1, 25), None),
    (46412.0, date(2027, 1, 25), None),  # an Excel serial number
    ("2027年1月25日", date(2027, 1, 25), None), ("2027.1.25", date(2027, 1, 25), None),
    ("2027/1/25", date(2027, 1, 25), None), ("2027-01-25", date(2027, 1, 25), None),
    ("1月25日", date(2027, 1, 25), None), ("12月30日", date(2026, 12, 30), None),  # December: the year before
    ("腊月二十六", date(2027, 2, 2), None), ("腊月廿六", date(2027, 2, 2), None), ("除夕", date(2027, 2, 5), None),
    ("正月初三", date(2027, 2, 8), None),
    ("2月30日", None, "no such day in the calendar"), ("下周回来", None, "cannot be read"),
    ("腊月四十", None, "day of this lunar date"),
    ("2027-09-01", None, "days from the coming Lunar New Year (2027-02-06)"),  # outside the sane window
    ("2026-01-25", None, "Check the year"),
]


@pytest.mark.parametrize(("cell", "stored", "message"), DATE_CASES, ids=[str(c[0]) for c in DATE_CASES])
def test_arrival_dates(taikang, import_day, cell, stored, message):
    result = run(xlsx_bytes([HEADER, ["张三", "", "13800000001", "朱口村", cell]]), taikang.manager)
    if message is None:
        assert not result.errors
        assert ReturningResident.objects.get().arrival_date == stored
    else:
        (error,) = result.errors
        assert (error["row"], error["column"]) == (2, "返乡日期") and message in error["message"], error


def test_a_departure_before_the_arrival_or_outside_the_window_is_rejected(taikang, import_day):
    rows = [HEADER, ["甲", "", "13800000001", "朱口村", "2027-01-25", "2027-01-20"],
            ["乙", "", "13800000002", "朱口村", "2027-01-25", "2027-01-25"],
            ["丙", "", "13800000003", "朱口村", "2027-01-25", "2027-08-20"],
            ["丁", "", "13800000004", "朱口村", "腊月二十", "正月初十"]]
    result = run(xlsx_bytes(rows), taikang.manager)
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "返程日期"), (3, "返程日期"), (4, "返程日期")]
    assert "after the arrival date" in result.errors[0]["message"]
    assert "days from the coming Lunar New Year" in result.errors[2]["message"]
    assert result.counts["new"] == 1 and not ReturningResident.objects.exists()


@pytest.mark.parametrize(("cell", "stored", "message"), [
    (None, 1, None), (3, 3, None), ("3人", 3, None), ("５", 5, None), (50, 50, None),
    (0, None, "at least 1"), (51, None, "More than 50 persons"), ("几个", None, "whole number"),
])
def test_persons(taikang, import_day, cell, stored, message):
    result = run(xlsx_bytes([HEADER, ["张三", "", "13800000001", "朱口村", "2027-01-25", None, cell]]),
                 taikang.manager)
    if message is None:
        assert not result.errors
        assert ReturningResident.objects.get().persons == stored
    else:
        (error,) = result.errors
        assert (error["row"], error["column"]) == (2, "返乡人数") and message in error["message"], error


@pytest.mark.parametrize(("cell", "stored"), [
    ("电暖器", "electric_heater"), ("小太阳", "electric_heater"), ("空调", "air_conditioner"),
    ("电热毯", "electric_blanket"), ("空气能", "heat_pump"), ("烧煤", "coal"), ("天然气", "gas"), ("无", "none"),
    ("火炕", "other"), (None, ""),
])
def test_heating(taikang, import_day, cell, stored):
    result = run(xlsx_bytes([HEADER, ["张三", "", "13800000001", "朱口村", "2027-01-25", None, 1, cell]]),
                 taikang.manager)
    assert not result.errors
    assert ReturningResident.objects.get().heating == stored


# --- Headers ---------------------------------------------------------------------------------

def test_every_header_synonym_of_the_domain_guide_is_understood(taikang, import_day):
    synonyms = {
        "account_no": ["户号", "用电户号"], "head_name": ["户名", "户主姓名", "户主"], "name": ["姓名", "返乡人员姓名"],
        "id_number": ["身份证号", "身份证号码", "公民身份号码"], "phone": ["联系电话", "手机号", "手机号码", "电话"],
        "village": ["村", "村名", "所在村", "村(组)", "行政村"], "workplace": ["务工地", "外出地点", "工作地"],
        "persons": ["返乡人数", "人数"],
        "arrival_date": ["返乡日期", "返乡时间", "预计返乡日期", "到家时间"],
        "departure_date": ["返程日期", "返程时间", "预计返程日期", "离乡时间"], "heating": ["取暖方式", "采暖方式"],
        "extra_load": ["新增用电", "大功率电器", "经营负荷"], "note": ["备注"],
    }
    lookup = get_kind("residents").header_lookup()
    from zhoukou_grid.core.importing.headers import normalise_header

    for key, headers in synonyms.items():
        for header in headers:
            assert lookup[normalise_header(header)] == key, header
    # Spaces, full-width brackets and line breaks inside a header are taken in too.
    for header in ("村（组）", "返乡\n日期", " 身份证 号码 ", "返乡人数(人)"):
        assert normalise_header(header) in lookup, header


def test_title_rows_a_second_header_line_a_number_column_blank_and_total_rows(taikang, import_day):
    rows = [
        ["朱口镇2027年春节返乡人员登记表"],
        ["制表：朱口村委会"],
        ["序号", "户主", "返乡人员信息", None, None, "所在村", "返乡时间", "人数"],
        [None, None, "姓名", "身份证号码", "手机号", None, None, None],
        [1, "董华", "卢红", GOOD_ID, "17948454719", "朱口村一组", "2027-02-01", 2],
        [None, None, None, None, None, None, None, None],
        [2, "常文", "唐宇刚", "411627197305174311", "17471677825", "后常营村", "腊月二十八", 1],
        ["合计", None, None, None, None, None, None, 3],
    ]
    result = run(xlsx_bytes(rows), taikang.manager)
    assert not result.errors and result.counts["new"] == 2
    # 返乡人员信息 stands over 姓名 of the second line, which takes its column.
    assert result.header_row == 3 and result.ignored_columns == ["序号"]
    lu = ReturningResident.objects.get(name="卢红")
    assert (lu.id_number, lu.phone, lu.head_name, lu.household) == (
        GOOD_ID, "17948454719", "董华", taikang.households["董华"])


def test_a_note_line_under_the_header_is_skipped(taikang, import_day):
    rows = [HEADER, ["必填", "选填", "（11位手机号）", "必填", "例：2027-01-25", "", "", ""],
            ["张三", "", "13800000001", "朱口村", "2027-01-25"]]
    result = run(xlsx_bytes(rows), taikang.manager)
    assert not result.errors and result.counts["new"] == 1


def test_a_file_without_the_required_columns_says_which(taikang, import_day):
    from zhoukou_grid.core.importing.reader import SpreadsheetError

    with pytest.raises(SpreadsheetError) as error:
        run(xlsx_bytes([["姓名", "联系电话", "村"], ["张三", "13800000001", "朱口村"]]), taikang.manager)
    assert "返乡日期" in error.value.message


# --- Villages and households -----------------------------------------------------------------

def test_villages_by_name_group_or_code_only_inside_the_users_territory(taikang, import_day):
    rows = [HEADER + ["村编码"],
            ["甲", "", "13800000001", "朱口村三组", "2027-01-25"],
            ["乙", "", "13800000002", "后常营村(二组)", "2027-01-25"],
            ["丙", "", "13800000003", "411627108202", "2027-01-25"],
            ["丁", "", "13800000004", "随便写的", "2027-01-25", None, None, None, "411627108201"],
            ["戊", "", "13800000005", "小王庄村", "2027-01-25"],
            ["己", "", "13800000006", "", "2027-01-25", None, None, None, "411627108203"],
            ["庚", "", "13800000007", "", "2027-01-25"]]
    result = run(xlsx_bytes(rows), taikang.manager)
    assert [(e["row"], e["column"]) for e in result.errors] == [(6, "村"), (7, "村编码"), (8, "村")]
    assert "Fill in one of" in result.errors[2]["message"]
    assert result.counts["new"] == 4
    run(xlsx_bytes(rows[:5]), taikang.manager)
    got = {r.name: (r.village.name, r.village_group) for r in ReturningResident.objects.select_related("village")}
    assert got == {"甲": ("朱口村", "三组"), "乙": ("后常营村", "二组"), "丙": ("后常营村", ""), "丁": ("朱口村", "")}


def test_a_village_name_in_two_places_of_the_territory_asks_for_the_code(taikang, import_day):
    VillageFactory(grid=taikang.other_grid, code="411627108299", name="朱口村")
    result = run(xlsx_bytes([HEADER, ["甲", "", "13800000001", "朱口村", "2027-01-25"]]), taikang.admin)
    assert "Several villages of your territory have this name" in result.errors[0]["message"]
    # The grid manager of 朱口一网格 sees one 朱口村 only.
    assert not run(xlsx_bytes([HEADER, ["甲", "", "13800000001", "朱口村", "2027-01-25"]]), taikang.manager).errors


def test_households_by_account_else_by_village_and_head_else_unlinked(taikang, import_day):
    twin = [HouseholdFactory(village=taikang.zhukou, transformer=taikang.transformer, name="王伟") for _ in range(2)]
    outside = HouseholdFactory(village=taikang.xiaowang, name="李四")
    header = ["户号", "户主姓名", "姓名", "联系电话", "村", "返乡日期"]
    rows = [header,
            ["4116270000002", "随便", "甲", "13800000001", "朱口村", "2027-01-25"],  # account (in 后常营村)
            ["", "董华", "乙", "13800000002", "朱口村", "2027-01-25"],  # village + head
            ["9999999999", "董华", "丙", "13800000003", "朱口村", "2027-01-25"],  # unknown account: head decides
            ["", "王伟", "丁", "13800000004", "朱口村", "2027-01-25"],  # two households: unlinked
            [outside.account_no, "", "戊", "13800000005", "朱口村", "2027-01-25"],  # another grid's account
            ["", "董华", "己", "13800000006", "后常营村", "2027-01-25"]]  # no 董华 in 后常营村
    result = run(xlsx_bytes(rows, text_columns=[0]), taikang.manager)
    assert not result.errors and result.counts["unlinked"] == 3
    linked = dict(ReturningResident.objects.values_list("name", "household_id"))
    assert linked == {"甲": taikang.households["常文"].pk, "乙": taikang.households["董华"].pk,
                      "丙": taikang.households["董华"].pk, "丁": None, "戊": None, "己": None}
    assert twin  # (both exist)


def test_household_matching_is_one_query_per_batch(taikang, import_day):
    header = ["户号", "户主姓名", "姓名", "联系电话", "村", "返乡日期"]
    small = [header] + [["", "董华", f"人{i}", f"138{i:08d}", "朱口村", "2027-01-25"] for i in range(3)]
    big = [header] + [["", "董华", f"人{i}", f"138{i:08d}", "朱口村", "2027-01-25"] for i in range(300)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run(xlsx_bytes(small), taikang.manager, dry_run=True)  # the territory, computed once per user
    counts = []
    for rows in (small, big):
        with CaptureQueriesContext(connection) as queries:
            run(xlsx_bytes(rows), taikang.manager, dry_run=True)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- Keys: duplicates in the file, re-imports ---------------------------------------------------

def test_duplicates_in_the_file_are_reported_with_both_row_numbers(taikang, import_day):
    rows = [HEADER,
            ["甲", GOOD_ID, "13800000001", "朱口村", "2027-01-25"],
            ["乙", "", "13800000002", "朱口村", "2027-01-25"],
            ["甲", GOOD_ID, "13800000009", "朱口村", "2027-01-26"],
            ["乙", "", "13800000002", "后常营村", "2027-01-25"],
            ["丙", "", "", "朱口村", "2027-01-25"],
            ["丙", "", "", "朱口村一组", "2027-01-27"],
            ["丙", "", "", "后常营村", "2027-01-27"]]
    result = run(xlsx_bytes(rows), taikang.manager)
    got = [(e["row"], e["column"], e["message"].split(" of the file")[0]) for e in result.errors]
    assert got == [
        (2, "身份证号", "The same ID number appears in rows 2, 4"),
        (3, "联系电话", "The same name and phone appear in rows 3, 5"),
        (4, "身份证号", "The same ID number appears in rows 2, 4"),
        (5, "联系电话", "The same name and phone appear in rows 3, 5"),
        (6, "姓名", "The same name, village and account appear in rows 6, 7"),
        (7, "姓名", "The same name, village and account appear in rows 6, 7"),
    ]
    assert result.counts["new"] == 1  # 丙 of 后常营村 is another person


def test_reimporting_the_same_list_changes_nothing_and_an_updated_list_updates(taikang, import_day):
    rows = [HEADER, ["甲", GOOD_ID, "13800000001", "朱口村", "2027-01-25", None, 2, "空调"],
            ["乙", "", "13800000002", "朱口村", "2027-01-26"], ["丙", "", "", "后常营村", "2027-01-27"]]
    first = run(xlsx_bytes(rows), taikang.manager)
    assert first.counts["new"] == 3
    jia = ReturningResident.objects.get(name="甲")
    ReturningResident.objects.filter(pk=jia.pk).update(status="arrived")  # marked during a visit
    same = run(xlsx_bytes(rows), taikang.manager)
    assert same.counts == {"new": 0, "updated": 0, "unchanged": 3, "rejected": 0, "unlinked": 3}
    updated_rows = [HEADER, ["甲", GOOD_ID, "13800000001", "朱口村", "2027-01-28", None, 3, "空调"], *rows[2:]]
    updated = run(xlsx_bytes(updated_rows), taikang.manager)
    assert updated.counts["updated"] == 1 and updated.counts["unchanged"] == 2
    jia.refresh_from_db()
    assert (jia.arrival_date, jia.persons, jia.status) == (date(2027, 1, 28), 3, "arrived")
    assert jia.import_job_id == ImportJob.objects.order_by("-created_at").first().pk
    assert ReturningResident.objects.count() == 3


def key(**values) -> str:
    """The match key the import stores (HMACs in place of the numbers)."""
    return ReturningResident.build_match_key(**values)


def test_an_id_number_or_phone_added_later_updates_the_person_instead_of_duplicating(taikang, import_day):
    run(xlsx_bytes([HEADER, ["乙", "", "13800000002", "朱口村", "2027-01-26"],
                    ["丙", "", "", "后常营村", "2027-01-27"]]), taikang.manager)
    later = run(xlsx_bytes([HEADER, ["乙", GOOD_ID, "13800000002", "朱口村", "2027-01-26"],
                            ["丙", "", "13900000003", "后常营村", "2027-01-28"]]), taikang.manager)
    assert later.counts["updated"] == 2 and later.counts["new"] == 0
    assert sorted(ReturningResident.objects.values_list("name", "match_key")) == [
        ("丙", key(name="丙", phone="13900000003")), ("乙", key(name="乙", id_number=GOOD_ID))]


def test_a_household_linked_by_hand_stays_linked_when_the_list_matches_none(taikang, import_day):
    rows = [HEADER, ["甲", GOOD_ID, "13800000001", "朱口村", "2027-01-25"]]
    run(xlsx_bytes(rows), taikang.manager)
    ReturningResident.objects.update(household=taikang.households["董华"])
    again = run(xlsx_bytes(rows), taikang.manager)
    assert again.counts["unchanged"] == 1 and again.counts["unlinked"] == 0
    assert ReturningResident.objects.get().household == taikang.households["董华"]


def test_a_person_listed_outside_the_territory_is_never_changed_and_is_listed_here_too(taikang, import_day):
    # Refusing the row would tell the grid manager that the number is listed elsewhere
    # (docs/security.md, "Existence oracles"; tests/imports/test_residents_oracle.py).
    ReturningResidentFactory(village=taikang.xiaowang, name="甲", id_number=GOOD_ID,
                             match_key=key(name="甲", id_number=GOOD_ID))
    before = list(ReturningResident.objects.values())
    result = run(xlsx_bytes([HEADER, ["甲", GOOD_ID, "13800000001", "朱口村", "2027-01-25"]]), taikang.manager)
    assert not result.errors and result.counts["new"] == 1
    assert list(ReturningResident.objects.filter(village=taikang.xiaowang).values()) == before
    assert ReturningResident.objects.get(village=taikang.zhukou).match_key == key(name="甲", id_number=GOOD_ID)


def test_a_grid_manager_imports_for_their_villages_and_the_command_writes_one_audit_row(taikang, import_day):
    result = run(csv_bytes([HEADER, ["甲", "", "13800000001", "朱口村", "2027-01-25"]], encoding="gb18030"),
                 taikang.manager, name="list.csv")
    assert result.written
    job = ImportJob.objects.get()
    audit = AuditLog.objects.get(action="import")
    assert audit.object_id == str(job.pk) and audit.detail["new"] == 1
    assert GOOD_ID not in str(audit.detail) and "13800000001" not in str(audit.detail)


def test_the_import_day_is_the_one_pinned(import_day):
    assert IMPORT_DAY == date(2026, 12, 10)
