"""Hazards and issues API: scoping, filters, creation, every step and its refusal, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.visits.factories import CustomerIssueFactory, HazardFactory
from visits.models import CustomerIssue, Hazard

TODAY = timezone.localdate


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def hazards(world, personas):
    return {key: HazardFactory(grid=world.grids[key].grid, found_by=personas.grid_manager)
            for key in ("a1", "a2", "a3", "b1")}


@pytest.mark.parametrize(("persona", "visible"), [
    ("grid_manager", {"a1"}), ("station_staff", {"a1", "a2"}), ("county_admin", {"a1", "a2", "a3"}),
    ("outsider", {"b1"}), ("company_admin", {"a1", "a2", "a3", "b1"}),
])
def test_each_persona_lists_the_hazards_and_issues_of_their_territory(world, personas, hazards, persona, visible):
    issues = {key: CustomerIssueFactory(grid=world.grids[key].grid) for key in ("a1", "a2", "a3", "b1")}
    client = api(getattr(personas, persona))
    assert ids(client.get("/api/v1/hazards/")) == {hazards[key].pk for key in visible}
    assert ids(client.get("/api/v1/issues/")) == {issues[key].pk for key in visible}


def test_hazard_filters_status_severity_overdue(world, personas):
    grid = world.grids["a1"].grid
    late = HazardFactory(grid=grid, deadline=TODAY() - timedelta(days=2), severity="critical")
    notified = HazardFactory(grid=grid, status="notified")
    closed = HazardFactory(grid=grid, status="rechecked", closed_at=timezone.now(), deadline=TODAY() - timedelta(days=5))
    client = api(personas.grid_manager)
    assert ids(client.get("/api/v1/hazards/", {"status": "notified"})) == {notified.pk}
    assert ids(client.get("/api/v1/hazards/", {"severity": "critical"})) == {late.pk}
    assert ids(client.get("/api/v1/hazards/", {"overdue": "true"})) == {late.pk}
    assert ids(client.get("/api/v1/hazards/", {"overdue": "false"})) == {notified.pk, closed.pk}
    row = client.get(f"/api/v1/hazards/{late.pk}/").json()
    assert row["overdue"] is True and row["url"] == f"/visits/boards/hazards/{late.pk}/"


def test_issue_filters_category_overdue(world, personas):
    grid = world.grids["a1"].grid
    raised = timezone.now() - timedelta(hours=8)
    late = CustomerIssueFactory(grid=grid, category="no_power", raised_at=raised, due_at=raised + timedelta(hours=4))
    billing = CustomerIssueFactory(grid=grid, category="billing")
    client = api(personas.grid_manager)
    assert ids(client.get("/api/v1/issues/", {"category": "billing"})) == {billing.pk}
    assert ids(client.get("/api/v1/issues/", {"overdue": "true"})) == {late.pk}


def test_a_grid_manager_reports_a_hazard_and_takes_it_through_every_step(world, personas):
    client = api(personas.grid_manager)
    response = client.post("/api/v1/hazards/", {
        "grid": world.grids["a1"].grid.code, "village": world.grids["a1"].village.code, "severity": "serious",
        "description": "进户线老化", "deadline": (TODAY() + timedelta(days=3)).isoformat()}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["grid"], body["village"], body["owner"]) == (
        "found", world.grids["a1"].grid.code, world.grids["a1"].village.code, "grid_manager")
    pk = body["id"]
    for step, status in (("notify", "notified"), ("rectify", "rectifying"), ("recheck", "rechecked")):
        response = client.post(f"/api/v1/hazards/{pk}/{step}/", {"note": step}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
    events = response.json()["events"]
    assert [event["to_status"] for event in events] == ["found", "notified", "rectifying", "rechecked"]
    assert Hazard.objects.get(pk=pk).closed_at is not None


@pytest.mark.parametrize(("status", "step"), [("found", "rectify"), ("found", "recheck"), ("notified", "recheck"),
                                              ("rechecked", "notify")])
def test_a_hazard_step_out_of_order_is_a_400_naming_the_status(world, personas, status, step):
    extra = {"closed_at": timezone.now()} if status == "rechecked" else {}
    hazard = HazardFactory(grid=world.grids["a1"].grid, status=status, **extra)
    response = api(personas.grid_manager).post(f"/api/v1/hazards/{hazard.pk}/{step}/", {}, format="json")
    assert response.status_code == 400
    assert "this step needs it to be" in response.json()["non_field_errors"][0]
    hazard.refresh_from_db()
    assert hazard.status == status


def test_a_step_on_another_territory_s_hazard_is_a_404(personas, hazards):
    response = api(personas.outsider).post(f"/api/v1/hazards/{hazards['a1'].pk}/notify/", {}, format="json")
    assert response.status_code == 404
    assert api(personas.outsider).get(f"/api/v1/hazards/{hazards['a1'].pk}/").status_code == 404
    hazards["a1"].refresh_from_db()
    assert hazards["a1"].status == "found"


def test_a_hazard_with_a_past_deadline_or_in_another_grid_is_refused(world, personas):
    client = api(personas.grid_manager)
    past = client.post("/api/v1/hazards/", {"grid": world.grids["a1"].grid.code, "severity": "general",
                                            "description": "x", "deadline": (TODAY() - timedelta(days=1)).isoformat()},
                       format="json")
    assert past.status_code == 400 and "deadline" in past.json()
    other = client.post("/api/v1/hazards/", {"grid": world.grids["a2"].grid.code, "severity": "general",
                                             "description": "x", "deadline": TODAY().isoformat()}, format="json")
    assert other.status_code == 400 and "grid" in other.json()
    assert not Hazard.objects.exists()


def test_an_issue_by_phone_is_due_by_the_sla_and_goes_through_its_steps(world, personas, settings):
    client = api(personas.station_staff)
    response = client.post("/api/v1/issues/", {"grid": world.grids["a2"].grid.code, "channel": "hotline",
                                               "category": "low_voltage", "description": "晚间电压低"}, format="json")
    assert response.status_code == 201, response.content
    issue = CustomerIssue.objects.get(pk=response.json()["id"])
    assert issue.due_at - issue.raised_at == timedelta(hours=settings.ISSUE_SLA_HOURS["low_voltage"])
    refused = client.post(f"/api/v1/issues/{issue.pk}/confirm/", {}, format="json")
    assert refused.status_code == 400 and "Resolved" in refused.json()["non_field_errors"][0]
    for step, status in (("start", "in_progress"), ("resolve", "resolved"), ("confirm", "confirmed")):
        response = client.post(f"/api/v1/issues/{issue.pk}/{step}/", {}, format="json")
        assert response.status_code == 200 and response.json()["status"] == status


def test_an_issue_with_the_visit_channel_is_refused_it_comes_with_the_visit_log(world, personas):
    response = api(personas.grid_manager).post("/api/v1/issues/", {
        "grid": world.grids["a1"].grid.code, "channel": "visit", "category": "meter", "description": "x"},
        format="json")
    assert response.status_code == 400 and "channel" in response.json()
    assert not CustomerIssue.objects.exists()


def test_hazards_and_issues_are_never_edited_or_deleted_through_the_api(personas, hazards):
    client = api(personas.county_admin)
    assert client.patch(f"/api/v1/hazards/{hazards['a1'].pk}/", {"status": "rechecked"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/hazards/{hazards['a1'].pk}/").status_code == 405


@pytest.mark.parametrize("url", ["/api/v1/hazards/", "/api/v1/issues/"])
def test_an_api_list_costs_a_fixed_number_of_queries(world, personas, url):
    client = api(personas.station_staff)
    factory = HazardFactory if "hazards" in url else CustomerIssueFactory

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    factory(grid=world.grids["a1"].grid)
    count()  # the user object caches its territory and permissions after the first request
    few = count()
    for index in range(10):
        factory(grid=world.grids[("a1", "a2")[index % 2]].grid, owner=personas.grid_manager)
    # the page count and the page itself, its grid, station, owner, finder, village and household joined
    assert count() == few == 2
