"""The one resident create/update service (customers.services) the API and the import share."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from customers.models import ReturningResident
from customers.services import resident_create, resident_date_problems, resident_update
from tests.factories import ReturningResidentFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db
ARRIVAL = dt.date(2027, 1, 30)


def test_create_keys_the_entry_links_the_household_and_writes_its_audit_row(grid_manager, world):
    a1 = world.grids["a1"]
    household = a1.households[0]
    resident = resident_create(user=grid_manager, village_id=a1.village.pk, name="孙明", arrival_date=ARRIVAL,
                               household_id=household.pk, id_number="11010519491231002X", phone="13811112222")
    assert resident.account_no == household.account_no and resident.source == ReturningResident.Source.MANUAL
    assert resident.match_key == ReturningResident.build_match_key(name="孙明", id_number="11010519491231002X")
    audit = AuditLog.objects.get(action="resident.created", object_id=str(resident.pk))
    assert "11010519491231002X" not in str(audit.detail) and "id_number" in audit.detail["fields"]


def test_create_outside_the_territory_is_missing_and_needs_the_verb(grid_manager, world, django_user_model):
    with pytest.raises(Http404):
        resident_create(user=grid_manager, village_id=world.grids["b1"].village.pk, name="外人", arrival_date=ARRIVAL)
    nobody = django_user_model.objects.create_user("nobody")
    with pytest.raises(PermissionDenied):
        resident_create(user=nobody, village_id=world.grids["a1"].village.pk, name="外人", arrival_date=ARRIVAL)
    assert not ReturningResident.objects.exists()


def test_the_rules_are_checked_on_create_and_on_update(county_admin, world):
    a1, a2 = world.grids["a1"], world.grids["a2"]
    with pytest.raises(ValidationError) as refused:
        resident_create(user=county_admin, village_id=a1.village.pk, name="早走", arrival_date=ARRIVAL,
                        departure_date=ARRIVAL - dt.timedelta(days=1), household_id=a2.households[0].pk)
    assert set(refused.value.message_dict) == {"departure_date", "household"}
    resident = resident_create(user=county_admin, village_id=a1.village.pk, name="甲", arrival_date=ARRIVAL)
    with pytest.raises(ValidationError) as refused:
        resident_update(user=county_admin, resident_id=resident.pk, departure_date=ARRIVAL)
    assert set(refused.value.message_dict) == {"departure_date"}
    resident = resident_update(user=county_admin, resident_id=resident.pk, persons=3, note="已确认")
    assert (resident.persons, resident.note) == (3, "已确认")
    assert AuditLog.objects.get(action="resident.updated").detail == {"fields": ["note", "persons"]}


def test_a_duplicate_is_refused_on_create_and_update(grid_manager, world):
    village = world.grids["a1"].village
    # Listed with the ID number under a weaker key (before the number was known): still the same person.
    ReturningResidentFactory(village=village, name="甲", id_number="11010519491231002X")
    with pytest.raises(ValidationError) as refused:
        resident_create(user=grid_manager, village_id=village.pk, name="甲二", arrival_date=ARRIVAL,
                        id_number="11010519491231002X")
    assert "non_field_errors" in refused.value.message_dict
    other = resident_create(user=grid_manager, village_id=village.pk, name="乙", arrival_date=ARRIVAL)
    with pytest.raises(ValidationError):
        resident_update(user=grid_manager, resident_id=other.pk, id_number="11010519491231002X")


def test_the_import_window_applies_only_with_an_import_day():
    far = dt.date(2027, 9, 1)
    assert resident_date_problems(arrival=far, departure=None) == []
    ((field, message),) = resident_date_problems(arrival=far, departure=None, import_day=dt.date(2026, 12, 10))
    assert field == "arrival_date" and "2027-02-06" in message
