"""The back-test page renders the report of the user's territory (view called directly:
its URL is wired in loadforecast/urls.py once that file is committed)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from loadforecast.views_backtest import BacktestView
from tests.loadforecast.test_backtest import _season


def render(user, **params):
    request = RequestFactory().get("/load/backtest/", params)
    request.user = user
    response = BacktestView.as_view()(request)
    response.render()
    return response


@pytest.mark.django_db
def test_station_staff_see_their_station_and_the_suggested_p_hh(world, personas):
    _season(world)
    response = render(personas.station_staff, first_date="2027-02-05", last_date="2027-02-06")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-station="JA-GDS-01"' in html and 'data-station="JA-GDS-02"' not in html
    assert world.grids["a1"].transformer.code in html
    assert world.grids["a3"].transformer.code not in html
    assert "<script" not in html.split("<main", 1)[-1] and "style=" not in html


@pytest.mark.django_db
def test_a_period_backwards_is_refused_and_the_outsider_sees_nothing(world, personas):
    _season(world)
    backwards = render(personas.county_admin, first_date="2027-02-06", last_date="2027-02-05").content.decode()
    assert 'class="error"' in backwards and "data-backtest-stations" not in backwards
    outsider = render(personas.outsider, first_date="2027-02-05", last_date="2027-02-06").content.decode()
    assert "data-backtest-empty" in outsider and world.grids["a1"].transformer.code not in outsider


@pytest.mark.django_db
def test_the_page_is_served_under_load_backtest(client, world, personas):
    _season(world)
    client.force_login(personas.grid_manager)
    response = client.get("/load/backtest/", {"first_date": "2027-02-05", "last_date": "2027-02-06"})
    assert response.status_code == 200 and 'data-station="JA-GDS-01"' in response.content.decode()
    client.force_login(personas.nobody)
    assert client.get("/load/backtest/").status_code == 403
