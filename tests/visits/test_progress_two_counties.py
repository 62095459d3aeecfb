"""The progress report's figures per group and its totals against a hand count, on visits in
two counties and two rounds: a leak across counties or rounds, a double count of a distinct
household or round, or totals summed where they must be counted once, all fail here."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import UserFactory
from tests.visits.factories import RoundFactory, VisitFactory, VisitLogFactory
from visits.selectors import progress_counts


def _visit(rnd, grid, manager, *, household=None, village=None, status="done", **guidance):
    extra = {"done_at": timezone.now()} if status == "done" else {}
    if status == "missed":
        extra["missed_reason"] = "不在家"
    visit = VisitFactory(round=rnd, grid=grid, grid_manager=manager, household=household, village=village,
                         status=status, **extra)
    if guidance:
        VisitLogFactory(visit=visit, **{f"guided_{name}": True for name in guidance})
    return visit


@pytest.fixture
def two_counties(world):
    a1, a2, a3, b1 = (world.grids[key] for key in ("a1", "a2", "a3", "b1"))
    m1, m2, mb = UserFactory(), UserFactory(), UserFactory()
    r1 = RoundFactory(county=world.county_a, name="甲县一轮")
    r2 = RoundFactory(county=world.county_a, name="甲县二轮")
    rb = RoundFactory(county=world.county_b, name="乙县一轮")
    # 甲一所 (grids a1, a2): household h1 of a1 visited in both rounds, counted once.
    _visit(r1, a1.grid, m1, household=a1.households[0], payment=True)
    _visit(r2, a1.grid, m1, household=a1.households[0], payment=True, balance=True)
    _visit(r1, a1.grid, m1, household=a1.households[1], status="missed")
    _visit(r1, a1.grid, m1, village=a1.village, status="planned")
    _visit(r2, a1.grid, m1, village=a1.village, status="cancelled")
    _visit(r1, a2.grid, m2, village=a2.village, find_electrician=True)
    # 甲二所 (grid a3): two households in round 2, one visit without a log.
    _visit(r2, a3.grid, m2, household=a3.households[0])
    _visit(r2, a3.grid, m2, household=a3.households[1], payment=True)
    # 乙县: must never show in 甲县's report.
    _visit(rb, b1.grid, mb, household=b1.households[0], payment=True, balance=True, find_electrician=True)
    _visit(rb, b1.grid, mb, village=b1.village, payment=True, service_change=True)
    return {"r1": r1, "r2": r2, "rb": rb, "m1": m1, "m2": m2, "mb": mb}


FIGURES = ("rounds", "visits_planned", "visits_done", "visits_missed", "visits_cancelled", "households_visited",
           "villages_visited", "guidance_payment", "guidance_balance", "guidance_service_change",
           "guidance_find_electrician")


def _figures(values: dict) -> tuple:
    return tuple(values[name] for name in FIGURES)


def test_per_station_and_totals_of_a_county_without_a_round(world, personas, two_counties):
    result = progress_counts(user=personas.county_admin, group_by="station")
    rows = {row["id"]: _figures(row) for row in result["rows"]}
    #                               rnd pl done mis can hh vil pay bal chg fme
    assert rows == {world.station_a1.pk: (2, 1, 3, 1, 1, 1, 1, 2, 1, 0, 1),
                    world.station_a2.pk: (1, 0, 2, 0, 0, 2, 0, 1, 0, 0, 0)}
    # Two rounds in all, not 2 + 1; three households; visits and guidance summed.
    assert _figures(result["totals"]) == (2, 1, 5, 1, 1, 3, 1, 3, 1, 0, 1)


def test_per_grid_manager_and_totals_of_a_county_without_a_round(world, personas, two_counties):
    result = progress_counts(user=personas.county_admin, group_by="grid_manager")
    rows = {row["id"]: _figures(row) for row in result["rows"]}
    m1, m2 = two_counties["m1"], two_counties["m2"]
    assert rows == {m1.pk: (2, 1, 2, 1, 1, 1, 0, 2, 1, 0, 0),
                    m2.pk: (2, 0, 3, 0, 0, 2, 1, 1, 0, 0, 1)}
    assert _figures(result["totals"]) == (2, 1, 5, 1, 1, 3, 1, 3, 1, 0, 1)


def test_per_grid_within_one_round(world, personas, two_counties):
    result = progress_counts(user=personas.county_admin, round_id=two_counties["r1"].pk, group_by="grid")
    rows = {row["id"]: _figures(row) for row in result["rows"]}
    assert rows == {world.grids["a1"].grid.pk: (1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0),
                    world.grids["a2"].grid.pk: (1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1)}
    assert _figures(result["totals"]) == (1, 1, 2, 1, 0, 1, 1, 1, 0, 0, 1)


def test_per_county_for_the_whole_company_and_the_other_county(world, personas, two_counties):
    result = progress_counts(user=personas.company_admin, group_by="county")
    rows = {row["id"]: _figures(row) for row in result["rows"]}
    assert rows == {world.county_a.pk: (2, 1, 5, 1, 1, 3, 1, 3, 1, 0, 1),
                    world.county_b.pk: (1, 0, 2, 0, 0, 1, 1, 2, 1, 1, 1)}
    assert _figures(result["totals"]) == (3, 1, 7, 1, 1, 4, 2, 5, 2, 1, 2)
    outsider = progress_counts(user=personas.outsider, group_by="grid_manager")
    assert {row["id"]: _figures(row) for row in outsider["rows"]} == {
        two_counties["mb"].pk: (1, 0, 2, 0, 0, 1, 1, 2, 1, 1, 1)}
    assert _figures(outsider["totals"]) == (1, 0, 2, 0, 0, 1, 1, 2, 1, 1, 1)
