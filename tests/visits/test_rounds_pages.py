"""Round planner and calendar pages, per persona, with each form error."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import KeyCustomerFactory, RoleAssignmentFactory, UserFactory
from tests.visits.factories import RoundFactory, VisitFactory
from visits import services
from visits.models import Round, RoundTarget, Visit
from zhoukou_grid.territory.models import Role

TODAY = timezone.localdate


def round_post(world, **overrides):
    data = {
        "name": "第二轮 2027年春节走访", "station": world.station_a1.pk, "period_start": TODAY().isoformat(),
        "period_end": (TODAY() + timedelta(days=4)).isoformat(), "daily_capacity": 2, "holidays": "",
        "source": "villages", "villages": [world.grids["a1"].village.pk, world.grids["a2"].village.pk],
    }
    data.update(overrides)
    return data


def said(response, msgid: str, **params) -> str:
    """`msgid` as the page says it, in the language the page was rendered in."""
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        text = translation.gettext(msgid)
    return text % params if params else text


def make_round(user, world, *, capacity=2):
    rnd = services.round_create(user=user, name="第二轮", station_id=world.station_a1.pk, period_start=TODAY(),
                                period_end=TODAY() + timedelta(days=4), daily_capacity=capacity)
    services.round_targets_build(user=user, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a1"].village.pk])
    return rnd


# --- Opening a round --------------------------------------------------------------------

def test_station_staff_open_a_round_with_chosen_villages(client, world, station_staff, grid_manager):
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_create"), round_post(world))
    rnd = Round.objects.get()
    assert response.status_code == 302 and response.url == reverse("visits:round_detail", args=[rnd.pk])
    assert (rnd.station_id, rnd.daily_capacity) == (world.station_a1.pk, 2)
    assert rnd.targets.count() == 2


def test_a_round_from_an_uploaded_list_of_account_numbers(client, world, station_staff):
    households = world.grids["a1"].households
    customer = KeyCustomerFactory(grid=world.grids["a2"].grid)
    csv = f"户号,户名\r\n{households[0].account_no},x\r\n{customer.account_no},y\r\n".encode("utf-8-sig")
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_create"), round_post(
        world, source="upload", villages=[], account_file=SimpleUploadedFile("名单.csv", csv)))
    assert response.status_code == 302
    targets = RoundTarget.objects.get(household__isnull=False), RoundTarget.objects.get(key_customer__isnull=False)
    assert (targets[0].household_id, targets[1].key_customer_id) == (households[0].pk, customer.pk)


@pytest.mark.parametrize(("overrides", "field", "msgid", "params"), [
    ({"daily_capacity": 0}, "daily_capacity", "A grid manager must be able to make at least one visit a day.", {}),
    ({"period_end": (TODAY() - timedelta(days=3)).isoformat()}, "period_end",
     "The last day lies before the first day.", {}),
    ({"holidays": "2027-02-30"}, "holidays", "“%(value)s” is not a date; write dates like 2027-02-06.",
     {"value": "2027-02-30"}),
    ({"villages": []}, "villages", "Choose at least one village.", {}),
    ({"source": "upload", "villages": []}, "account_file", "Upload the list of account numbers.", {}),
    ({"source": "key_customers", "villages": []}, "source",
     "The target list is empty: nothing of this kind lies in the round's territory and period.", {}),
])
def test_each_form_error_is_shown_and_nothing_is_saved(client, world, station_staff, overrides, field, msgid,
                                                       params):
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_create"), round_post(world, **overrides))
    assert response.status_code == 400
    message = said(response, msgid, **params)
    assert response.context["form"].errors[field] == [message]
    assert html.escape(message) in response.content.decode()
    assert not Round.objects.exists() and not RoundTarget.objects.exists()


def test_an_uploaded_number_outside_the_territory_is_named(client, world, station_staff):
    foreign = world.grids["b1"].households[0].account_no
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_create"), round_post(
        world, source="upload", villages=[], account_file=SimpleUploadedFile("a.csv", f"{foreign}\n".encode())))
    assert response.status_code == 400 and foreign in response.content.decode()
    assert not Round.objects.exists()


def test_a_file_that_is_not_a_spreadsheet_is_refused(client, world, station_staff):
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_create"), round_post(
        world, source="upload", villages=[], account_file=SimpleUploadedFile("a.xlsx", b"\x89PNG\r\n\x1a\nxx")))
    assert response.status_code == 400 and response.context["form"].errors["account_file"]
    assert not Round.objects.exists()


def test_grid_managers_cannot_open_rounds(client, world, grid_manager):
    client.force_login(grid_manager)
    assert client.get(reverse("visits:round_create")).status_code == 403
    assert client.post(reverse("visits:round_create"), round_post(world)).status_code == 403


# --- Scheduling and the result ----------------------------------------------------------

def test_scheduling_shows_visits_per_manager_per_day_and_what_did_not_fit(client, world, station_staff, grid_manager):
    rnd = make_round(station_staff, world, capacity=1)
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a2"].village.pk])  # 甲二网格 has no grid manager
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_detail", args=[rnd.pk]), {"action": "schedule"})
    assert response.status_code == 200
    assert Visit.objects.filter(round=rnd, grid_manager=grid_manager).count() == 1
    matrix = response.context["matrix"]
    assert [row["total"] for row in matrix] == [1]
    unplaced = response.context["unplaced"]
    assert [item["grid"] for item in unplaced] == ["甲二网格"]
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        assert unplaced[0]["reason"] == translation.gettext(services.UNPLACED_MESSAGES["no_manager"])
    assert unplaced[0]["reason"] in response.content.decode()


def test_scheduling_a_round_without_targets_says_so(client, world, station_staff):
    rnd = services.round_create(user=station_staff, name="空", station_id=world.station_a1.pk,
                                period_start=TODAY(), period_end=TODAY(), daily_capacity=3)
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_detail", args=[rnd.pk]), {"action": "schedule"})
    assert response.status_code == 400
    assert said(response, "The round has no targets yet.") in response.content.decode()
    assert not Visit.objects.exists()


def test_adding_chosen_villages_needs_a_village(client, world, station_staff):
    rnd = make_round(station_staff, world)
    client.force_login(station_staff)
    response = client.post(reverse("visits:round_detail", args=[rnd.pk]), {"action": "targets", "source": "villages"})
    assert response.status_code == 400 and said(response, "Choose at least one village.") in response.content.decode()
    response = client.post(reverse("visits:round_detail", args=[rnd.pk]),
                           {"action": "targets", "source": "villages", "villages": [world.grids["a2"].village.pk]})
    assert response.status_code == 302 and rnd.targets.count() == 2


def test_a_grid_manager_reads_their_stations_round_but_cannot_schedule(client, world, station_staff, grid_manager):
    rnd = make_round(station_staff, world)
    client.force_login(grid_manager)
    response = client.get(reverse("visits:round_detail", args=[rnd.pk]))
    assert response.status_code == 200 and not response.context["can_plan"]
    assert client.post(reverse("visits:round_detail", args=[rnd.pk]), {"action": "schedule"}).status_code == 403


def test_another_stations_round_is_a_404(client, world, station_staff):
    other = RoundFactory(county=world.county_a, station=world.station_a2)
    client.force_login(station_staff)
    assert client.get(reverse("visits:round_detail", args=[other.pk])).status_code == 404


def test_round_list_query_count_does_not_grow(client, world, station_staff, django_assert_max_num_queries):
    make_round(station_staff, world)
    client.force_login(station_staff)
    url = reverse("visits:round_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(5):
        RoundFactory(county=world.county_a, station=world.station_a1, name=f"轮{n}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["object_list"]) == 6
    assert len(many) == len(few)


def test_round_detail_query_count_does_not_grow(client, world, station_staff, grid_manager):
    rnd = make_round(station_staff, world, capacity=1)
    services.round_schedule(user=station_staff, round_id=rnd.pk)
    client.force_login(station_staff)
    url = reverse("visits:round_detail", args=[rnd.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for day in range(1, 4):
        VisitFactory(round=rnd, grid=world.grids["a1"].grid, planned_date=TODAY() + timedelta(days=day))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["visits"]) == 4
    assert len(many) == len(few)


# --- One visit ---------------------------------------------------------------------------

@pytest.fixture
def second_manager(world):
    user = UserFactory(username="second_manager", first_name="建国", last_name="王")
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    return user


def test_station_staff_move_reassign_and_cancel_a_visit(client, world, station_staff, grid_manager, second_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, planned_date=TODAY())
    client.force_login(station_staff)
    url = reverse("visits:visit_detail", args=[visit.pk])
    tomorrow = TODAY() + timedelta(days=1)
    assert client.post(url, {"action": "move", "move-planned_date": tomorrow.isoformat()}).status_code == 302
    assert client.post(url, {"action": "reassign", "reassign-grid_manager": second_manager.pk}).status_code == 302
    visit.refresh_from_db()
    assert (visit.planned_date, visit.grid_manager_id) == (tomorrow, second_manager.pk)
    assert client.post(url, {"action": "cancel", "cancel-reason": "客户外出"}).status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.CANCELLED
    response = client.post(url, {"action": "move", "move-planned_date": tomorrow.isoformat()})
    assert response.status_code == 400 and not response.context["can_change"]
    shown = said(response, "Only a planned visit can be changed; this one is %(status)s.",
                 status=str(Visit.Status.CANCELLED.label))
    assert response.context["action_errors"] == [shown]


def test_moving_into_the_past_is_shown_on_the_form(client, world, station_staff, grid_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, planned_date=TODAY())
    client.force_login(station_staff)
    response = client.post(reverse("visits:visit_detail", args=[visit.pk]),
                           {"action": "move", "move-planned_date": (TODAY() - timedelta(days=2)).isoformat()})
    assert response.status_code == 400
    assert said(response, "A visit cannot be planned in the past.") in response.content.decode()
    visit.refresh_from_db()
    assert visit.planned_date == TODAY()


def test_a_grid_manager_marks_their_visit_missed_with_a_reason(client, world, grid_manager):
    visit = VisitFactory(grid=world.grids["a1"].grid, planned_date=TODAY())
    client.force_login(grid_manager)
    url = reverse("visits:visit_detail", args=[visit.pk])
    response = client.post(url, {"action": "missed", "missed-reason": ""})
    assert response.status_code == 400 and response.context["forms"]["missed"].errors
    assert client.post(url, {"action": "missed", "missed-reason": "家中无人"}).status_code == 302
    visit.refresh_from_db()
    assert visit.status == Visit.Status.MISSED
    assert Visit.objects.filter(rescheduled_from=visit, status=Visit.Status.PLANNED).exists()


def test_an_outsiders_visit_is_a_404(client, world, grid_manager, outsider):
    visit = VisitFactory(grid=world.grids["a1"].grid)
    client.force_login(outsider)
    url = reverse("visits:visit_detail", args=[visit.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "cancel"}).status_code == 404


# --- Calendar ----------------------------------------------------------------------------

def test_a_grid_manager_sees_their_own_week(client, world, grid_manager, second_manager):
    mine = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, planned_date=TODAY(),
                        agenda="检查配电房")
    theirs = VisitFactory(grid=world.grids["a1"].grid, grid_manager=second_manager, planned_date=TODAY())
    client.force_login(grid_manager)
    response = client.get(reverse("visits:calendar"))
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("visits:visit_detail", args=[mine.pk]) in body and "检查配电房" in body
    assert reverse("visits:visit_detail", args=[theirs.pk]) not in body
    assert len(response.context["days"]) == 7


def test_station_staff_pick_a_grid_manager_and_a_day(client, world, station_staff, grid_manager, second_manager):
    theirs = VisitFactory(grid=world.grids["a1"].grid, grid_manager=second_manager, planned_date=TODAY())
    client.force_login(station_staff)
    response = client.get(reverse("visits:calendar"),
                          {"manager": second_manager.pk, "view": "day", "day": TODAY().isoformat()})
    assert response.context["manager"] == second_manager and len(response.context["days"]) == 1
    assert reverse("visits:visit_detail", args=[theirs.pk]) in response.content.decode()


def test_a_manager_outside_the_territory_cannot_be_picked(client, world, grid_manager, outsider):
    VisitFactory(grid=world.grids["b1"].grid, grid_manager=outsider, planned_date=TODAY())
    client.force_login(grid_manager)
    response = client.get(reverse("visits:calendar"), {"manager": outsider.pk})
    assert response.context["manager"] == grid_manager
    assert not any(visits for _day, visits in response.context["days"])


def test_calendar_query_count_does_not_grow(client, world, grid_manager):
    VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, planned_date=TODAY())
    client.force_login(grid_manager)
    url = reverse("visits:calendar")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _n in range(4):
        VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, planned_date=TODAY())
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)
