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
        # Read through today's models: the later migrations add columns they read (the season).
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
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


@pytest.mark.django_db(transaction=True)
def test_key_customer_and_plan_phones_are_encrypted_and_their_plaintext_columns_dropped():
    from customers.models import KeyCustomer, ServicePlan, personal_index
    from tests.factories import GridFactory

    before = [("customers", "0008_resident_drop_plaintext_personal_data")]
    # From 0012 on the plaintext columns are gone; the checks read through today's models, so
    # "after" is the app's latest migration (later ones add columns those models read).
    after = [node for node in MigrationExecutor(connection).loader.graph.leaf_nodes() if node[0] == "customers"]
    grid = GridFactory()
    migrate(before)
    try:
        state = MigrationExecutor(connection).loader.project_state(before).apps
        old_customer, old_plan = state.get_model("customers", "KeyCustomer"), state.get_model("customers", "ServicePlan")
        school = old_customer.objects.create(account_no="4127000001", name="学校", category="school", grid_id=grid.pk,
                                             contact_phone="13812345678", contact_24h_phone="0394-5512345")
        old_customer.objects.create(account_no="4127000002", name="水厂", category="water", grid_id=grid.pk)
        old_plan.objects.create(customer_id=school.pk, version=1, responsible_phone="13700001111")
        migrate(after)
        for model in (KeyCustomer, ServicePlan):
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {model._meta.db_table}")
                columns = [column[0] for column in cursor.description]
                cells = [str(cell) for row in cursor.fetchall() for cell in row if cell is not None]
            assert not {"contact_phone", "contact_24h_phone", "responsible_phone"} & set(columns)
            for secret in ("13812345678", "5512345", "13700001111"):
                assert not any(secret in cell for cell in cells)
        customer, empty = KeyCustomer.objects.order_by("account_no")
        assert (customer.contact_phone, customer.contact_phone_masked) == ("13812345678", "138****5678")
        assert (customer.contact_24h_phone, customer.contact_24h_phone_masked) == ("0394-5512345", "0394****345")
        assert customer.contact_24h_phone_hmac == personal_index("phone", "03945512345")
        assert (empty.contact_phone_enc, empty.contact_phone_hmac, empty.contact_phone_masked) == ("", "", "")
        plan = ServicePlan.objects.get()
        assert (plan.responsible_phone, plan.responsible_phone_masked) == ("13700001111", "137****1111")
        # And back: the plaintext columns return with their numbers.
        migrate(before)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT account_no, contact_phone, contact_24h_phone FROM {KeyCustomer._meta.db_table} "
                           f"ORDER BY account_no")
            assert cursor.fetchall() == [("4127000001", "13812345678", "0394-5512345"), ("4127000002", "", "")]
            cursor.execute(f"SELECT responsible_phone FROM {ServicePlan._meta.db_table}")
            assert cursor.fetchall() == [("13700001111",)]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
