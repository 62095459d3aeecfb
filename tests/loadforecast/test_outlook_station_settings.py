"""A station's season-outlook overrides (docs/domain.md §6.7, "county settings, station
overrides"): county admins set them for the stations of their county (audited), blank takes
the county's value; refusals in Chinese on their fields; station staff read; outsiders 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from loadforecast.models import OutlookSettings
from loadforecast.outlook_services import outlook_settings_for_station, outlook_settings_update
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

BLANK = {"window_days_before": "", "window_days_after": "", "reach_days": "", "normal_min_temperature_c": "",
         "use_estimates": "", "lead_days_temp_capacity": "", "lead_days_transfer": "", "lead_days_phase_balance": "",
         "lead_days_staggered": "", "lead_days_patrol": "", "notice_days_before_order_by": ""}


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _url(station):
    return reverse("loadforecast:outlook_stationsettings", args=[station.pk])


def test_a_county_admin_sets_a_stations_overrides_on_top_of_the_county(world, county_admin):
    outlook_settings_update(county_id=world.county_a.pk, values={"lead_days_temp_capacity": 25}, user=county_admin)
    admin = _client(county_admin)
    page = admin.get(_url(world.station_a1))
    assert page.status_code == 200
    body = page.content.decode()
    assert re.search(r'name="lead_days_temp_capacity"[^>]*placeholder="25"', body) or \
        re.search(r'placeholder="25"[^>]*name="lead_days_temp_capacity"', body)
    response = admin.post(_url(world.station_a1), {**BLANK, "lead_days_transfer": "8", "use_estimates": "no"})
    assert response.status_code == 302
    row = OutlookSettings.objects.get(station=world.station_a1)
    assert row.values == {"lead_days_transfer": 8, "use_estimates": False} and row.updated_by == county_admin
    settings = outlook_settings_for_station(world.station_a1)
    assert (settings.lead_days_transfer, settings.use_estimates, settings.lead_days_temp_capacity) == (8, False, 25)
    assert outlook_settings_for_station(world.station_a2).lead_days_transfer == 5
    audit = AuditLog.objects.filter(action="outlook_settings", object_id=str(row.pk)).get()
    assert audit.user == county_admin and audit.detail["after"] == row.values
    # The form shows what was stored; all blank clears the overrides.
    page = admin.get(_url(world.station_a1)).content.decode()
    assert re.search(r'name="lead_days_transfer"[^>]*value="8"', page)
    assert admin.post(_url(world.station_a1), BLANK).status_code == 302
    assert OutlookSettings.objects.get(station=world.station_a1).values == {}
    # The county page links each station's overrides.
    county = admin.get(reverse("loadforecast:outlook_settings", args=[world.county_a.pk])).content.decode()
    assert f'data-station-settings="{world.station_a1.code}"' in county


@pytest.mark.parametrize("changes, field, expected", [
    ({"window_days_before": "40"}, "__all__", "窗口共 55 天，最多 45 天。"),
    ({"lead_days_patrol": "-1"}, "lead_days_patrol", "不能为负数。"),
    ({"normal_min_temperature_c": "1, 2"}, "normal_min_temperature_c", "请填写 12 个月的数值（您填写了 2 个）。"),
    ({"reach_days": "0"}, "reach_days", "至少为 1。"),
])
def test_refused_overrides_are_explained_in_chinese_and_write_nothing(world, county_admin, changes, field, expected):
    response = _client(county_admin).post(_url(world.station_a1), {**BLANK, **changes})
    assert response.status_code == 400
    assert expected in response.context["form"].errors[field]
    assert expected in response.content.decode()
    assert not OutlookSettings.objects.exists()
    assert not AuditLog.objects.filter(action="outlook_settings").exists()


def test_station_staff_read_and_outsiders_get_nothing(world, station_staff, outsider):
    staff = _client(station_staff)
    page = staff.get(_url(world.station_a1))
    assert page.status_code == 200
    assert re.search(r'name="lead_days_transfer"[^>]*disabled', page.content.decode())
    assert staff.post(_url(world.station_a1), {**BLANK, "lead_days_transfer": "8"}).status_code == 403
    assert _client(outsider).get(_url(world.station_a1)).status_code in (403, 404)
    assert not OutlookSettings.objects.exists()


def test_a_county_admin_cannot_reach_another_countys_station(world, county_admin):
    assert _client(county_admin).get(_url(world.station_b1)).status_code == 404
    assert _client(county_admin).post(_url(world.station_b1), {**BLANK, "reach_days": "60"}).status_code == 404
