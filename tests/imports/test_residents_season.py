"""`import_data residents FILE --season YEAR` (docs/import-formats.md): last season's list is
read against that season's New Year and matched within that season only, so last season's and this
season's lists of a village coexist; dates of another season are refused with the row and column, a
year the calendar lacks is refused, and nothing is written on either refusal."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes
from tests.imports.residents_world import IMPORT_DAY  # noqa: F401  (the fixtures below pin it)
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind

pytestmark = pytest.mark.django_db
HEADER = ["姓名", "联系电话", "村", "返乡日期", "返程日期"]


def _file(tmp_path, rows):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes([HEADER, *rows]))
    return str(path)


def _command(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_data", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_last_seasons_list_is_read_against_its_own_new_year(taikang, import_day, tmp_path):
    # Season 2026: New Year 2026-02-17, so 腊月二十六 is 2026-02-13 and 1月25日 is 2026-01-25.
    path = _file(tmp_path, [["甲", "13800000001", "朱口村", "腊月二十六", "正月初八"],
                            ["乙", "13800000002", "朱口村", "1月25日", ""]])
    code, out, err = _command("residents", path, "--as", taikang.manager.username, "--season", "2026")
    assert code == 0, out + err
    by_name = {r.name: r for r in ReturningResident.objects.all()}
    assert by_name["甲"].arrival_date == date(2026, 2, 13)
    assert by_name["甲"].departure_date == date(2026, 2, 24)
    assert by_name["乙"].arrival_date == date(2026, 1, 25)


def test_without_season_the_same_list_is_the_coming_season(taikang, import_day):
    result = import_file(kind=get_kind("residents"), data=csv_bytes([HEADER, ["甲", "13800000001", "朱口村",
                                                                              "腊月二十六", ""]]),
                         file_name="l.csv", user=taikang.manager)
    assert result.written and ReturningResident.objects.get().arrival_date == date(2027, 2, 2)


def test_dates_of_another_season_are_refused_with_row_and_column(taikang, import_day, tmp_path):
    path = _file(tmp_path, [["甲", "13800000001", "朱口村", "2026-02-13", ""],
                            ["乙", "13800000002", "朱口村", "2027-02-02", ""]])
    code, out, _err = _command("residents", path, "--as", taikang.manager.username, "--season", "2026")
    assert code == 1
    # 350 days from the chosen season's New Year: beyond the 120 days a list may span.
    assert "row 3, column 返乡日期" in out and "Lunar New Year (2026-02-17)" in out
    assert "row 2" not in out
    assert not ReturningResident.objects.exists()


@pytest.mark.parametrize("season", ["1850", "2100"])
def test_a_season_missing_from_the_calendar_is_refused(taikang, import_day, tmp_path, season):
    path = _file(tmp_path, [["甲", "13800000001", "朱口村", "2026-02-13", ""]])
    code, _out, err = _command("residents", path, "--as", taikang.manager.username, "--season", season)
    assert code == 2 and "has no Lunar New Year in the calendar" in err
    assert not ReturningResident.objects.exists()


def test_season_is_for_residents_only(taikang, import_day, tmp_path):
    path = _file(tmp_path, [["甲", "13800000001", "朱口村", "2026-02-13", ""]])
    code, _out, err = _command("villages", path, "--season", "2026")
    assert code == 2 and "returning residents lists only" in err


def _by_season():
    return {(r.name, r.season): r for r in ReturningResident.objects.all()}


def test_last_seasons_list_and_this_seasons_coexist_and_never_touch_each_other(taikang, import_day, tmp_path):
    """A village sends a list every season with mostly the same people: each season's list is
    matched within its own season (docs/domain.md §6.7), through the real import."""
    this = _file(tmp_path, [["甲", "13800000001", "朱口村", "腊月二十六", ""],
                            ["丙", "13800000003", "朱口村", "腊月二十", ""]])
    assert _command("residents", this, "--as", taikang.manager.username)[0] == 0
    last = tmp_path / "last.csv"
    last.write_bytes(csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", "正月初六"],
                                ["乙", "13800000002", "朱口村", "腊月二十", ""]]))
    code, out, _err = _command("residents", str(last), "--as", taikang.manager.username, "--season", "2026")
    assert code == 0, out
    assert "2 new, 0 updated, 0 unchanged" in out  # 甲 of 2027 is not matched by 甲 of 2026
    rows = _by_season()
    assert set(rows) == {("甲", 2027), ("丙", 2027), ("甲", 2026), ("乙", 2026)}
    assert rows["甲", 2027].arrival_date == date(2027, 2, 2) and rows["甲", 2027].departure_date is None
    assert rows["甲", 2026].arrival_date == date(2026, 2, 13)
    assert rows["甲", 2026].departure_date == date(2026, 2, 22)
    this_season = {r.pk: (r.updated_at, r.import_job_id) for r in ReturningResident.objects.filter(season=2027)}

    # Last season's list again, one date corrected: only last season's entry changes.
    last.write_bytes(csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", "正月初七"],
                                ["乙", "13800000002", "朱口村", "腊月二十", ""]]))
    code, out, _err = _command("residents", str(last), "--as", taikang.manager.username, "--season", "2026")
    assert code == 0 and "0 new, 1 updated, 1 unchanged" in out, out
    assert ReturningResident.objects.get(name="甲", season=2026).departure_date == date(2026, 2, 23)
    assert {r.pk: (r.updated_at, r.import_job_id)
            for r in ReturningResident.objects.filter(season=2027)} == this_season

    # This season's list again, with 乙 added: last season's entries are not touched either.
    last_season = {r.pk: (r.updated_at, r.import_job_id, r.departure_date)
                   for r in ReturningResident.objects.filter(season=2026)}
    again = tmp_path / "again.csv"
    again.write_bytes(csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", "正月初十"],
                                 ["乙", "13800000002", "朱口村", "腊月二十二", ""]]))
    code, out, _err = _command("residents", str(again), "--as", taikang.manager.username)
    assert code == 0 and "1 new, 1 updated, 0 unchanged" in out, out
    assert {r.pk: (r.updated_at, r.import_job_id, r.departure_date)
            for r in ReturningResident.objects.filter(season=2026)} == last_season
    assert ReturningResident.objects.get(name="甲", season=2027).departure_date == date(2027, 2, 15)
    assert ReturningResident.objects.filter(name="乙").count() == 2


def test_a_person_added_under_a_stronger_key_updates_only_the_entry_of_the_same_season(taikang, import_day,
                                                                                      tmp_path):
    """The weaker-key match (the ID number added since) looks within the list's season only."""
    header = ["姓名", "联系电话", "身份证号", "村", "返乡日期"]
    first = tmp_path / "first.csv"
    first.write_bytes(csv_bytes([header, ["甲", "13800000001", "", "朱口村", "腊月二十六"]]))
    assert _command("residents", str(first), "--as", taikang.manager.username, "--season", "2026")[0] == 0
    with_id = tmp_path / "with_id.csv"
    with_id.write_bytes(csv_bytes([header, ["甲", "13800000001", "11010519491231002X", "朱口村", "腊月二十六"]]))
    code, out, _err = _command("residents", str(with_id), "--as", taikang.manager.username)
    assert code == 0 and "1 new, 0 updated" in out, out  # this season: a new entry
    assert ReturningResident.objects.get(season=2026).id_number_hmac == ""
    code, out, _err = _command("residents", str(with_id), "--as", taikang.manager.username, "--season", "2026")
    assert code == 0 and "0 new, 1 updated" in out, out  # last season: its own entry gains the ID
    assert ReturningResident.objects.filter(season=2026).count() == 1
    assert ReturningResident.objects.get(season=2026).id_number_hmac != ""
