"""Writes through the API: verbs by role, territory of targets and of foreign keys, audit."""

from __future__ import annotations

import pytest

from customers.models import Household
from tests.factories import RoleAssignmentFactory
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import County, Grid, Role, Station, Village

pytestmark = pytest.mark.django_db


def test_county_admin_creates_a_station_in_their_county(api, personas, world):
    response = api(personas.county_admin).post(
        "/api/v1/stations/", {"code": "JA-GDS-09", "name": "甲九所", "county": "411601"}, format="json"
    )
    assert response.status_code == 201, response.content
    station = Station.objects.get(code="JA-GDS-09")
    assert station.county == world.county_a
    assert response.json()["county_name"] == "周口甲县"
    audit = AuditLog.objects.get(action="api.create", object_type="zhoukou_grid.station")
    assert audit.user == personas.county_admin
    assert audit.object_id == str(station.pk)
    assert audit.detail == {"fields": ["code", "county", "name"]}


def test_county_admin_cannot_create_in_another_county(api, personas, world):
    response = api(personas.county_admin).post(
        "/api/v1/stations/", {"code": "YI-GDS-09", "name": "乙九所", "county": "411602"}, format="json"
    )
    assert response.status_code == 400
    assert "county" in response.json()
    # A code outside the territory is answered like a code nobody has.
    missing = api(personas.county_admin).post(
        "/api/v1/stations/", {"code": "YI-GDS-09", "name": "乙九所", "county": "999999"}, format="json"
    )
    assert missing.json()["county"][0].replace("999999", "X") == response.json()["county"][0].replace("411602", "X")
    assert not Station.objects.filter(code="YI-GDS-09").exists()
    assert not AuditLog.objects.exists()


def test_county_admin_updates_inside_their_county(api, personas, world):
    transformer = world.grids["a3"].transformer
    response = api(personas.county_admin).patch(
        f"/api/v1/transformers/{transformer.pk}/",
        {"rated_kva": 400, "ties": [world.grids["a1"].transformer.code]},
        format="json",
    )
    assert response.status_code == 200, response.content
    transformer.refresh_from_db()
    assert transformer.rated_kva == 400
    assert list(transformer.ties.values_list("code", flat=True)) == [world.grids["a1"].transformer.code]
    assert AuditLog.objects.filter(action="api.update", object_id=str(transformer.pk)).count() == 1


def test_county_admin_cannot_update_an_object_of_another_county(api, personas, world):
    other = world.grids["b1"].village
    response = api(personas.county_admin).patch(f"/api/v1/villages/{other.pk}/", {"name": "改名"}, format="json")
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.name != "改名"
    assert api(personas.county_admin).delete(f"/api/v1/villages/{other.pk}/").status_code == 404
    assert Village.objects.filter(pk=other.pk).exists()


def test_county_admin_cannot_move_an_object_into_another_county(api, personas, world):
    grid = world.grids["a2"].grid
    response = api(personas.county_admin).patch(
        f"/api/v1/grids/{grid.pk}/", {"station": world.station_b1.code}, format="json"
    )
    assert response.status_code == 400
    assert "station" in response.json()
    grid.refresh_from_db()
    assert grid.station == world.station_a1


def test_tying_a_transformer_of_another_county_is_refused(api, personas, world):
    transformer = world.grids["a1"].transformer
    response = api(personas.county_admin).patch(
        f"/api/v1/transformers/{transformer.pk}/", {"ties": [world.grids["b1"].transformer.code]}, format="json"
    )
    assert response.status_code == 400
    assert "ties" in response.json()
    assert not transformer.ties.exists()


def test_a_transformer_cannot_be_tied_to_itself(api, personas, world):
    transformer = world.grids["a1"].transformer
    response = api(personas.county_admin).patch(
        f"/api/v1/transformers/{transformer.pk}/", {"ties": [transformer.code]}, format="json"
    )
    assert response.status_code == 400
    assert "ties" in response.json()


