"""Scheduling the visits of a round: plain Python, no Django.

Given the round's targets, the grid managers and their grids, the period, a daily
capacity per grid manager, holidays and the visits already planned, `schedule` places
each target with a grid manager of its grid on a day with capacity left:

- key customers first, then targets by earliest date (e.g. a household's first
  returning resident's arrival), then by key, so the result is deterministic;
- a target with a cadence (a key customer's plan: weekly during the festival) gets one
  visit in each cadence window of the period;
- a target with a key date (a plan's "before and after" date) gets one visit in the
  days before it and one in the days after it, when those lie in the period; a visit
  there also counts for the cadence window around it;
- it never exceeds the capacity, never assigns outside the target's grid, never plans a
  target twice in one window (an existing visit counts), and says why a target did
  not fit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class Target:
    key: str  # e.g. "keycustomer:12", "household:345", "village:7"
    grid_id: int
    is_key_customer: bool = False
    earliest: date | None = None  # not before this day (arrival of returning residents)
    cadence_days: int | None = None  # one visit per window of this many days
    # Windows that each need a visit besides the cadence's, e.g. the days before and after a key date.
    extra_windows: tuple[tuple[date, date], ...] = ()


@dataclass(frozen=True)
class Manager:
    user_id: int
    grid_ids: frozenset[int]


@dataclass(frozen=True)
class Visit:
    manager_id: int
    day: date
    target_key: str


@dataclass(frozen=True)
class Unplaced:
    target_key: str
    reason: str  # a code: "no_manager", "no_capacity", "outside_period"
    window_start: date | None = None
    window_end: date | None = None


@dataclass
class Schedule:
    visits: list[Visit] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    already_planned: int = 0


def _days(start: date, end: date, holidays: set[date]) -> list[date]:
    count = (end - start).days + 1
    return [start + timedelta(days=i) for i in range(count) if start + timedelta(days=i) not in holidays]


def _windows(target: Target, start: date, end: date) -> list[tuple[date, date]]:
    first = max(start, target.earliest) if target.earliest else start
    if first > end:
        return []
    # The tight windows first: a visit placed there is seen by the cadence window around it.
    extra = [(max(first, a), min(end, b)) for a, b in target.extra_windows if max(first, a) <= min(end, b)]
    if not target.cadence_days:
        return [*extra, (first, end)]
    windows = extra
    window_start = first
    while window_start <= end:
        window_end = min(end, window_start + timedelta(days=target.cadence_days - 1))
        windows.append((window_start, window_end))
        window_start = window_end + timedelta(days=1)
    return windows


def schedule(
    *,
    targets: Iterable[Target],
    managers: Iterable[Manager],
    start: date,
    end: date,
    daily_capacity: int,
    holidays: Iterable[date] = (),
    existing: Iterable[Visit] = (),
) -> Schedule:
    """Place the targets; see the module docstring for the rules."""
    if daily_capacity < 1:
        raise ValueError("daily_capacity must be at least 1")
    if end < start:
        raise ValueError("the period ends before it starts")
    holiday_set = set(holidays)
    working_days = _days(start, end, holiday_set)
    managers_by_grid: dict[int, list[int]] = defaultdict(list)
    for manager in sorted(managers, key=lambda m: m.user_id):
        for grid_id in manager.grid_ids:
            managers_by_grid[grid_id].append(manager.user_id)

    load: dict[tuple[int, date], int] = defaultdict(int)
    planned_days: dict[str, list[date]] = defaultdict(list)
    for visit in existing:
        load[(visit.manager_id, visit.day)] += 1
        planned_days[visit.target_key].append(visit.day)

    result = Schedule()
    ordered = sorted(targets, key=lambda t: (not t.is_key_customer, t.earliest or start, t.key))
    for target in ordered:
        candidates = managers_by_grid.get(target.grid_id)
        if not candidates:
            result.unplaced.append(Unplaced(target.key, "no_manager"))
            continue
        windows = _windows(target, start, end)
        if not windows:
            result.unplaced.append(Unplaced(target.key, "outside_period", target.earliest, end))
            continue
        for window_start, window_end in windows:
            if any(window_start <= day <= window_end for day in planned_days[target.key]):
                result.already_planned += 1
                continue
            slot = _first_free_slot(candidates, working_days, window_start, window_end, load, daily_capacity)
            if slot is None:
                result.unplaced.append(Unplaced(target.key, "no_capacity", window_start, window_end))
                continue
            manager_id, day = slot
            load[(manager_id, day)] += 1
            planned_days[target.key].append(day)
            result.visits.append(Visit(manager_id, day, target.key))
    return result


def _first_free_slot(candidates, working_days, window_start, window_end, load, capacity):
    """The earliest day in the window with capacity; among managers, the least loaded."""
    for day in working_days:
        if day < window_start:
            continue
        if day > window_end:
            return None
        free = [(load[(manager_id, day)], manager_id) for manager_id in candidates if load[(manager_id, day)] < capacity]
        if free:
            return min(free)[1], day
    return None
