"""Run visibility is one rule (selectors.runs_visible_to) for the runs page and the API."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from loadforecast import selectors
from tests.loadforecast.factories import ProjectionRunFactory

pytestmark = pytest.mark.django_db


def test_runs_visible_to_each_persona_and_the_page_and_api_agree(client, personas, world):
    mine = ProjectionRunFactory(station=world.station_a1)
    other = ProjectionRunFactory(station=world.station_a2)
    elsewhere = ProjectionRunFactory(station=world.station_b1)
    nightly = ProjectionRunFactory(station=None)
    expected = {
        "company_admin": {mine, other, elsewhere, nightly},
        "county_admin": {mine, other, nightly},
        "station_staff": {mine, nightly},
        "grid_manager": {mine, nightly},  # the station of their grid
        "outsider": {elsewhere, nightly},
        "nobody": set(),
    }
    for name, runs in expected.items():
        user = getattr(personas, name)
        want = {run.pk for run in runs}
        assert set(selectors.runs_visible_to(user).values_list("pk", flat=True)) == want, name
        if name == "nobody":
            continue
        client.force_login(user)
        body = client.get(reverse("loadforecast:load_runs")).content.decode()
        assert {int(pk) for pk in re.findall(r'data-run="(\d+)"', body)} == want, name
        api = APIClient()
        api.force_login(user)
        assert {row["id"] for row in api.get("/api/v1/projection-runs/").json()["results"]} == want, name


def test_a_run_of_the_own_station_shows_all_its_errors_on_the_page_and_in_the_api(client, station_staff, world):
    error = "stations that never reported before the time limit: JA-GDS-01"
    run = ProjectionRunFactory(station=world.station_a1, status="failed", error=error)
    client.force_login(station_staff)
    page = client.get(reverse("loadforecast:load_run", args=[run.pk]))
    assert page.context["errors"] == [error]
    api = APIClient()
    api.force_login(station_staff)
    assert api.get(f"/api/v1/projection-runs/{run.pk}/").json()["error"] == error
    # The same line in a run of all stations names other stations: not shown to station staff.
    nightly = ProjectionRunFactory(station=None, status="failed", error=error.replace("JA-GDS-01", "YI-GDS-01"))
    assert client.get(reverse("loadforecast:load_run", args=[nightly.pk])).context["errors"] == []
    assert api.get(f"/api/v1/projection-runs/{nightly.pk}/").json()["error"] == ""
