"""API of rounds and visits, per persona: reads scoped, writes through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import KeyCustomerFactory, RoleAssignmentFactory, UserFactory
from tests.visits.factories import RoundFactory, VisitFactory
from visits import services
from visits.models import Round, RoundTarget, Visit
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role

TODAY = timezone.localdate
ROUNDS = "/api/v1/rounds/"
VISITS = "/api/v1/visits/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_round(world, **overrides):
    data = {"name": "第二轮 2027年春节走访", "station": world.station_a1.code, "period_start": TODAY().isoformat(),
            "period_end": (TODAY() + timedelta(days=4)).isoformat(), "daily_capacity": 2,
            "holidays": [(TODAY() + timedelta(days=1)).isoformat()]}
    data.update(overrides)
    return data


def make_round(user, world, *, capacity=2):
    rnd = services.round_create(user=user, name="第二轮", station_id=world.station_a1.pk, period_start=TODAY(),
                                period_end=TODAY() + timedelta(days=4), daily_capacity=capacity)
    services.round_targets_build(user=user, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a1"].village.pk])
    return rnd


@pytest.fixture
def second_manager(world):
    user = UserFactory(username="second_manager")
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    return user


# --- Rounds -----------------------------------------------------------------------------

def test_station_staff_open_a_round(world, station_staff):
    response = api(station_staff).post(ROUNDS, new_round(world), format="json")
    assert response.status_code == 201, response.content
    rnd = Round.objects.get()
    assert response.json()["id"] == rnd.pk and response.json()["county"] == world.county_a.code
    assert rnd.holidays == [(TODAY() + timedelta(days=1)).isoformat()]
    assert AuditLog.objects.filter(action="round.created", object_id=str(rnd.pk)).exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"daily_capacity": 0}, "daily_capacity"),
    ({"period_end": (TODAY() - timedelta(days=1)).isoformat()}, "period_end"),
    ({"station": "YI-GDS-01"}, "station"),  # another county's station: as if it did not exist
])
def test_bad_rounds_are_refused_with_the_field_named(world, station_staff, overrides, field):
    response = api(station_staff).post(ROUNDS, new_round(world, **overrides), format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Round.objects.exists()


def test_grid_managers_read_their_stations_rounds_but_cannot_open_or_schedule(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world)
    other_station = RoundFactory(county=world.county_a, station=world.station_a2)
    client = api(grid_manager)
    ids = {row["id"] for row in client.get(ROUNDS).json()["results"]}
    assert ids == {rnd.pk} and other_station.pk not in ids
    assert client.get(f"{ROUNDS}{rnd.pk}/").status_code == 200
    assert client.post(ROUNDS, new_round(world), format="json").status_code == 403
    assert client.post(f"{ROUNDS}{rnd.pk}/schedule/").status_code == 403
    assert not Visit.objects.exists()


def test_an_outsider_gets_404_for_a_round(world, station_staff, outsider):
    rnd = make_round(station_staff, world)
    assert api(outsider).get(f"{ROUNDS}{rnd.pk}/").status_code == 404
    assert api(outsider).get(f"{ROUNDS}{rnd.pk}/targets/").status_code == 404
    assert api(outsider).get(ROUNDS).json()["results"] == []


def test_targets_are_added_and_listed(world, station_staff):
    rnd = make_round(station_staff, world)
    customer = KeyCustomerFactory(grid=world.grids["a2"].grid)
    client = api(station_staff)
    response = client.post(f"{ROUNDS}{rnd.pk}/add-targets/",
                           {"source": "upload", "account_numbers": [customer.account_no]}, format="json")
    assert response.json() == {"added": 1, "target_count": 2}
    rows = client.get(f"{ROUNDS}{rnd.pk}/targets/").json()["results"]
    assert {(row["target_type"], row["grid"]) for row in rows} == {("village", "JA-WG-01"), ("keycustomer", "JA-WG-02")}


def test_unknown_or_foreign_target_codes_are_refused(world, station_staff):
    rnd = make_round(station_staff, world)
    client = api(station_staff)
    response = client.post(f"{ROUNDS}{rnd.pk}/add-targets/",
                           {"source": "villages", "villages": [world.grids["b1"].village.code]}, format="json")
    assert response.status_code == 400 and "villages" in response.json()
    response = client.post(f"{ROUNDS}{rnd.pk}/add-targets/", {"source": "upload", "account_numbers": []},
                           format="json")
    assert response.status_code == 400
    assert rnd.targets.count() == 1


def test_schedule_plans_and_says_what_did_not_fit(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world)
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a2"].village.pk])  # no grid manager there
    body = api(station_staff).post(f"{ROUNDS}{rnd.pk}/schedule/").json()
    assert body["created"] == 1 and body["already_planned"] == 0
    assert [(u["grid"], u["reason"]) for u in body["unplaced"]] == [("JA-WG-02", "no_manager")]
    assert Visit.objects.get().grid_manager == grid_manager


def test_scheduling_without_targets_is_a_400(world, station_staff):
    rnd = services.round_create(user=station_staff, name="空", station_id=world.station_a1.pk,
                                period_start=TODAY(), period_end=TODAY(), daily_capacity=1)
    response = api(station_staff).post(f"{ROUNDS}{rnd.pk}/schedule/")
    assert response.status_code == 400 and response.json()["non_field_errors"]


def test_round_list_query_count_is_pinned(world, station_staff):
    make_round(station_staff, world)
    client = api(station_staff)
    client.get(ROUNDS)
    with CaptureQueriesContext(connection) as few:
        client.get(ROUNDS)
    for n in range(4):
        RoundFactory(county=world.county_a, station=world.station_a1, name=f"轮{n}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(ROUNDS).json()["count"] == 5
    assert len(many) == len(few)


# --- Visits -----------------------------------------------------------------------------

def test_visits_filter_by_date_status_manager_and_round(world, station_staff, grid_manager, second_manager):
    rnd = make_round(station_staff, world)
    mine = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, planned_date=TODAY(), round=rnd)
    theirs = VisitFactory(grid=world.grids["a1"].grid, grid_manager=second_manager,
                          planned_date=TODAY() + timedelta(days=1))
    client = api(station_staff)

    def ids(**params):
        return {row["id"] for row in client.get(VISITS, params).json()["results"]}

    assert ids() == {mine.pk, theirs.pk}
    assert ids(date=TODAY().isoformat()) == {mine.pk}
    assert ids(grid_manager="second_manager") == {theirs.pk}
    assert ids(round=rnd.pk) == {mine.pk}
    assert ids(status="done") == set()
    row = client.get(f"{VISITS}{mine.pk}/").json()
    assert (row["grid"], row["grid_manager"], row["target_type"]) == ("JA-WG-01", "grid_manager", "village")


def test_an_outsider_sees_no_visit_and_gets_404(world, grid_manager, outsider):
    visit = VisitFactory(grid=world.grids["a1"].grid)
    client = api(outsider)
    assert client.get(VISITS).json()["results"] == []
    assert client.get(f"{VISITS}{visit.pk}/").status_code == 404
    assert client.post(f"{VISITS}{visit.pk}/cancel/", {}, format="json").status_code == 404
    visit.refresh_from_db()
    assert visit.status == Visit.Status.PLANNED


def test_move_reassign_cancel_through_the_api(world, station_staff, grid_manager, second_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, planned_date=TODAY())
    client = api(station_staff)
    tomorrow = (TODAY() + timedelta(days=1)).isoformat()
    assert client.post(f"{VISITS}{visit.pk}/move/", {"planned_date": tomorrow}, format="json").json()[
        "planned_date"] == tomorrow
    response = client.post(f"{VISITS}{visit.pk}/reassign/", {"grid_manager": "second_manager"}, format="json")
    assert response.json()["grid_manager"] == "second_manager"
    response = client.post(f"{VISITS}{visit.pk}/reassign/", {"grid_manager": "outsider_nobody"}, format="json")
    assert response.status_code == 400 and "grid_manager" in response.json()
    assert client.post(f"{VISITS}{visit.pk}/cancel/", {"reason": "客户外出"}, format="json").json()[
        "status"] == "cancelled"
    response = client.post(f"{VISITS}{visit.pk}/move/", {"planned_date": tomorrow}, format="json")
    assert response.status_code == 400 and response.json()["non_field_errors"]


def test_moving_into_the_past_is_a_400(world, station_staff, grid_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, planned_date=TODAY())
    response = api(station_staff).post(f"{VISITS}{visit.pk}/move/",
                                       {"planned_date": (TODAY() - timedelta(days=1)).isoformat()}, format="json")
    assert response.status_code == 400 and "planned_date" in response.json()
    visit.refresh_from_db()
    assert visit.planned_date == TODAY()


def test_a_grid_manager_marks_a_visit_missed_and_it_is_planned_again(world, grid_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, planned_date=TODAY())
    client = api(grid_manager)
    assert client.post(f"{VISITS}{visit.pk}/missed/", {}, format="json").status_code == 400
    body = client.post(f"{VISITS}{visit.pk}/missed/", {"reason": "家中无人"}, format="json").json()
    assert body["visit"]["status"] == "missed"
    assert body["rescheduled_as"]["rescheduled_from"] == visit.pk


def test_visits_cannot_be_posted_or_deleted_directly(world, county_admin, grid_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid)
    client = api(county_admin)  # holds add_visit and delete_visit: the refusal is the route's
    assert client.post(VISITS, {}, format="json").status_code == 405
    assert client.delete(f"{VISITS}{visit.pk}/").status_code == 405
    assert RoundTarget.objects.count() == 0 and Visit.objects.count() == 1


def test_visit_list_query_count_is_pinned(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world)
    VisitFactory(grid=world.grids["a1"].grid, round=rnd)
    client = api(station_staff)
    client.get(VISITS)
    with CaptureQueriesContext(connection) as few:
        client.get(VISITS)
    household = world.grids["a1"].households[0]
    VisitFactory(grid=world.grids["a1"].grid, village=None, household=household)
    VisitFactory(grid=world.grids["a1"].grid, village=None,
                 key_customer=KeyCustomerFactory(grid=world.grids["a1"].grid))
    VisitFactory(grid=world.grids["a2"].grid, round=rnd)
    with CaptureQueriesContext(connection) as many:
        assert client.get(VISITS).json()["count"] == 4
    assert len(many) == len(few)
