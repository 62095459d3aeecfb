"""The round list: figures per round as on the round page, and who sees which rounds."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.visits.factories import RoundFactory, RoundTargetFactory, VisitFactory
from visits.models import Visit


@pytest.fixture
def county_round(world, grid_manager):
    """A county round (no station) with three targets and visits 2 planned, 1 done, 1 missed."""
    a1 = world.grids["a1"]
    rnd = RoundFactory(county=world.county_a, station=None, name="第一轮县级走访")
    for _ in range(3):
        RoundTargetFactory(round=rnd, grid=a1.grid)
    for status, extra in (("planned", {}), ("planned", {}), ("done", {"done_at": timezone.now()}),
                          ("missed", {"missed_reason": "不在家"})):
        VisitFactory(round=rnd, grid=a1.grid, village=a1.village, grid_manager=grid_manager, status=status, **extra)
    return rnd


def test_round_list_counts_each_visit_once(client, county_admin, county_round):
    client.force_login(county_admin)
    response = client.get(reverse("visits:round_list"))
    row = next(r for r in response.context["object_list"] if r.pk == county_round.pk)
    assert (row.target_count, row.planned_count, row.done_count, row.missed_count) == (3, 2, 1, 1)


def test_logging_a_visit_raises_done_by_one(client, county_admin, county_round):
    visit = Visit.objects.filter(round=county_round, status="planned").first()
    Visit.objects.filter(pk=visit.pk).update(status="done", done_at=timezone.now())
    client.force_login(county_admin)
    row = next(r for r in client.get(reverse("visits:round_list")).context["object_list"] if r.pk == county_round.pk)
    assert (row.planned_count, row.done_count) == (1, 2)


def test_station_staff_see_the_county_rounds_their_grid_managers_work_in(client, world, station_staff, county_round):
    other_county = RoundFactory(county=world.county_b, station=None)
    client.force_login(station_staff)
    response = client.get(reverse("visits:round_list"))
    pks = {r.pk for r in response.context["object_list"]}
    assert county_round.pk in pks and other_county.pk not in pks
    assert client.get(reverse("visits:round_detail", args=[county_round.pk])).status_code == 200
    assert client.get(reverse("visits:round_detail", args=[other_county.pk])).status_code == 404