def test_county_admin_creates_a_household_with_codes(api, personas, world):
    part = world.grids["a2"]
    payload = {
        "account_no": "4110000000123", "name": "王建国", "village": part.village.code,
        "transformer": part.transformer.code, "line": part.line.code, "phase": "B",
    }
    response = api(personas.county_admin).post("/api/v1/households/", payload, format="json")
    assert response.status_code == 201, response.content
    household = Household.objects.get(account_no="4110000000123")
    assert (household.village, household.transformer, household.line) == (part.village, part.transformer, part.line)
    assert response.json()["grid"] == part.grid.code


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account_no": "12345"}, "account_no"),
        ({"account_no": "41100000001X"}, "account_no"),
        ({"phase": "D"}, "phase"),
        ({"village": "NO-SUCH-VILLAGE"}, "village"),
    ],
)
def test_invalid_household_is_refused_with_a_message_per_field(api, personas, world, change, field):
    part = world.grids["a2"]
    payload = {"account_no": "4110000000123", "name": "王建国", "village": part.village.code,
               "transformer": part.transformer.code, **change}
    response = api(personas.county_admin).post("/api/v1/households/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Household.objects.filter(name="王建国").exists()


def test_duplicate_account_number_is_refused(api, personas, world):
    part = world.grids["a2"]
    payload = {"account_no": part.households[0].account_no, "name": "重复", "village": part.village.code,
               "transformer": part.transformer.code}
    response = api(personas.county_admin).post("/api/v1/households/", payload, format="json")
    assert response.status_code == 400
    assert "account_no" in response.json()


def test_a_line_of_another_transformer_is_refused(api, personas, world):
    household = world.grids["a2"].households[0]
    response = api(personas.county_admin).patch(
        f"/api/v1/households/{household.pk}/", {"line": world.grids["a3"].line.code}, format="json"
    )
    assert response.status_code == 400
    assert "line" in response.json()


def test_household_of_another_county_cannot_be_linked_to_by_village(api, personas, world):
    household = world.grids["a1"].households[0]
    response = api(personas.county_admin).patch(
        f"/api/v1/households/{household.pk}/", {"village": world.grids["b1"].village.code}, format="json"
    )
    assert response.status_code == 400
    household.refresh_from_db()
    assert household.village == world.grids["a1"].village


def test_delete_writes_an_audit_row(api, personas, world):
    village = Village.objects.create(grid=world.grids["a1"].grid, code="411627999001", name="新村")
    response = api(personas.county_admin).delete(f"/api/v1/villages/{village.pk}/")
    assert response.status_code == 204
    assert not Village.objects.filter(pk=village.pk).exists()
    audit = AuditLog.objects.get(action="api.delete")
    assert (audit.object_type, audit.object_id) == ("zhoukou_grid.village", str(village.pk))


def test_delete_of_an_object_still_referred_to_is_a_conflict(api, personas, world):
    village = world.grids["a1"].village
    response = api(personas.county_admin).delete(f"/api/v1/villages/{village.pk}/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Village.objects.filter(pk=village.pk).exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("persona", ["station_staff", "grid_manager"])
def test_roles_without_change_verbs_are_refused_writes(api, personas, world, persona):
    client = api(getattr(personas, persona))
    household = world.grids["a1"].households[0]
    assert client.patch(f"/api/v1/households/{household.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/households/{household.pk}/").status_code == 403
    response = client.post("/api/v1/villages/", {"code": "1", "name": "x", "grid": "JA-WG-01"}, format="json")
    assert response.status_code == 403
    household.refresh_from_db()
    assert household.name != "x"


def test_county_admin_cannot_change_counties_but_company_admin_can(api, personas, world):
    county = world.county_a
    assert api(personas.county_admin).patch(
        f"/api/v1/counties/{county.pk}/", {"name": "改"}, format="json"
    ).status_code == 403
    assert api(personas.county_admin).post(
        "/api/v1/counties/", {"code": "411699", "name": "新县"}, format="json"
    ).status_code == 403
    response = api(personas.company_admin).post("/api/v1/counties/", {"code": "411699", "name": "新县"}, format="json")
    assert response.status_code == 201
    assert County.objects.filter(code="411699").exists()


def test_context_ancestors_are_neither_changed_nor_write_targets(api, personas, world):
    """A county admin of 乙县 who also manages grid 甲一 sees 甲一所 as context only."""
    user = personas.outsider
    RoleAssignmentFactory(user=user, role=Role.COUNTY_ADMIN, county=world.county_b)
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    client = api(user)
    assert client.get(f"/api/v1/stations/{world.station_a1.pk}/").status_code == 200
    assert client.patch(f"/api/v1/stations/{world.station_a1.pk}/", {"name": "改"}, format="json").status_code == 404
    # ... and cannot be the parent of a new grid either.
    response = client.post("/api/v1/grids/", {"code": "JA-WG-77", "name": "x", "station": "JA-GDS-01"}, format="json")
    assert response.status_code == 400
    assert not Grid.objects.filter(code="JA-WG-77").exists()
    # Inside the county they administer, the same user writes freely.
    response = client.post("/api/v1/grids/", {"code": "YI-WG-77", "name": "乙七", "station": "YI-GDS-01"}, format="json")
    assert response.status_code == 201
    assert Grid.objects.get(code="YI-WG-77").station == world.station_b1
