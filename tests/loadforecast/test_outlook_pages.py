"""The season outlook pages: station headline, items with order-by dates and the XLSX,
the county's list coverage, the scoping of each, and the `outlook` export kind."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from loadforecast.models import OutlookRun
from loadforecast.outlook_services import outlook_station
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.loadforecast.test_outlook_run import RUN_DATE, _season
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def outlook(world):
    g = _season(world)
    return g, outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)


@pytest.mark.django_db
def test_station_staff_see_headline_items_and_order_by_dates(outlook, station_staff, world):
    g, run = outlook
    page = _client(station_staff).get(reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-asset="{g.transformer.code}"' in html
    item = run.items.get(transformer=g.transformer)
    assert f'datetime="{item.order_by.isoformat()}"' in html
    assert "data-late" not in html  # weeks ahead, nothing late
    assert world.grids["a2"].village.name in html  # the village without a list
    assert 'data-source="normal"' in html and 'data-source="forecast"' in html
    # The estimated share of the increase reads as a percentage, not a fraction.
    share = run.headline["estimated_share"]
    assert 0 < share < 1
    assert f"新增负荷中估算部分占比：{round(share * 100)}%" in html


@pytest.mark.django_db
def test_xlsx_export_of_the_station_is_audited(outlook, station_staff, world):
    g, run = outlook
    response = _client(station_staff).get(
        reverse("loadforecast:outlook_station", args=[world.station_a1.pk]) + "?format=xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:5] == ("station_code", "season", "run_date", "asset_type", "asset_code")
    assert rows[1][4] == g.transformer.code and rows[1][1] == 2027
    assert AuditLog.objects.filter(action="export", object_type="loadforecast.outlookrun").exists()


@pytest.mark.django_db
def test_grid_manager_sees_only_their_grids_items_and_outsider_gets_404(outlook, grid_manager, outsider, world):
    g, run = outlook
    url = reverse("loadforecast:outlook_station", args=[world.station_a1.pk])
    assert _client(outsider).get(url).status_code == 404
    assert f'data-asset="{g.transformer.code}"' in _client(grid_manager).get(url).content.decode()
    neighbour = UserFactory(username="gm_a2")
    RoleAssignmentFactory(user=neighbour, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)
    page = _client(neighbour).get(url)
    assert page.status_code == 200 and f'data-asset="{g.transformer.code}"' not in page.content.decode()


@pytest.mark.django_db
def test_county_page_sums_stations_and_shows_list_coverage(outlook, county_admin, outsider, world):
    url = reverse("loadforecast:outlook_county", args=[world.county_a.pk])
    html = _client(county_admin).get(url).content.decode()
    assert 'data-station="JA-GDS-01"' in html and 'data-station="JA-GDS-02"' in html
    assert "1 / 2" in html  # village a1 reported, a2 not
    share = OutlookRun.objects.get(station=world.station_a1, run_date=RUN_DATE).headline["estimated_share"]
    assert f"估算占比 {round(share * 100)}%" in html
    assert world.grids["a2"].village.name in html
    assert _client(outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_station_staff_make_the_outlook_from_the_page(world, station_staff, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: RUN_DATE)
    _season(world)
    response = _client(station_staff).post(reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
    assert response.status_code == 302
    assert OutlookRun.objects.filter(station=world.station_a1, run_date=RUN_DATE, days_projected=30).exists()


@pytest.mark.django_db
def test_outlook_export_kind_is_scoped(outlook, county_admin, world):
    from zhoukou_grid.core.importing.spec import get_kind

    kind = get_kind("outlook")
    rows = list(kind.export_rows(kind.export_queryset(county_admin)))
    assert rows and all(row["station_code"] == "JA-GDS-01" for row in rows)
    assert rows[0]["order_by"] == (rows[0]["first_heavy_date"] and
                                   (dt.date.fromisoformat(rows[0]["first_heavy_date"]) - dt.timedelta(days=20))
                                   .isoformat())


def _settings_post(**changes):
    data = {"window_days_before": 15, "window_days_after": 14, "reach_days": 90,
            "normal_min_temperature_c": "-3, -1, 4, 10, 15, 20, 23, 22, 17, 11, 4, -1", "use_estimates": "on",
            "lead_days_temp_capacity": 20, "lead_days_transfer": 5, "lead_days_phase_balance": 3,
            "lead_days_staggered": 3, "lead_days_patrol": 1, "notice_days_before_order_by": 3}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_county_admin_sets_outlook_settings_and_bad_ones_write_nothing(world, county_admin, station_staff, outsider):
    from loadforecast.models import OutlookSettings

    url = reverse("loadforecast:outlook_settings", args=[world.county_a.pk])
    admin = _client(county_admin)
    for bad in ({"normal_min_temperature_c": "-3, -1, 4"}, {"lead_days_patrol": -1},
                {"window_days_before": 30, "window_days_after": 20}, {"normal_min_temperature_c": "冷"}):
        response = admin.post(url, _settings_post(**bad))
        assert response.status_code == 400 and 'role="alert"' in response.content.decode()
    assert not OutlookSettings.objects.exists()
    assert admin.post(url, _settings_post(lead_days_temp_capacity=30, use_estimates=None)).status_code == 302
    assert OutlookSettings.objects.get(county=world.county_a, station=None).values == {
        "lead_days_temp_capacity": 30, "use_estimates": False}
    assert AuditLog.objects.filter(action="outlook_settings").count() == 1
    staff = _client(station_staff)
    page = staff.get(url)
    assert page.status_code == 200 and "name=\"lead_days_patrol\"" not in page.content.decode()
    assert staff.post(url, _settings_post()).status_code == 403
    assert _client(outsider).get(url).status_code in (403, 404)


@pytest.mark.django_db
def test_asset_outlook_page_stacks_baseline_registered_and_estimated(outlook, station_staff, outsider, world):
    import json

    g, run = outlook
    item = run.items.get(transformer=g.transformer)
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    page = _client(station_staff).get(url)
    assert page.status_code == 200
    chart = json.loads(page.content.decode().split('id="outlook-chart-data" type="application/json">')[1]
                       .split("</script>")[0])
    for d, day in enumerate(item.daily):
        assert chart["baseline"][d] + chart["registered"][d] + chart["estimated"][d] == pytest.approx(day[2], abs=0.02)
    eve = [i for i, meta in enumerate(run.days) if meta["date"] == "2027-02-05"][0]
    assert chart["estimated"][eve] > 0 and chart["registered"][eve] > 0
    assert chart["labels"][0].endswith("*") and not chart["labels"][eve].endswith("*")  # normal vs forecast
    assert [line["kw"] for line in chart["lines"]] == [pytest.approx(160 * 0.9 * r) for r in (0.7, 0.8, 1.0)]
    assert _client(outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_grid_managers_home_lists_the_outlook_items_of_their_grid(outlook, grid_manager, world):
    g, run = outlook
    worst = run.items.filter(level__gte=2, grid=g.grid).order_by("-level", "-peak_load_rate").first()
    assert worst is not None, "the season of the test world puts an asset at heavy load or above"
    body = _client(grid_manager).get(reverse("home")).content.decode()
    assert 'data-section="outlook"' in body
    assert reverse("loadforecast:outlook_item", args=[worst.pk]) in body
    neighbour = UserFactory(username="gm_a2_home")
    RoleAssignmentFactory(user=neighbour, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)
    assert 'data-section="outlook"' not in _client(neighbour).get(reverse("home")).content.decode()
