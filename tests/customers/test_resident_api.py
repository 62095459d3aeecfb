"""The residents API: scoped, masked, writable by codes, status actions and audited reveals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory, RoleAssignmentFactory, UserFactory
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role

URL = "/api/v1/residents/"
Status = ReturningResident.Status


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def make(grid, name, phone, **extra):
    extra.setdefault("arrival_date", dt.date(2027, 1, 28))
    extra.setdefault("match_key", ReturningResident.build_match_key(
        name=name, id_number=extra.get("id_number", ""), phone=phone, village_id=grid.village.pk))
    return ReturningResidentFactory(village=grid.village, name=name, phone=phone, **extra)


@pytest.fixture
def zhang(world):
    a1 = world.grids["a1"]
    return make(a1, "张伟", "13800001111", id_number="11010519491231002X", household=a1.households[0])


@pytest.fixture
def liu(world):
    return make(world.grids["b1"], "刘洋", "13500005555")


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def test_each_persona_lists_only_their_residents(personas, zhang, liu, world):
    wang = make(world.grids["a3"], "王芳", "13700003333")
    assert ids(api(personas.grid_manager).get(URL)) == {zhang.pk}
    assert ids(api(personas.station_staff).get(URL)) == {zhang.pk}
    assert ids(api(personas.county_admin).get(URL)) == {zhang.pk, wang.pk}
    assert ids(api(personas.outsider).get(URL)) == {liu.pk}
    assert api(personas.nobody).get(URL).status_code == 403


def test_list_and_detail_answer_masked_numbers(personas, zhang, world):
    client = api(personas.grid_manager)
    row = client.get(URL).json()["results"][0]
    assert row["phone"] == "138****1111" and row["id_number"] == "110105********002X"
    assert row["village"] == world.grids["a1"].village.code
    assert row["household"] == world.grids["a1"].households[0].account_no
    assert row["transformer"] == world.grids["a1"].transformer.code
    detail = client.get(f"{URL}{zhang.pk}/")
    assert "13800001111" not in detail.content.decode() and "11010519491231002X" not in detail.content.decode()


def test_an_outsider_gets_404(personas, zhang):
    client = api(personas.outsider)
    assert client.get(f"{URL}{zhang.pk}/").status_code == 404
    assert client.patch(f"{URL}{zhang.pk}/", {"persons": 2}, format="json").status_code == 404
    assert client.post(f"{URL}{zhang.pk}/reveal/", {"field": "phone"}, format="json").status_code == 404


def test_filters_arrival_range_and_phone_last4(personas, world, zhang):
    a1 = world.grids["a1"]
    li = make(a1, "李娜", "13900002222", arrival_date=dt.date(2027, 2, 2))
    client = api(personas.grid_manager)
    assert ids(client.get(URL, {"arrival_from": "2027-02-01"})) == {li.pk}
    assert ids(client.get(URL, {"arrival_to": "2027-01-30"})) == {zhang.pk}
    assert ids(client.get(URL, {"phone_last4": "2222"})) == {li.pk}
    assert ids(client.get(URL, {"q": "1111"})) == {zhang.pk}


def test_the_list_has_a_pinned_query_count(personas, world, zhang):
    client = api(personas.grid_manager)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    a1 = world.grids["a1"]
    for number in range(25):
        make(a1, f"加{number}", f"1331000{number:04d}", household=a1.households[number % 2])
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    # session, user, role assignments (roles and territory), the grid's station and county
    # (territory), count, page. No permission query: the roles answer every permission.
    assert len(many) == len(few) == 6, [q["sql"][:120] for q in many.captured_queries]


def test_create_with_village_code_and_household_account(personas, world):
    a1 = world.grids["a1"]
    household = a1.households[1]
    response = api(personas.grid_manager).post(URL, {
        "name": "孙明", "village": a1.village.code, "household": household.account_no,
        "phone": "138-1111-2222", "id_number": "11010519491231002x", "arrival_date": "2027-01-30",
        "persons": 3, "heating": "heat_pump",
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "138****2222" and body["id_number"] == "110105********002X"
    resident = ReturningResident.objects.get(pk=body["id"])
    assert resident.phone == "13811112222" and resident.id_number == "11010519491231002X"
    assert resident.household == household and resident.account_no == household.account_no
    assert resident.source == ReturningResident.Source.MANUAL
    # Keyed by the ID number's HMAC, never the number itself.
    assert resident.match_key == ReturningResident.build_match_key(name="孙明", id_number="11010519491231002X")
    assert "11010519491231002X" not in resident.match_key
    assert AuditLog.objects.filter(action="api.create", object_id=str(resident.pk)).exists()


def test_create_refuses_codes_outside_the_territory_and_bad_numbers(personas, world):
    b1, a1 = world.grids["b1"], world.grids["a1"]
    client = api(personas.grid_manager)
    response = client.post(URL, {"name": "外人", "village": b1.village.code, "arrival_date": "2027-01-30"},
                           format="json")
    assert response.status_code == 400 and "village" in response.json()
    response = client.post(URL, {"name": "外户", "village": a1.village.code, "household": b1.households[0].account_no,
                                 "arrival_date": "2027-01-30"}, format="json")
    assert response.status_code == 400 and "household" in response.json()
    response = client.post(URL, {"name": "错号", "village": a1.village.code, "phone": "12345",
                                 "id_number": "110105194912310021", "arrival_date": "2027-01-30"}, format="json")
    assert response.status_code == 400 and {"phone", "id_number"} <= set(response.json())
    response = client.post(URL, {"name": "早走", "village": a1.village.code, "arrival_date": "2027-01-30",
                                 "departure_date": "2027-01-29"}, format="json")
    assert response.status_code == 400 and "departure_date" in response.json()
    # An arrival the Lunar New Year calendar does not hold has no season: refused, not a 500.
    for day in ("0001-01-01", "2100-01-01"):
        response = client.post(URL, {"name": "远年", "village": a1.village.code, "arrival_date": day}, format="json")
        assert response.status_code == 400 and "arrival_date" in response.json(), response.content
    assert not ReturningResident.objects.exists()


def test_household_of_another_village_is_refused(personas, world, zhang):
    a2 = world.grids["a2"]
    response = api(personas.station_staff).patch(f"{URL}{zhang.pk}/", {"household": a2.households[0].account_no},
                                                 format="json")
    assert response.status_code == 400 and "household" in response.json()


def test_a_duplicate_is_refused(personas, world, zhang):
    response = api(personas.grid_manager).post(URL, {
        "name": "张伟二", "village": world.grids["a1"].village.code, "id_number": zhang.id_number,
        "arrival_date": "2027-01-30"}, format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()


def test_update_keeps_a_number_sent_back_masked(personas, zhang):
    client = api(personas.grid_manager)
    body = client.get(f"{URL}{zhang.pk}/").json()
    body.update(persons=4, note="已电话确认")
    for read_only in ("id", "village_name", "grid", "transformer", "status", "page_url"):
        body.pop(read_only)
    response = client.put(f"{URL}{zhang.pk}/", body, format="json")
    assert response.status_code == 200, response.json()
    zhang.refresh_from_db()
    assert zhang.persons == 4 and zhang.phone == "13800001111" and zhang.id_number == "11010519491231002X"


def test_status_is_not_written_by_an_update(personas, zhang):
    api(personas.grid_manager).patch(f"{URL}{zhang.pk}/", {"status": "departed"}, format="json")
    zhang.refresh_from_db()
    assert zhang.status == Status.EXPECTED


def test_mark_arrived_and_departed_in_bulk(personas, world, zhang):
    li = make(world.grids["a1"], "李娜", "13900002222")
    client = api(personas.grid_manager)
    response = client.post(f"{URL}mark-arrived/", {"ids": [zhang.pk, li.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"changed": 2}
    assert set(ReturningResident.objects.values_list("status", flat=True)) == {Status.ARRIVED}
    response = client.post(f"{URL}mark-departed/", {"ids": [li.pk]}, format="json")
    assert response.json() == {"changed": 1}
    li.refresh_from_db()
    assert li.status == Status.DEPARTED and li.departed_at is not None


def test_mark_arrived_with_an_id_outside_the_territory_is_404_and_changes_nothing(personas, zhang, liu):
    response = api(personas.grid_manager).post(f"{URL}mark-arrived/", {"ids": [zhang.pk, liu.pk]}, format="json")
    assert response.status_code == 404
    assert not ReturningResident.objects.filter(status=Status.ARRIVED).exists()


def test_mark_arrived_needs_ids(personas, zhang):
    response = api(personas.grid_manager).post(f"{URL}mark-arrived/", {"ids": []}, format="json")
    assert response.status_code == 400


def test_reveal_answers_the_full_value_and_is_audited(personas, zhang):
    response = api(personas.grid_manager).post(f"{URL}{zhang.pk}/reveal/", {"field": "phone"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"field": "phone", "value": "13800001111", "tel": "tel:13800001111"}
    assert response["Cache-Control"] == "no-store"
    audit = AuditLog.objects.get(action="resident.revealed")
    assert audit.user == personas.grid_manager and audit.detail == {"field": "phone"}
    response = api(personas.county_admin).post(f"{URL}{zhang.pk}/reveal/", {"field": "id_number"}, format="json")
    assert response.json()["value"] == "11010519491231002X" and response.json()["tel"] == ""


def test_reveal_refuses_other_fields(personas, zhang):
    response = api(personas.grid_manager).post(f"{URL}{zhang.pk}/reveal/", {"field": "name"}, format="json")
    assert response.status_code == 400
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


def test_reveal_needs_the_permission(world, zhang):
    from zhoukou_grid.core.scoping import ROLE_PERMISSIONS

    viewer = UserFactory(username="viewer")
    RoleAssignmentFactory(user=viewer, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    ROLE_PERMISSIONS[Role.GRID_MANAGER].discard("customers.view_personal_data")
    try:
        response = api(viewer).post(f"{URL}{zhang.pk}/reveal/", {"field": "phone"}, format="json")
    finally:
        ROLE_PERMISSIONS[Role.GRID_MANAGER].add("customers.view_personal_data")
    assert response.status_code == 403
    assert "13800001111" not in response.content.decode()
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


def test_residents_cannot_be_deleted_through_the_api(personas, zhang):
    assert api(personas.county_admin).delete(f"{URL}{zhang.pk}/").status_code == 405


# --- No existence oracle on the ID number (docs/security.md, "Existence oracles") ----------
def _strip(body: dict) -> dict:
    return {name: value for name, value in body.items()
            if name not in ("id", "created_at", "updated_at", "page_url", "id_number")}


def test_an_id_listed_in_another_territory_is_accepted_like_one_listed_nowhere(personas, world, liu):
    elsewhere = make(world.grids["b1"], "刘洋二", "13500006666", id_number="411627196503253526")
    client = api(personas.grid_manager)
    payload = {"name": "孙明", "village": world.grids["a1"].village.code, "arrival_date": "2027-01-30"}
    seen = client.post(URL, {**payload, "id_number": "411627196503253526"}, format="json")
    assert seen.status_code == 201, seen.json()
    ReturningResident.objects.filter(pk=seen.json()["id"]).delete()
    unseen = client.post(URL, {**payload, "id_number": "11010519491231002X"}, format="json")
    assert unseen.status_code == 201
    assert _strip(seen.json()) == _strip(unseen.json())
    elsewhere.refresh_from_db()
    assert elsewhere.village == world.grids["b1"].village and elsewhere.name == "刘洋二"


def test_patching_in_an_id_listed_in_another_territory_answers_like_one_listed_nowhere(personas, world, zhang):
    make(world.grids["b1"], "刘洋二", "13500006666", id_number="411627196503253526")
    client = api(personas.grid_manager)
    seen = client.patch(f"{URL}{zhang.pk}/", {"id_number": "411627196503253526"}, format="json")
    unseen = client.patch(f"{URL}{zhang.pk}/", {"id_number": "110105198001010016"}, format="json")
    assert seen.status_code == unseen.status_code == 200, (seen.json(), unseen.json())
    # Within the village the number is still one person's only.
    other = make(world.grids["a1"], "王五", "13900009999")
    same_village = client.patch(f"{URL}{other.pk}/", {"id_number": "110105198001010016"}, format="json")
    assert same_village.status_code == 400 and "non_field_errors" in same_village.json()


def test_the_possible_duplicate_filter_shows_one_person_in_two_villages_to_who_sees_both(personas, world, zhang):
    a2 = world.grids["a2"]
    twin = make(a2, "张伟", "13800002222", id_number="11010519491231002X")
    make(world.grids["b1"], "张伟", "13800003333", id_number="11010519491231002X")  # another county
    alone = make(a2, "李四", "13800004444", id_number="411627196503253526")
    flagged = ids(api(personas.county_admin).get(URL, {"possible_duplicate": "yes"}))
    assert flagged == {zhang.pk, twin.pk}
    assert alone.pk not in flagged
    body = api(personas.county_admin).get(f"{URL}{zhang.pk}/").json()
    assert body["possible_duplicate"] is True
    # The grid manager of 甲一 sees one of the entries only: nothing is flagged for them.
    assert ids(api(personas.grid_manager).get(URL, {"possible_duplicate": "yes"})) == set()
    assert api(personas.grid_manager).get(f"{URL}{zhang.pk}/").json()["possible_duplicate"] is False
