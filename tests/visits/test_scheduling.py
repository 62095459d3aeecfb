"""The round scheduler: capacity, grids, priorities, cadence and what did not fit."""

from collections import Counter
from datetime import date, timedelta

import pytest

from visits.scheduling import Manager, Target, Visit, schedule

START = date(2027, 1, 20)
END = date(2027, 1, 24)


def households(n, grid_id=1, earliest=None):
    return [Target(key=f"household:{grid_id}-{i}", grid_id=grid_id, earliest=earliest) for i in range(n)]


def test_it_never_exceeds_the_daily_capacity():
    result = schedule(targets=households(23), managers=[Manager(7, frozenset({1}))], start=START, end=END,
                      daily_capacity=5)
    per_day = Counter((v.manager_id, v.day) for v in result.visits)
    assert max(per_day.values()) == 5
    assert len(result.visits) == 23
    assert result.unplaced == []


def test_what_does_not_fit_is_explained_with_its_window():
    result = schedule(targets=households(30), managers=[Manager(7, frozenset({1}))], start=START, end=END,
                      daily_capacity=5)
    assert len(result.visits) == 25
    assert len(result.unplaced) == 5
    assert {(u.reason, u.window_start, u.window_end) for u in result.unplaced} == {("no_capacity", START, END)}


def test_it_never_assigns_outside_the_targets_grid():
    managers = [Manager(7, frozenset({1})), Manager(8, frozenset({2}))]
    targets = households(4, grid_id=1) + households(4, grid_id=2) + households(2, grid_id=3)
    result = schedule(targets=targets, managers=managers, start=START, end=END, daily_capacity=10)
    grid_of_manager = {7: 1, 8: 2}
    for visit in result.visits:
        assert visit.target_key.startswith(f"household:{grid_of_manager[visit.manager_id]}-")
    assert sorted(u.target_key for u in result.unplaced) == ["household:3-0", "household:3-1"]
    assert {u.reason for u in result.unplaced} == {"no_manager"}


def test_key_customers_and_earliest_arrivals_come_first():
    late = Target("household:late", 1, earliest=START)
    early_arrival = Target("household:early", 1, earliest=START - timedelta(days=3))
    key_customer = Target("keycustomer:1", 1, is_key_customer=True)
    result = schedule(targets=[late, early_arrival, key_customer], managers=[Manager(7, frozenset({1}))],
                      start=START, end=START, daily_capacity=2)
    assert [v.target_key for v in result.visits] == ["keycustomer:1", "household:early"]
    assert [u.target_key for u in result.unplaced] == ["household:late"]


def test_a_household_is_not_visited_before_its_residents_arrive():
    arrival = START + timedelta(days=2)
    result = schedule(targets=households(1, earliest=arrival), managers=[Manager(7, frozenset({1}))],
                      start=START, end=END, daily_capacity=5)
    assert result.visits == [Visit(7, arrival, "household:1-0")]


def test_arrival_after_the_period_is_outside_it():
    result = schedule(targets=households(1, earliest=END + timedelta(days=1)), managers=[Manager(7, frozenset({1}))],
                      start=START, end=END, daily_capacity=5)
    assert result.unplaced[0].reason == "outside_period"


def test_holidays_get_no_visits():
    holidays = {START, START + timedelta(days=1)}
    result = schedule(targets=households(3), managers=[Manager(7, frozenset({1}))], start=START, end=END,
                      daily_capacity=5, holidays=holidays)
    assert {v.day for v in result.visits} == {START + timedelta(days=2)}


def test_cadence_gives_one_visit_per_window():
    weekly = Target("keycustomer:1", 1, is_key_customer=True, cadence_days=7)
    result = schedule(targets=[weekly], managers=[Manager(7, frozenset({1}))], start=START,
                      end=START + timedelta(days=20), daily_capacity=5)
    assert [v.day for v in result.visits] == [START, START + timedelta(days=7), START + timedelta(days=14)]


def test_existing_visits_take_capacity_and_are_not_planned_twice():
    existing = [Visit(7, START, "household:1-0")] + [Visit(7, START, f"other:{i}") for i in range(3)]
    result = schedule(targets=households(3), managers=[Manager(7, frozenset({1}))], start=START, end=END,
                      daily_capacity=5, existing=existing)
    assert result.already_planned == 1
    assert sorted((v.day, v.target_key) for v in result.visits) == [
        (START, "household:1-1"), (START + timedelta(days=1), "household:1-2")]


def test_work_is_spread_over_the_managers_of_one_grid():
    managers = [Manager(7, frozenset({1})), Manager(8, frozenset({1}))]
    result = schedule(targets=households(4), managers=managers, start=START, end=START, daily_capacity=2)
    assert Counter(v.manager_id for v in result.visits) == {7: 2, 8: 2}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        schedule(targets=[], managers=[], start=START, end=END, daily_capacity=0)
    with pytest.raises(ValueError):
        schedule(targets=[], managers=[], start=END, end=START, daily_capacity=1)
