"""Rotating the keys of personal data at rest (docs/personal-data.md): a new encryption key
with the old one kept, re-encryption by `rotate_personal_data_keys` (resumable,
idempotent), removing the old key, and the HMAC key's rotation keeping matching working."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.core.management import CommandError, call_command

from customers import personal_data
from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory, VillageFactory
from zhoukou_grid.core import crypto
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db


def new_key(kid: str) -> tuple[str, bytes]:
    return kid, os.urandom(32)


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_personal_data_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def residents(db):
    village = VillageFactory()
    people = [ReturningResidentFactory(village=village, name=f"人{n}", phone=f"1380000{n:04d}", id_number=number,
                                       match_key=ReturningResident.build_match_key(
                                           name=f"人{n}", id_number=number, phone=f"1380000{n:04d}"))
              for n, number in enumerate(["411627196503253526", "11010519491231002X", "", ""])]
    return {person.pk: (person.id_number, person.phone) for person in people}


def decrypted(pk: int) -> tuple[str, str]:
    resident = ReturningResident.objects.get(pk=pk)
    return resident.id_number, resident.phone


def test_a_new_current_key_encrypts_new_values_and_old_rows_still_decrypt(settings, residents):
    old = settings.PERSONAL_DATA_KEYS
    settings.PERSONAL_DATA_KEYS = [new_key("k2027"), *old]
    for pk, values in residents.items():
        assert decrypted(pk) == values
    fresh = ReturningResidentFactory(name="新", phone="13911112222")
    assert fresh.phone_enc.startswith("k2027:")
    assert personal_data.rows_under_old_keys() == len(residents)


def test_rotation_re_encrypts_every_row_under_the_current_key_then_the_old_key_can_go(settings, residents):
    old = settings.PERSONAL_DATA_KEYS
    current = new_key("k2027")
    settings.PERSONAL_DATA_KEYS = [current, *old]
    output = rotate("--batch-size", "3")
    assert "re-encrypted 4 residents under key k2027" in output and "may now be removed" in output
    for resident in ReturningResident.objects.all():
        assert resident.phone_enc.startswith("k2027:")
        assert resident.id_number_enc == "" or resident.id_number_enc.startswith("k2027:")
    settings.PERSONAL_DATA_KEYS = [current]  # the old key removed
    for pk, values in residents.items():
        assert decrypted(pk) == values
    audit = AuditLog.objects.get(action="personal_data.keys_rotated")
    assert audit.detail == {"reencrypted": 4, "current_key": "k2027", "left_under_old_keys": 0}
    assert "1380000" not in str(audit.detail)
    # A second run finds nothing to do (idempotent).
    assert "re-encrypted 0 residents" in rotate()


def test_an_interrupted_rotation_resumes_where_it_stopped(settings, residents, monkeypatch):
    settings.PERSONAL_DATA_KEYS = [new_key("k2027"), *settings.PERSONAL_DATA_KEYS]
    batches = []

    def stop_after_first_batch(done):
        batches.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        personal_data.rotate_encryption_keys(batch_size=2, on_batch=stop_after_first_batch)
    assert batches == [2] and personal_data.rows_under_old_keys() == 2  # the first batch is committed
    assert personal_data.rotate_encryption_keys(batch_size=2) == 2
    assert personal_data.rows_under_old_keys() == 0
    for pk, values in residents.items():
        assert decrypted(pk) == values


def test_a_missing_old_key_stops_the_rotation_with_a_clear_message(settings, residents):
    settings.PERSONAL_DATA_KEYS = [new_key("k2027")]  # the old key forgotten
    with pytest.raises(CommandError, match="PERSONAL_DATA_KEYS"):
        rotate()


def test_hmac_rotation_recomputes_hmacs_and_match_keys_and_matching_keeps_working(settings, residents):
    before = {r.pk: (r.match_key, r.id_number_hmac, r.phone_hmac) for r in ReturningResident.objects.all()}
    old_hmac_key = settings.PERSONAL_DATA_HMAC_KEY
    with pytest.raises(CommandError, match="PERSONAL_DATA_HMAC_KEY_PREVIOUS"):
        rotate("--hmac")
    settings.PERSONAL_DATA_HMAC_KEY = os.urandom(32)
    settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS = old_hmac_key
    assert "checked 4, recomputed 4, under neither key before 0" in rotate("--hmac", "--batch-size", "3")
    for resident in ReturningResident.objects.all():
        old_key, old_id_hmac, old_phone_hmac = before[resident.pk]
        id_number, phone = residents[resident.pk]
        assert resident.phone_hmac == crypto.blind_index(phone, purpose="phone") != old_phone_hmac
        assert resident.id_number_hmac == crypto.blind_index(id_number, purpose="id_number")
        assert resident.match_key == ReturningResident.build_match_key(
            name=resident.name, id_number=id_number, phone=phone) != old_key
    # Matching: the same person built under the new key finds the stored entry.
    pk, (id_number, phone) = next((pk, values) for pk, values in residents.items() if values[0])
    assert ReturningResident.objects.get(
        match_key=ReturningResident.build_match_key(name="", id_number=id_number)).pk == pk
    assert "checked 4, recomputed 0" in rotate("--hmac")  # idempotent
    assert AuditLog.objects.filter(action="personal_data.hmac_rotated").count() == 2


def test_an_import_after_the_hmac_rotation_updates_instead_of_duplicating(settings, client):
    from tests.imports.conftest import xlsx_bytes
    from zhoukou_grid.core.importing.service import import_file
    from zhoukou_grid.core.importing.spec import get_kind

    village = VillageFactory(name="朱口村")
    rows = [["姓名", "身份证号", "联系电话", "村", "返乡日期"], ["甲", "411627196503253526", "13800000001", "朱口村",
                                                         "2027-01-25"],
            ["乙", "", "13800000002", "朱口村", "2027-01-26"]]

    def run():
        return import_file(kind=get_kind("residents"), data=xlsx_bytes(rows), file_name="l.xlsx", user=None)

    assert run().counts["new"] == 2
    settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS = settings.PERSONAL_DATA_HMAC_KEY
    settings.PERSONAL_DATA_HMAC_KEY = base64.b64decode(base64.b64encode(os.urandom(32)))
    rotate("--hmac")
    again = run()
    assert (again.counts["new"], again.counts["unchanged"]) == (0, 2)
    assert ReturningResident.objects.filter(village=village).count() == 2


def test_rotation_re_encrypts_the_key_customers_and_plans_phones_too(settings, world, grid_manager):
    from customers.models import KeyCustomer, ServicePlan
    from tests.factories import KeyCustomerFactory

    customer = KeyCustomerFactory(grid=world.grids["a1"].grid, contact_phone="13812345678",
                                  contact_24h_phone="0394-5512345")
    ServicePlan.objects.create(customer=customer, version=1, responsible_phone="13700001111")
    old_hmac = KeyCustomer.objects.get().contact_phone_hmac
    settings.PERSONAL_DATA_KEYS = [new_key("k2027"), *settings.PERSONAL_DATA_KEYS]
    assert personal_data.contact_rows_under_old_keys() == 2
    assert "re-encrypted 2 key customers and plans; left under older keys: 0" in rotate()
    customer = KeyCustomer.objects.get()
    plan = ServicePlan.objects.get()
    assert customer.contact_phone_enc.startswith("k2027:") and customer.contact_24h_phone_enc.startswith("k2027:")
    assert plan.responsible_phone_enc.startswith("k2027:")
    settings.PERSONAL_DATA_KEYS = settings.PERSONAL_DATA_KEYS[:1]  # the old key removed
    assert (customer.contact_phone, customer.contact_24h_phone, plan.responsible_phone) == (
        "13812345678", "0394-5512345", "13700001111")
    audit = AuditLog.objects.get(action="personal_data.contact_phone_keys_rotated")
    assert audit.detail == {"reencrypted": 2, "current_key": "k2027", "left_under_old_keys": 0}
    # The HMAC key's rotation recomputes their HMACs as well.
    settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS = settings.PERSONAL_DATA_HMAC_KEY
    settings.PERSONAL_DATA_HMAC_KEY = os.urandom(32)
    assert "phone HMACs: checked 2, recomputed 2" in rotate("--hmac")
    customer = KeyCustomer.objects.get()
    assert customer.contact_phone_hmac == crypto.blind_index("13812345678", purpose="phone") != old_hmac
    assert customer.contact_24h_phone_hmac == crypto.blind_index("03945512345", purpose="phone")
