"""Overdue lists and the progress report: counts by hand on a small world, pinned queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import UserFactory
from tests.visits.factories import (
    CustomerIssueFactory,
    HazardFactory,
    RoundFactory,
    RoundTargetFactory,
    ServiceCardRecordFactory,
    VisitFactory,
)
from visits import services
from visits.selectors import overdue_hazards, overdue_issues, progress_counts, progress_rounds_for

TODAY = timezone.localdate


def test_overdue_hazards_and_issues_per_persona(world, personas):
    a1, a3, b1 = world.grids["a1"].grid, world.grids["a3"].grid, world.grids["b1"].grid
    late = HazardFactory(grid=a1, deadline=TODAY() - timedelta(days=1))
    HazardFactory(grid=a1, deadline=TODAY() + timedelta(days=1))  # not yet due
    HazardFactory(grid=a1, deadline=TODAY() - timedelta(days=3), status="rechecked", closed_at=timezone.now())
    late_a3 = HazardFactory(grid=a3, deadline=TODAY() - timedelta(days=2))
    late_b1 = HazardFactory(grid=b1, deadline=TODAY() - timedelta(days=2))
    raised = timezone.now() - timedelta(days=5)
    late_issue = CustomerIssueFactory(grid=a1, raised_at=raised, due_at=raised + timedelta(hours=4))
    CustomerIssueFactory(grid=a1, raised_at=raised, due_at=raised + timedelta(hours=4), status="resolved",
                         resolved_at=timezone.now())

    assert list(overdue_hazards(personas.grid_manager)) == [late]
    assert list(overdue_hazards(personas.station_staff)) == [late]
    assert list(overdue_hazards(personas.county_admin)) == [late_a3, late]
    assert list(overdue_hazards(personas.outsider)) == [late_b1]
    assert list(overdue_hazards(personas.nobody)) == []
    assert list(overdue_issues(personas.grid_manager)) == [late_issue]
    assert list(overdue_issues(personas.outsider)) == []


def test_the_rounds_a_user_may_report_on(world, personas):
    a1, a2 = world.grids["a1"].grid, world.grids["a2"].grid
    quiet = RoundFactory(county=world.county_a, station=world.station_a1, name="无走访")
    visited = RoundFactory(county=world.county_a, station=world.station_a1, name="甲一走访")
    VisitFactory(round=visited, grid=a1)
    targeted = RoundFactory(county=world.county_a, station=world.station_a1, name="甲二目标")
    RoundTargetFactory(round=targeted, grid=a2)
    county_wide = RoundFactory(county=world.county_a, name="全县")
    other = RoundFactory(county=world.county_b, name="乙县")

    def names(user) -> set[str]:
        return set(progress_rounds_for(user).values_list("name", flat=True))

    assert names(personas.company_admin) == {r.name for r in (quiet, visited, targeted, county_wide, other)}
    assert names(personas.county_admin) == {"无走访", "甲一走访", "甲二目标", "全县"}
    assert names(personas.station_staff) == {"无走访", "甲一走访", "甲二目标"}
    # A grid manager sees no round directly: only those with visits or targets in their grid.
    assert names(personas.grid_manager) == {"甲一走访"}
    assert names(personas.outsider) == set()
    assert names(personas.nobody) == set()


@pytest.fixture
def small_world(world, grid_manager, station_staff):
    """Built through the services so the counts come from real writes; counted by hand below."""
    a1, a2 = world.grids["a1"], world.grids["a2"]
    manager_a2 = UserFactory(username="manager_a2")
    a2.grid.manager = manager_a2
    a2.grid.save(update_fields=["manager"])
    rnd = RoundFactory(county=world.county_a, station=world.station_a1, daily_capacity=10,
                       period_end=TODAY() + timedelta(days=10))
    for household in a1.households:
        RoundTargetFactory(round=rnd, grid=a1.grid, village=None, household=household, source="upload")
    RoundTargetFactory(round=rnd, grid=a2.grid, village=a2.village)
    v1 = VisitFactory(round=rnd, grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])
    v2 = VisitFactory(round=rnd, grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[1])
    v3 = VisitFactory(round=rnd, grid=a2.grid, grid_manager=manager_a2, village=a2.village)
    VisitFactory(round=rnd, grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0],
                 planned_date=TODAY() + timedelta(days=3))  # still planned
    VisitFactory(grid=world.grids["b1"].grid, village=world.grids["b1"].village)  # other county, no round
    services.visit_log_submit(
        user=grid_manager, visit_id=v1.pk, client_key="a", guidance=["guided_payment", "guided_balance"],
        hazards=[{"severity": "general", "description": "表箱门坏", "deadline": TODAY() + timedelta(days=5)}],
        issues=[{"category": "billing", "description": "电费疑问"}], cards_handed_out=2, cards_posted=1,
    )
    services.visit_mark_missed(user=grid_manager, visit_id=v2.pk, reason="家中无人")  # proposes one more
    services.visit_log_submit(user=station_staff, visit_id=v3.pk, client_key="b", guidance=["guided_payment"],
                              cards_handed_out=5)
    ServiceCardRecordFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, round=rnd,
                             handed_out=40, posted=10)
    hazard = HazardFactory(grid=a1.grid, found_by=grid_manager, deadline=TODAY() - timedelta(days=1))  # overdue
    for step in (services.hazard_notify, services.hazard_rectify, services.hazard_recheck):
        step(user=grid_manager, hazard_id=services.Hazard.objects.filter(visit_log__isnull=False).get().pk)
    issue = services.CustomerIssue.objects.get()
    services.issue_start(user=grid_manager, issue_id=issue.pk)
    services.issue_resolve(user=grid_manager, issue_id=issue.pk)
    return rnd, manager_a2, hazard


def test_progress_counts_equal_a_hand_count(world, personas, small_world):
    rnd, manager_a2, _hazard = small_world
    result = progress_counts(user=personas.station_staff, round_id=rnd.pk, group_by="grid")
    rows = {row["id"]: row for row in result["rows"]}
    a1, a2 = rows[world.grids["a1"].grid.pk], rows[world.grids["a2"].grid.pk]
    assert set(rows) == {world.grids["a1"].grid.pk, world.grids["a2"].grid.pk}
    # a1: v1 done, v2 missed, one planned later, one proposed after the miss.
    assert (a1["visits_planned"], a1["visits_done"], a1["visits_missed"]) == (2, 1, 1)
    assert (a1["targets"], a1["targets_covered"]) == (2, 1)
    assert (a1["households_visited"], a1["key_customers_visited"]) == (1, 0)
    assert (a1["cards_handed_out"], a1["cards_posted"]) == (42, 11)
    assert (a1["guidance_payment"], a1["guidance_balance"], a1["guidance_find_electrician"]) == (1, 1, 0)
    assert (a1["issues_opened"], a1["issues_resolved"], a1["issues_overdue"]) == (1, 1, 0)
    # The hazard found outside a visit has no round: only the visit's hazard counts here.
    assert (a1["hazards_found"], a1["hazards_rectified"], a1["hazards_overdue"]) == (1, 1, 0)
    assert (a2["visits_done"], a2["villages_visited"], a2["targets"], a2["targets_covered"]) == (1, 1, 1, 1)
    assert (a2["cards_handed_out"], a2["guidance_payment"]) == (5, 1)
    totals = result["totals"]
    assert (totals["rounds"], totals["visits_done"], totals["cards_handed_out"], totals["issues_resolved"]) == (
        1, 2, 47, 1)
    assert (totals["targets"], totals["targets_covered"]) == (3, 2)


def test_progress_counts_without_a_round_by_date_and_by_manager(world, personas, small_world):
    _rnd, manager_a2, _hazard = small_world
    result = progress_counts(user=personas.grid_manager, start=TODAY(), end=TODAY(), group_by="grid_manager")
    rows = {row["id"]: row for row in result["rows"]}
    # A grid manager sees their grid only; the standalone overdue hazard counts without a round.
    assert set(rows) == {personas.grid_manager.pk}
    mine = rows[personas.grid_manager.pk]
    assert (mine["visits_done"], mine["visits_missed"], mine["visits_planned"]) == (1, 1, 0)
    assert (mine["hazards_found"], mine["hazards_rectified"], mine["hazards_overdue"]) == (2, 1, 1)
    assert mine["label"] == personas.grid_manager.username


def test_progress_counts_per_county_hide_the_other_county(world, personas, small_world):
    rows = progress_counts(user=personas.outsider, group_by="county")["rows"]
    assert [row["id"] for row in rows] == [world.county_b.pk]
    assert rows[0]["visits_planned"] == 1 and rows[0]["visits_done"] == 0


def _queries(user, **kwargs) -> int:
    user.__dict__.pop("_zg_territory", None)
    user.__dict__.pop("_zg_assignments", None)
    with CaptureQueriesContext(connection) as captured:
        progress_counts(user=user, **kwargs)
    return len(captured)


@pytest.mark.parametrize("group_by", ["grid_manager", "grid", "station", "county"])
def test_progress_counts_take_the_same_queries_for_1_or_20_visits(world, personas, group_by):
    a1 = world.grids["a1"]
    rnd = RoundFactory(county=world.county_a, station=world.station_a1)
    VisitFactory(round=rnd, grid=a1.grid, grid_manager=personas.grid_manager, village=a1.village)
    one = _queries(personas.county_admin, round_id=rnd.pk, group_by=group_by)
    for grid in ("a1", "a2", "a3"):
        for _ in range(6 if grid != "a1" else 7):
            VisitFactory(round=rnd, grid=world.grids[grid].grid, village=world.grids[grid].village,
                         status="done", done_at=timezone.now())
            ServiceCardRecordFactory(grid=world.grids[grid].grid, village=world.grids[grid].village, round=rnd)
            HazardFactory(grid=world.grids[grid].grid)
    twenty = _queries(personas.county_admin, round_id=rnd.pk, group_by=group_by)
    assert one == twenty
    # Territory (1), visits, cards, hazards, issues, targets, visit totals, target totals, labels.
    assert twenty == (8 if group_by == "grid_manager" else 9)
