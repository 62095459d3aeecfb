"""The residents import never tells whether an ID number is listed outside the user's
territory (docs/security.md, "Existence oracles"): an ID listed in another grid's village
answers exactly like one listed nowhere; within one village a duplicate is still refused."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from customers.models import ReturningResident
from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "联系电话", "村", "返乡日期"]
LISTED_ELSEWHERE = "411627196503253526"
NEVER_SEEN = "11010519491231002X"
TERRITORY_WORDS = ("territory", "管辖", "小王庄", "outside", "之外")


def run(rows, user, **options):
    return import_file(kind=get_kind("residents"), data=xlsx_bytes([HEADER, *rows]), file_name="list.xlsx",
                       user=user, **options)


def command(tmp_path, rows, username):
    path = tmp_path / "list.xlsx"
    path.write_bytes(xlsx_bytes([HEADER, *rows]))
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_data", "residents", str(path), "--as", username, "--dry-run", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def listed_elsewhere(taikang, import_day):
    """小王庄村 (the other grid) lists the person first, through its own manager's import."""
    result = run([["卢红", LISTED_ELSEWHERE, "13800000009", "小王庄村", "2027-01-25"]], taikang.other_manager)
    assert result.written
    return ReturningResident.objects.get()


def test_an_id_listed_in_another_grid_answers_like_one_listed_nowhere(taikang, listed_elsewhere, tmp_path):
    seen = command(tmp_path, [["卢红", LISTED_ELSEWHERE, "13800000001", "朱口村", "2027-01-25"]],
                   taikang.manager.username)
    unseen = command(tmp_path, [["卢红", NEVER_SEEN, "13800000001", "朱口村", "2027-01-25"]],
                     taikang.manager.username)
    assert seen == unseen and seen[0] == 0
    assert not any(word in seen[1] for word in TERRITORY_WORDS), seen[1]


def test_the_person_is_listed_in_both_villages_and_the_other_entry_is_untouched(taikang, listed_elsewhere):
    before = ReturningResident.objects.filter(pk=listed_elsewhere.pk).values().get()
    result = run([["卢红", LISTED_ELSEWHERE, "13800000001", "朱口村", "2027-01-28"]], taikang.manager)
    assert result.written and not result.errors and result.counts["new"] == 1
    assert ReturningResident.objects.filter(pk=listed_elsewhere.pk).values().get() == before
    mine = ReturningResident.objects.get(village=taikang.zhukou)
    assert mine.id_number_hmac == listed_elsewhere.id_number_hmac and mine.phone == "13800000001"
    # Imported again: the village's own entry is updated, never the other village's.
    again = run([["卢红", LISTED_ELSEWHERE, "13800000001", "朱口村", "2027-01-29"]], taikang.manager)
    assert again.counts == {**again.counts, "new": 0, "updated": 1}
    assert ReturningResident.objects.filter(pk=listed_elsewhere.pk).values().get() == before


def test_within_one_village_the_same_id_twice_is_refused_with_the_row_numbers(taikang, import_day):
    result = run([["卢红", LISTED_ELSEWHERE, "13800000001", "朱口村", "2027-01-25"],
                  ["张三", NEVER_SEEN, "13800000002", "朱口村", "2027-01-25"],
                  ["卢红", LISTED_ELSEWHERE, "13800000003", "朱口村", "2027-01-26"]], taikang.manager)
    assert [(error["row"], error["column"]) for error in result.errors] == [(2, "身份证号"), (4, "身份证号")]
    assert all("rows 2, 4" in error["message"] for error in result.errors)
    assert not result.written and not ReturningResident.objects.exists()
