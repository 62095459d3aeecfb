"""Who is coming home, on an alert and on an outlook item: the returning residents of the
asset's households in the alert's days, by village, with arrival and departure days; each
person once however many lists name them; phone numbers masked; scoped; a fixed number of
queries."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.parsing import mask_phone
from loadforecast.models import OutlookItem
from loadforecast.outlook_services import outlook_station
from tests.factories import HouseholdFactory, ReturningResidentFactory, VillageFactory
from tests.loadforecast.test_outlook_run import RUN_DATE as OUTLOOK_DATE
from tests.loadforecast.test_outlook_run import _season
from tests.loadforecast.test_pages import RUN_DATE, alert_url, overloaded_station, page

pytestmark = pytest.mark.django_db

ID_NUMBER = "411627196503253526"


def _villages(body: str) -> dict[str, int]:
    return {unescape(name): int(n) for name, n in re.findall(
        r'<details class="lf-village" data-village="([^"]+)"[^>]*>\s*<summary><strong>[^<]*</strong> '
        r'<span class="count" data-village-count>(\d+)</span>', body)}


def _rows(body: str, village: str) -> list[str]:
    block = re.search(rf'data-village="{re.escape(village)}".*?</details>', body, re.S).group(0)
    return re.findall(r"<tr data-person>.*?</tr>", block, re.S)


def test_the_alert_lists_who_comes_home_by_village_each_person_once(client, station_staff, world):
    s = overloaded_station(world)
    alert = s.alert
    a1 = s.a1
    # One person on two lists (a1's village, then 李庄 two days later), by ID number: listed once,
    # in the village of the earliest arrival, with the latest departure.
    first = HouseholdFactory(village=a1.village, transformer=a1.transformer, line=a1.line)
    ReturningResidentFactory(village=a1.village, household=first, name="张重复", phone="13912345678",
                             id_number=ID_NUMBER, arrival_date=RUN_DATE + dt.timedelta(days=2),
                             departure_date=RUN_DATE + dt.timedelta(days=5))
    second = HouseholdFactory(village=s.lizhuang, transformer=a1.transformer, line=a1.line)
    ReturningResidentFactory(village=s.lizhuang, household=second, name="张重复", phone="13912345678",
                             id_number=ID_NUMBER, arrival_date=RUN_DATE + dt.timedelta(days=4),
                             departure_date=RUN_DATE + dt.timedelta(days=8))
    # Not listed: gone before the alert's first day; on the other transformer.
    ReturningResidentFactory(village=a1.village, household=first, name="早走的",
                             arrival_date=alert.first_date - dt.timedelta(days=10),
                             departure_date=alert.first_date)
    other = HouseholdFactory(village=a1.village, transformer=s.a2.transformer, line=s.a2.line)
    ReturningResidentFactory(village=a1.village, household=other, name="别的台区",
                             arrival_date=RUN_DATE + dt.timedelta(days=1))

    response, body = page(client, station_staff, alert_url(alert))
    assert response.status_code == 200
    assert _villages(body) == {a1.village.name: 31, "李庄": 10}
    assert re.search(r"data-returning-total>41<", body)
    [row] = [r for r in _rows(body, a1.village.name) if "张重复" in r]
    assert 'data-entries="2"' in row
    assert f'datetime="{(RUN_DATE + dt.timedelta(days=2)).isoformat()}"' in row
    assert f'datetime="{(RUN_DATE + dt.timedelta(days=8)).isoformat()}"' in row
    assert not any("张重复" in r for r in _rows(body, "李庄"))
    assert "早走的" not in body and "别的台区" not in body
    # Names shown; phone numbers masked only, never the number or the ID number.
    assert mask_phone("13912345678") in row
    assert "13912345678" not in body and ID_NUMBER not in body and ID_NUMBER[-4:] + "<" not in body
    # Every row has its arrival day; the 40 households of the station's list arrive the day after the run.
    rows = _rows(body, "李庄")
    assert len(rows) == 10 and all(f'datetime="{(RUN_DATE + dt.timedelta(days=1)).isoformat()}"' in r for r in rows)


def test_the_list_is_scoped_to_the_readers_territory(client, grid_manager, station_staff, world):
    s = overloaded_station(world)
    # A household of grid a2's village on a1's transformer: the station sees its resident,
    # grid a1's manager does not (the resident belongs to another grid's village).
    a2_village = world.grids["a2"].village
    household = HouseholdFactory(village=a2_village, transformer=s.a1.transformer, line=s.a1.line)
    ReturningResidentFactory(village=a2_village, household=household, name="邻网格",
                             arrival_date=RUN_DATE + dt.timedelta(days=1))
    _, staff_body = page(client, station_staff, alert_url(s.alert))
    assert "邻网格" in staff_body and a2_village.name in _villages(staff_body)
    response, manager_body = page(client, grid_manager, alert_url(s.alert))
    assert response.status_code == 200
    assert "邻网格" not in manager_body and a2_village.name not in _villages(manager_body)
    assert _villages(manager_body)[s.a1.village.name] == 30


def test_the_alert_page_costs_the_same_queries_whatever_the_people_and_villages(client, station_staff, world):
    s = overloaded_station(world)
    url = alert_url(s.alert)

    def queries():
        client.force_login(station_staff)
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    for n in range(15):
        village = VillageFactory(grid=s.a1.grid, name=f"新村{n}")
        household = HouseholdFactory(village=village, transformer=s.a1.transformer, line=s.a1.line)
        ReturningResidentFactory(village=village, household=household, arrival_date=RUN_DATE + dt.timedelta(days=1))
        ReturningResidentFactory(village=village, household=household, arrival_date=RUN_DATE + dt.timedelta(days=2))
    body = client.get(url).content.decode()
    assert len(_villages(body)) == 17
    assert queries() == few


def test_the_outlook_item_lists_this_seasons_registered_people(client, grid_manager, outsider, world):
    g = _season(world)
    run = outlook_station(station_id=world.station_a1.pk, run_date=OUTLOOK_DATE)
    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    response, body = page(client, grid_manager, url)
    assert response.status_code == 200
    # The 20 registered households of this season; last season's entries are not this window's.
    assert _villages(body) == {g.village.name: 20}
    assert all('datetime="2027-02-02"' in r and 'datetime="2027-02-10"' in r for r in _rows(body, g.village.name))
    client.force_login(outsider)
    assert client.get(url).status_code == 404
