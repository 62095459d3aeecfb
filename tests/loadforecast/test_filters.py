"""One AlertFilterSet (loadforecast/filters.py) behind the alert queue and GET /api/v1/alerts/:
the same parameters list the same alerts on the page and in the API, the default included
(active alerts only)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from loadforecast.models import Alert
from tests.loadforecast.factories import AlertFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(world):
    a1, a2, a3 = world.grids["a1"], world.grids["a2"], world.grids["a3"]
    make = AlertFactory
    return {
        "open": make(grid=a1.grid, transformer=a1.transformer, level=3,
                     first_date=dt.date(2027, 2, 3), last_date=dt.date(2027, 2, 6)),
        "acknowledged": make(grid=a2.grid, transformer=a2.transformer, level=2, status=Alert.Status.ACKNOWLEDGED),
        "line": make(grid=a1.grid, transformer=None, line=a1.line, level=1),
        "dismissed": make(grid=a1.grid, transformer=a1.transformer, level=4, status=Alert.Status.DISMISSED),
        "mitigated": make(grid=a3.grid, transformer=a3.transformer, level=2, status=Alert.Status.MITIGATED),
        "closed": make(grid=a3.grid, transformer=a3.transformer, level=3, status=Alert.Status.CLOSED),
    }


def _page_ids(client, params) -> set[int]:
    response = client.get(reverse("loadforecast:alert_list"), params)
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'<tr data-alert="(\d+)"', response.content.decode())}


def _api_ids(api, params) -> set[int]:
    response = api.get("/api/v1/alerts/", params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_page_and_the_api_list_the_same_alerts_for_the_same_parameters(client, county_admin, world, queue):
    client.force_login(county_admin)
    api = APIClient()
    api.force_login(county_admin)
    a1 = world.grids["a1"]
    ids = {name: alert.pk for name, alert in queue.items()}
    expected = [
        ({}, {"open", "acknowledged", "line"}),  # the default: active alerts
        ({"status": "all"}, set(ids)),
        ({"status": "dismissed"}, {"dismissed"}),
        ({"status": ["mitigated", "closed"]}, {"mitigated", "closed"}),
        ({"active": "false"}, {"dismissed", "mitigated", "closed"}),
        ({"active": "true"}, {"open", "acknowledged", "line"}),
        ({"level": "3"}, {"open"}),
        ({"level_min": "2"}, {"open", "acknowledged"}),
        ({"asset_type": "lvline"}, {"line"}),
        ({"station": world.station_a2.code, "status": "all"}, {"mitigated", "closed"}),
        ({"station": world.station_a1.pk}, {"open", "acknowledged", "line"}),  # links name it by id
        ({"grid": world.grids["a2"].grid.code}, {"acknowledged"}),
        ({"grid": world.grids["a2"].grid.pk}, {"acknowledged"}),
        ({"q": a1.line.code}, {"line"}),
        ({"code": a1.transformer.code, "status": "all"}, {"open", "dismissed"}),
        ({"day": "2027-02-03"}, {"open"}),
    ]
    for params, names in expected:
        want = {ids[name] for name in names}
        assert _page_ids(client, params) == want, params
        assert _api_ids(api, params) == want, params


def test_an_alert_of_any_status_still_answers_in_the_api(county_admin, queue):
    api = APIClient()
    api.force_login(county_admin)
    assert api.get(f"/api/v1/alerts/{queue['closed'].pk}/").status_code == 200


def test_a_station_outside_the_territory_is_refused_by_both(client, station_staff, world, queue):
    client.force_login(station_staff)
    api = APIClient()
    api.force_login(station_staff)
    other = world.station_b1.code
    assert api.get("/api/v1/alerts/", {"station": other}).status_code == 400
    response = client.get(reverse("loadforecast:alert_list"), {"station": other})
    assert response.status_code == 200 and "station" in response.context["filterset"].form.errors
