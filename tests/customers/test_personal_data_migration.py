"""The migrations that encrypt the residents' ID and phone numbers already stored
(customers 0006-0008), forwards and back, on the database the tests run on (SQLite or
PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers.models import ReturningResident
from tests.factories import VillageFactory

BEFORE = [("customers", "0005_keycustomer_24h_contact_plan_phone_note")]
AFTER = [("customers", "0008_resident_drop_plaintext_personal_data")]
TABLE = ReturningResident._meta.db_table


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def raw_rows() -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TABLE} ORDER BY id")
        return [column[0] for column in cursor.description], cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_encrypted_their_keys_rewritten_and_the_plaintext_columns_dropped():
    village = VillageFactory()
    migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model(
            "customers", "ReturningResident")
        people = [  # (name, ID, phone, match key as the old code built it)
            ("甲", "11010519491231002X", "13800000001", "id:11010519491231002X"),
            ("乙", "", "13912345678", "np:乙|13912345678"),
            ("丙", "", "", f"nv:丙|{village.pk}|"),
        ]
        for name, id_number, phone, key in people:
            old.objects.create(village_id=village.pk, name=name, id_number=id_number, phone=phone, match_key=key,
                               arrival_date=date(2027, 1, 25))
        migrate(AFTER)
        columns, rows = raw_rows()
        assert "id_number" not in columns and "phone" not in columns
        cells = [str(cell) for row in rows for cell in row if cell is not None]
        for secret in ("11010519491231002X", "13800000001", "13912345678"):
            assert not any(secret in cell for cell in cells)
        by_name = {r.name: r for r in ReturningResident.objects.all()}
        jia, yi, bing = by_name["甲"], by_name["乙"], by_name["丙"]
        assert (jia.id_number, jia.phone, jia.id_number_masked, jia.phone_masked) == (
            "11010519491231002X", "13800000001", "110105********002X", "138****0001")
        assert jia.match_key == ReturningResident.build_match_key(name="甲", id_number="11010519491231002X")
        assert yi.match_key == ReturningResident.build_match_key(name="乙", phone="13912345678")
        assert (yi.id_number_enc, yi.id_number_hmac) == ("", "")
        assert bing.match_key == f"nv:丙|{village.pk}|" and bing.phone_enc == ""
        # And back: the numbers and the old keys return (a rollback of a failed deploy).
        migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT name, id_number, phone, match_key FROM {TABLE} ORDER BY name")
            assert sorted(cursor.fetchall()) == sorted(people)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
