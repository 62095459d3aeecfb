"""Personal data at rest after a residents import: no plaintext ID or phone number in any
column of the table (read with raw SQL), tokens under the current key, matching and
re-imports by HMAC, masked search, and exports decrypting only for roles that may see."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory
from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core import crypto
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "身份证号", "联系电话", "村", "返乡日期"]
IDS = ["411627196503253526", "11010519491231002X"]
PHONES = ["13800000001", "13912345678", "15055556666"]


def run(rows, user):
    return import_file(kind=get_kind("residents"), data=xlsx_bytes([HEADER, *rows]), file_name="list.xlsx",
                       user=user)


def raw_table() -> tuple[list[str], list[tuple]]:
    """Every column of every resident row, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ReturningResident._meta.db_table}")
        return [column[0] for column in cursor.description], cursor.fetchall()


def rows_of_the_list():
    return [["甲", IDS[0], PHONES[0], "朱口村", "2027-01-25"],
            ["乙", "11010519491231002x", "139-1234-5678", "朱口村", "2027-01-26"],  # normalised: X, digits
            ["丙", "", PHONES[2], "后常营村", "2027-01-27"]]


def test_no_plaintext_id_or_phone_number_is_left_in_the_table_after_an_import(taikang, import_day):
    result = run(rows_of_the_list(), taikang.manager)
    assert result.counts["new"] == 3
    columns, rows = raw_table()
    assert "id_number" not in columns and "phone" not in columns
    cells = [str(cell) for row in rows for cell in row if cell is not None]
    for number in [*IDS, *PHONES]:
        assert not any(number in cell for cell in cells), number
    # The masked forms keep the area code and the last four digits, no more.
    jia = ReturningResident.objects.get(name="甲")
    assert (jia.id_number_masked, jia.phone_masked) == ("411627********3526", "138****0001")
    assert jia.id_number_enc.startswith(crypto.keyring().current_kid + ":")
    # An audited reveal or a permitted export decrypts; the model property does it for one value.
    assert (jia.id_number, jia.phone) == (IDS[0], PHONES[0])
    yi = ReturningResident.objects.get(name="乙")
    assert (yi.id_number, yi.phone) == (IDS[1], PHONES[1])


def test_equal_numbers_give_equal_hmacs_but_different_tokens(taikang, import_day):
    run([["甲", IDS[0], PHONES[0], "朱口村", "2027-01-25"]], taikang.manager)
    other = ReturningResidentFactory(village=taikang.houchangying, name="丁", phone=PHONES[0])
    jia = ReturningResident.objects.get(name="甲")
    assert jia.phone_hmac == other.phone_hmac != ""
    assert jia.phone_enc != other.phone_enc
    assert jia.phone_hmac == crypto.hmac_digest(crypto._hmac_key(), PHONES[0], purpose="phone")


def test_a_reimport_matches_by_hmac_and_writes_no_new_token_for_unchanged_rows(taikang, import_day):
    run(rows_of_the_list(), taikang.manager)
    tokens = dict(ReturningResident.objects.values_list("name", "id_number_enc"))
    again = run(rows_of_the_list(), taikang.manager)
    assert again.counts == {**again.counts, "new": 0, "updated": 0, "unchanged": 3}
    assert dict(ReturningResident.objects.values_list("name", "id_number_enc")) == tokens
    changed = rows_of_the_list()
    changed[0][2] = "13700000009"  # a new phone for 甲 (keyed by the ID): updated, re-encrypted
    third = run(changed, taikang.manager)
    assert (third.counts["new"], third.counts["updated"], third.counts["unchanged"]) == (0, 1, 2)
    jia = ReturningResident.objects.get(name="甲")
    assert (jia.phone, jia.phone_masked) == ("13700000009", "137****0009")
    assert ReturningResident.objects.count() == 3


def test_the_same_id_number_twice_in_a_file_is_found_by_its_hmac(taikang, import_day):
    result = run([["甲", IDS[1], "", "朱口村", "2027-01-25"],
                  ["甲", "11010519491231002x", "", "朱口村", "2027-01-26"]], taikang.manager)
    assert result.counts["rejected"] == 2
    assert all("same ID number" in error["message"] for error in result.errors)


def test_the_database_refuses_two_entries_with_the_same_id_number(taikang):
    ReturningResidentFactory(village=taikang.zhukou, name="甲", id_number=IDS[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturningResidentFactory(village=taikang.zhukou, name="乙", id_number=IDS[0])
    # Entries without an ID number are not constrained.
    ReturningResidentFactory(village=taikang.zhukou, name="丙", id_number="")
    ReturningResidentFactory(village=taikang.zhukou, name="丁", id_number="")


def test_search_by_the_last_four_digits_of_the_phone_uses_the_stored_masked_form(taikang, import_day, client):
    run(rows_of_the_list(), taikang.manager)
    client.force_login(taikang.manager)
    response = client.get("/api/v1/residents/", {"phone_last4": "5678"})
    assert response.status_code == 200
    body = response.json()
    results = body["results"] if isinstance(body, dict) else body
    assert [(r["name"], r["phone"]) for r in results] == [("乙", "139****5678")]


def test_an_export_decrypts_for_a_role_that_may_see_personal_data_and_masks_otherwise(taikang, import_day):
    from django.db.models import BooleanField, Value

    run(rows_of_the_list(), taikang.manager)
    kind = get_kind("residents")
    queryset = kind.export_queryset(taikang.manager)  # grid managers may see the numbers
    full = {row["name"]: (row["id_number"], row["phone"]) for row in kind.export_rows(queryset)}
    assert full["甲"] == (IDS[0], PHONES[0]) and full["乙"] == (IDS[1], PHONES[1]) and full["丙"] == ("", PHONES[2])
    without = queryset.annotate(_reveal=Value(False, output_field=BooleanField()))
    masked = {row["name"]: (row["id_number"], row["phone"]) for row in kind.export_rows(without)}
    assert masked["甲"] == ("411627********3526", "138****0001") and masked["丙"] == ("", "150****6666")


def test_errors_kept_with_the_import_job_quote_personal_cells_masked(taikang, import_day):
    from zhoukou_grid.core.models import ImportJob

    bad_checksum = IDS[0][:-1] + "7"
    rows = [["甲", IDS[1], PHONES[0], "朱口村", "2027-01-25"],
            ["乙", IDS[1], PHONES[1], "朱口村", "2027-01-26"],  # the same ID twice
            ["丙", bad_checksum, "1380000", "朱口村", "2027-01-27"],
            ["丁", "", PHONES[2], "朱口村", "2027-01-28"]]
    result = import_file(kind=get_kind("residents"), data=xlsx_bytes([HEADER, *rows]), file_name="list.xlsx",
                         user=taikang.manager, skip_invalid=True)  # the valid row written, a job recorded
    values = {(error["row"], error["column"]): error["value"] for error in result.errors}
    assert values[(2, "身份证号")] == values[(3, "身份证号")] == "110105********002X"
    assert values[(4, "身份证号")] == "411627********3527" and values[(4, "联系电话")] == "****"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ImportJob._meta.db_table}")
        stored = repr(cursor.fetchall())
    assert ImportJob.objects.get().errors and result.counts["new"] == 1
    for number in (IDS[1], bad_checksum, "1380000"):
        assert number not in stored
