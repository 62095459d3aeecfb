"""The season outlook API: runs and items, scoped, the latest run by default, filters."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from loadforecast.outlook_services import outlook_station
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.loadforecast.test_outlook_run import RUN_DATE, _season
from zhoukou_grid.territory.models import Role


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_outlook_runs_and_items_are_scoped(world, station_staff, outsider):
    g = _season(world)
    run = outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    outlook_station(station_id=world.station_b1.pk, run_date=RUN_DATE)
    runs = _api(station_staff).get("/api/v1/outlook-runs/", {"latest": "true"}).json()["results"]
    assert [r["station"] for r in runs] == ["JA-GDS-01"]
    assert runs[0]["headline"]["villages_reported"] == 1 and runs[0]["days_projected"] == 30
    items = _api(station_staff).get("/api/v1/outlook-items/", {"asset_type": "transformer"}).json()["results"]
    assert [i["asset_code"] for i in items] == [g.transformer.code]
    item = items[0]
    assert item["run"] == run.pk and item["estimated_households"] >= 0 and item["order_by"]
    assert {m["kind"] for m in item["measures"]} >= {"staggered", "patrol"}
    assert _api(outsider).get(f"/api/v1/outlook-items/{item['id']}/").status_code == 404
    staff_b = UserFactory(username="staff_b")
    RoleAssignmentFactory(user=staff_b, role=Role.STATION_STAFF, station=world.station_b1)
    assert _api(staff_b).get(f"/api/v1/outlook-runs/{run.pk}/").status_code == 404
    assert _api(outsider).get("/api/v1/outlook-runs/").status_code == 403  # grid managers see items only
    assert _api(station_staff).get("/api/v1/outlook-items/", {"late": "true"}).json()["results"] == []


@pytest.mark.django_db
def test_outlook_settings_api_validates_audits_and_scopes(world, county_admin, station_staff):
    from loadforecast.models import OutlookSettings
    from zhoukou_grid.core.models import AuditLog

    admin = _api(county_admin)
    bad = admin.post("/api/v1/outlook-settings/", {"county": "411601", "station": None, "values": {"lead_days_patrol": -1}},
                     format="json")
    assert bad.status_code == 400 and "must not be negative" in str(bad.json())
    assert not OutlookSettings.objects.exists()
    made = admin.post("/api/v1/outlook-settings/", {"county": "411601", "station": None, "values": {"lead_days_patrol": 2}},
                      format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["effective"]["lead_days_patrol"] == 2
    assert AuditLog.objects.filter(action="outlook_settings").count() == 1
    assert _api(station_staff).post("/api/v1/outlook-settings/", {"county": "411601", "station": None, "values": {}},
                                    format="json").status_code == 403
