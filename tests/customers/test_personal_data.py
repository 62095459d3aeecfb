"""Personal data: masked for everyone, revealed one value at a time, each reveal audited."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from customers.models import ReturningResident
from customers.personal_data import UnknownPersonalField, masked, resident_masked, resident_reveal, tel_url
from tests.factories import ReturningResidentFactory, UserFactory
from zhoukou_grid.core.models import AuditLog

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def resident(world):
    return ReturningResidentFactory(village=world.grids["a1"].village, phone=PHONE, id_number=ID_NUMBER,
                                    match_key=ReturningResident.build_match_key(name="", id_number=ID_NUMBER))


def test_masks_keep_only_the_ends():
    assert masked(PHONE, "phone") == "138****5678"
    assert masked(ID_NUMBER, "id_number") == "110105********002X"
    assert masked("", "phone") == ""


def test_resident_masked_reads_the_field(resident):
    assert resident_masked(resident, "phone") == "138****5678"
    assert resident_masked(resident, "id_number") == "110105********002X"


def test_it_reveals_one_value_and_writes_an_audit_row(grid_manager, resident):
    value = resident_reveal(user=grid_manager, resident_id=resident.pk, field="phone")
    assert value == PHONE
    row = AuditLog.objects.get(action="resident.revealed")
    assert row.user == grid_manager
    assert row.object_type == "returningresident" and row.object_id == str(resident.pk)
    assert row.detail == {"field": "phone"}
    assert row.created_at is not None


def test_the_audit_row_never_holds_the_value(grid_manager, resident):
    resident_reveal(user=grid_manager, resident_id=resident.pk, field="id_number")
    row = AuditLog.objects.get(action="resident.revealed")
    assert ID_NUMBER not in str(row.detail) and ID_NUMBER not in row.object_id


def test_each_reveal_is_audited(station_staff, resident):
    for field in ("phone", "id_number", "phone"):
        resident_reveal(user=station_staff, resident_id=resident.pk, field=field)
    fields = list(AuditLog.objects.filter(action="resident.revealed").order_by("pk").values_list("detail", flat=True))
    assert fields == [{"field": "phone"}, {"field": "id_number"}, {"field": "phone"}]


def test_it_refuses_a_user_without_the_permission(world, resident):
    viewer = UserFactory(username="no_verbs")
    with pytest.raises(PermissionDenied):
        resident_reveal(user=viewer, resident_id=resident.pk, field="phone")
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


def test_a_resident_outside_the_territory_is_missing(outsider, resident):
    with pytest.raises(Http404):
        resident_reveal(user=outsider, resident_id=resident.pk, field="phone")
    with pytest.raises(Http404):
        resident_reveal(user=outsider, resident_id=987654, field="phone")
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


def test_it_refuses_fields_that_are_not_personal_data(grid_manager, resident):
    with pytest.raises(UnknownPersonalField):
        resident_reveal(user=grid_manager, resident_id=resident.pk, field="name")


def test_no_value_reaches_the_logs(grid_manager, resident, caplog):
    with caplog.at_level(logging.DEBUG):
        resident_reveal(user=grid_manager, resident_id=resident.pk, field="phone")
    assert PHONE not in caplog.text


def test_tel_url():
    assert tel_url(PHONE) == f"tel:{PHONE}"
    assert tel_url("") == ""
