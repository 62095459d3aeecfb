"""One person on two villages' lists (docs/security.md, "Existence oracles": the ID number is
unique per village only) is counted once a day by the projection, at the earliest arrival."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from loadforecast import engine
from loadforecast.services import read_station_inputs
from tests.factories import HouseholdFactory, ReturningResidentFactory

RUN_DATE = dt.date(2027, 2, 1)
DAYS = 8
ID_NUMBER = "411627196503253526"


def test_later_records_of_a_person_keep_only_the_days_no_earlier_one_covers():
    d = np.datetime64("2027-02-01")
    person = np.array([0, 0, 0, -1, -1, 1])
    arrival = np.array([d + 1, d + 2, d + 4, d, d, d + 3])
    departure = np.array([d + 3, d + 10, d + 6, d + 5, d + 5, "NaT"], dtype="datetime64[D]")
    order = np.array([30, 20, 10, 1, 2, 3])
    cut_arrival, cut_departure = engine.one_stay_per_person(person, arrival, departure, order)
    # Person 0: [1, 3) stays; [2, 10) becomes [3, 10); [4, 6) lies inside it: emptied.
    assert list(cut_arrival[:3] - d) == [1, 3, 6] and list(cut_departure[:3] - d) == [3, 10, 6]
    # Unknown persons (no ID number) are never merged; a single record is unchanged but for its default departure.
    assert list(cut_arrival[3:] - d) == [0, 0, 3] and not np.isnat(cut_departure[5])
    # The same arrival: the smaller order (the record's id) wins.
    tie_arrival, _tie_departure = engine.one_stay_per_person(
        np.array([0, 0]), np.array([d, d]), np.array([d + 3, d + 3]), np.array([9, 5]))
    assert list(tie_arrival - d) == [3, 0]


def _resident(grid, arrival, departure, **extra):
    household = HouseholdFactory(village=grid.village, transformer=grid.transformer, line=grid.line)
    return ReturningResidentFactory(village=grid.village, household=household, arrival_date=arrival,
                                    departure_date=departure, **extra)


def _present(station):
    inputs = read_station_inputs(station, RUN_DATE, DAYS, engine.ProjectionSettings())
    return engine.returning_households_present(
        resident_household=inputs.r_household, arrival=inputs.arrival, departure=inputs.departure,
        household_group=inputs.h_transformer, groups=len(inputs.t_ids), run_date=RUN_DATE, days=DAYS,
    ).present.sum(axis=0)


@pytest.mark.django_db
def test_the_same_person_in_two_villages_of_a_station_is_counted_once_a_day(world):
    a1, a2 = world.grids["a1"], world.grids["a2"]  # two grids of station 甲一所
    _resident(a1, dt.date(2027, 2, 2), dt.date(2027, 2, 6), id_number=ID_NUMBER)
    _resident(a2, dt.date(2027, 2, 4), dt.date(2027, 2, 8), id_number=ID_NUMBER)
    _resident(a2, dt.date(2027, 2, 3), dt.date(2027, 2, 5))  # someone else, no ID number
    # Days 1-4 at a1 (the earliest arrival), then days 5-6 at a2; the other person on days 2-3.
    assert list(_present(world.station_a1)) == [0, 1, 2, 2, 1, 1, 1, 0]


@pytest.mark.django_db
def test_every_station_picks_the_same_record(world):
    a1, a3 = world.grids["a1"], world.grids["a3"]  # 甲一所 and 甲二所
    _resident(a1, dt.date(2027, 2, 2), dt.date(2027, 2, 6), id_number=ID_NUMBER)
    _resident(a3, dt.date(2027, 2, 4), dt.date(2027, 2, 8), id_number=ID_NUMBER)
    first, second = _present(world.station_a1), _present(world.station_a2)
    assert list(first) == [0, 1, 1, 1, 1, 0, 0, 0]
    assert list(second) == [0, 0, 0, 0, 0, 1, 1, 0]
    assert (first + second).max() == 1


@pytest.mark.django_db
def test_a_person_listed_for_two_seasons_counts_only_on_the_days_of_each_stay(world):
    """Last season's entry and this season's entry of one person and village coexist (one entry
    per person, village and season); a window counts the person on this season's days only."""
    a1 = world.grids["a1"]
    household = HouseholdFactory(village=a1.village, transformer=a1.transformer, line=a1.line)
    person = {"name": "岑", "phone": "13800000099", "id_number": ID_NUMBER}
    last = ReturningResidentFactory(village=a1.village, household=household, **person,
                                    arrival_date=dt.date(2026, 2, 10), departure_date=None)
    this = ReturningResidentFactory(village=a1.village, household=household, **person,
                                    arrival_date=dt.date(2027, 2, 3), departure_date=dt.date(2027, 2, 6))
    assert (last.season, this.season, last.match_key) == (2026, 2027, this.match_key)
    assert list(_present(world.station_a1)) == [0, 0, 1, 1, 1, 0, 0, 0]
