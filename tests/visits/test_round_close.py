"""Closing a round: its summary (reached, missed, moved), no more logs after it, and the
targets the scheduler could not place kept with the round (page, export, API)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from visits import services
from visits.models import Round, RoundTarget, Visit
from zhoukou_grid.core.models import AuditLog

TODAY = timezone.localdate


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def scheduled(world, station_staff, grid_manager):
    """A round over 甲一所 with 甲一网格's village (placed) and 甲二网格's (no grid manager: unplaced)."""
    rnd = services.round_create(user=station_staff, name="第二轮", station_id=world.station_a1.pk,
                                period_start=TODAY(), period_end=TODAY() + timedelta(days=4), daily_capacity=2)
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a1"].village.pk, world.grids["a2"].village.pk])
    services.round_schedule(user=station_staff, round_id=rnd.pk)
    return rnd


def _next_round(world, station_staff):
    return services.round_create(user=station_staff, name="第三轮", station_id=world.station_a1.pk,
                                 period_start=TODAY() + timedelta(days=10), period_end=TODAY() + timedelta(days=14),
                                 daily_capacity=2)


def test_closing_sums_up_reached_missed_and_moved_and_cancels_what_was_left(world, station_staff, grid_manager,
                                                                             scheduled):
    visit = Visit.objects.get(round=scheduled)
    services.visit_log_submit(user=grid_manager, visit_id=visit.pk, client_key="k-close-1")
    nxt = _next_round(world, station_staff)
    rnd = services.round_close(user=station_staff, round_id=scheduled.pk, next_round_id=nxt.pk)
    assert rnd.status == Round.Status.CLOSED and rnd.closed_by == station_staff and rnd.closed_at
    assert rnd.summary == {"targets": 2, "reached": 1, "missed": 1, "moved": 1, "next_round": nxt.pk,
                           "visits_cancelled": 0}
    moved, = RoundTarget.objects.filter(round=nxt)
    assert moved.village_id == world.grids["a2"].village.pk and moved.earliest == nxt.period_start
    assert AuditLog.objects.filter(action="round.closed", object_id=str(scheduled.pk)).exists()


def test_a_closed_round_takes_no_more_logs_targets_or_scheduling(world, station_staff, grid_manager, scheduled):
    visit = Visit.objects.get(round=scheduled)
    rnd = services.round_close(user=station_staff, round_id=scheduled.pk)
    assert rnd.summary["visits_cancelled"] == 1 and rnd.summary["moved"] == 0
    with translation.override("en"), pytest.raises(ValidationError, match="round of this visit is closed"):
        services.visit_log_submit(user=grid_manager, visit_id=visit.pk, client_key="k-close-2")
    with pytest.raises(ValidationError):
        services.round_schedule(user=station_staff, round_id=scheduled.pk)
    with pytest.raises(ValidationError):
        services.round_close(user=station_staff, round_id=scheduled.pk)


def test_a_log_through_the_api_is_refused_once_the_round_is_closed(world, station_staff, grid_manager, scheduled):
    visit = Visit.objects.get(round=scheduled)
    Visit.objects.filter(pk=visit.pk).update(status=Visit.Status.PLANNED)
    Round.objects.filter(pk=scheduled.pk).update(status=Round.Status.CLOSED)
    response = api(grid_manager).post("/api/v1/visit-logs/", {"visit": visit.pk, "client_key": "k-api-1"},
                                      format="json")
    assert response.status_code == 400, response.content
    assert not Visit.objects.filter(pk=visit.pk, status=Visit.Status.DONE).exists()


def test_missed_targets_move_only_to_an_open_round_over_the_same_grids(world, station_staff, county_admin, scheduled):
    other_station = services.round_create(user=county_admin, name="甲二所轮次", station_id=world.station_a2.pk,
                                          period_start=TODAY(), period_end=TODAY() + timedelta(days=3),
                                          daily_capacity=2)
    with pytest.raises(Http404):  # another station's round is not 甲一所's staff's to write
        services.round_close(user=station_staff, round_id=scheduled.pk, next_round_id=other_station.pk)
    with pytest.raises(ValidationError):
        services.round_close(user=county_admin, round_id=scheduled.pk, next_round_id=other_station.pk)
    assert Round.objects.get(pk=scheduled.pk).status != Round.Status.CLOSED


def test_the_round_page_closes_a_round_and_shows_its_summary(client, world, station_staff, scheduled):
    nxt = _next_round(world, station_staff)
    client.force_login(station_staff)
    url = reverse("visits:round_detail", args=[scheduled.pk])
    page = client.get(url)
    assert 'value="close"' in page.content.decode()
    assert client.post(url, {"action": "close", "next_round": nxt.pk}).status_code == 302
    page = client.get(url)
    body = page.content.decode()
    assert "data-round-summary" in body and 'value="close"' not in body
    assert reverse("visits:round_detail", args=[nxt.pk]) in body
    assert Round.objects.get(pk=scheduled.pk).summary["moved"] == 2


def test_the_api_closes_a_round_with_its_summary(world, station_staff, grid_manager, scheduled):
    response = api(station_staff).post(f"/api/v1/rounds/{scheduled.pk}/close/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    assert response.json()["summary"]["missed"] == 2
    again = api(station_staff).post(f"/api/v1/rounds/{scheduled.pk}/close/", {}, format="json")
    assert again.status_code == 400
    assert api(grid_manager).post(f"/api/v1/rounds/{scheduled.pk}/close/", {}, format="json").status_code in (403, 404)


# --- What did not fit ----------------------------------------------------------------------


def test_what_did_not_fit_stays_with_the_round_until_placed(client, world, station_staff, grid_manager, scheduled):
    unplaced = RoundTarget.objects.filter(round=scheduled).exclude(unplaced_reason="")
    assert [(t.village_id, t.unplaced_reason) for t in unplaced] == [(world.grids["a2"].village.pk, "no_manager")]
    client.force_login(station_staff)
    # Shown on every later visit of the page, not only right after scheduling.
    page = client.get(reverse("visits:round_detail", args=[scheduled.pk]))
    assert [item["grid"] for item in page.context["unplaced"]] == ["甲二网格"]
    export = client.get(reverse("visits:round_unplaced_export", args=[scheduled.pk]))
    assert export.status_code == 200
    text = export.content.decode("utf-8-sig")
    assert "甲二网格" in text and "甲一网格" not in text
    listed = api(station_staff).get(f"/api/v1/rounds/{scheduled.pk}/unplaced/").json()
    assert [row["unplaced_reason"] for row in listed["results"]] == ["no_manager"]
    # 甲二网格 gets a grid manager: the next scheduling places it and the list empties.
    grid = world.grids["a2"].grid
    grid.manager = grid_manager
    grid.save(update_fields=["manager"])
    from tests.factories import RoleAssignmentFactory
    from zhoukou_grid.territory.models import Role

    RoleAssignmentFactory(user=grid_manager, role=Role.GRID_MANAGER, grid=grid)
    services.round_schedule(user=station_staff, round_id=scheduled.pk)
    assert not RoundTarget.objects.filter(round=scheduled).exclude(unplaced_reason="").exists()


def test_another_stations_staff_cannot_export_the_list(client, world, scheduled):
    from tests.factories import RoleAssignmentFactory, UserFactory
    from zhoukou_grid.territory.models import Role

    stranger = UserFactory()
    RoleAssignmentFactory(user=stranger, role=Role.STATION_STAFF, station=world.station_b1)
    client.force_login(stranger)
    assert client.get(reverse("visits:round_unplaced_export", args=[scheduled.pk])).status_code == 404
