"""The end of an alert's path: station staff close a mitigated alert (service, page, API);
runs never reopen a closed alert."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from loadforecast.models import Alert, AlertHistory
from loadforecast.services import alert_close, projection_run
from tests.loadforecast.factories import AlertFactory
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.core.models import AuditLog


@pytest.fixture
def mitigated(world):
    g = world.grids["a1"]
    return AlertFactory(grid=g.grid, transformer=g.transformer, status=Alert.Status.MITIGATED)


@pytest.mark.django_db
def test_station_staff_close_a_mitigated_alert_with_history_and_audit(personas, mitigated):
    alert = alert_close(user=personas.station_staff, alert_id=mitigated.pk, note="换了新变压器")
    assert alert.status == Alert.Status.CLOSED
    entry = AlertHistory.objects.get(alert=mitigated, action="closed")
    assert entry.user == personas.station_staff and entry.status == "closed" and entry.note == "换了新变压器"
    assert AuditLog.objects.filter(action="alert.closed", object_id=str(mitigated.pk),
                                   user=personas.station_staff).count() == 1


@pytest.mark.django_db
def test_only_a_mitigated_alert_can_be_closed_and_only_inside_the_territory(personas, world):
    g = world.grids["a1"]
    open_alert = AlertFactory(grid=g.grid, transformer=g.transformer)
    with pytest.raises(ValidationError):
        alert_close(user=personas.station_staff, alert_id=open_alert.pk)
    b = world.grids["b1"]
    theirs = AlertFactory(grid=b.grid, transformer=b.transformer, status=Alert.Status.MITIGATED)
    with pytest.raises(Http404):
        alert_close(user=personas.station_staff, alert_id=theirs.pk)
    with pytest.raises(PermissionDenied):
        alert_close(user=personas.nobody, alert_id=theirs.pk)
    open_alert.refresh_from_db()
    theirs.refresh_from_db()
    assert open_alert.status == "open" and theirs.status == "mitigated"
    assert not AuditLog.objects.filter(action="alert.closed").exists()


@pytest.mark.django_db
def test_the_alert_page_offers_close_for_a_mitigated_alert(personas, mitigated, world):
    client = Client()
    client.force_login(personas.station_staff)
    url = reverse("loadforecast:alert_detail", args=[mitigated.pk])
    page = client.get(url).content.decode()
    assert 'value="close"' in page
    assert client.post(url, {"action": "close"}).status_code == 302
    mitigated.refresh_from_db()
    assert mitigated.status == "closed"
    assert 'value="close"' not in client.get(url).content.decode()
    g = world.grids["a1"]
    open_alert = AlertFactory(grid=g.grid, transformer=g.transformer)
    assert 'value="close"' not in client.get(reverse("loadforecast:alert_detail", args=[open_alert.pk])).content.decode()


@pytest.mark.django_db
def test_the_api_closes_a_mitigated_alert(personas, mitigated):
    api = APIClient()
    api.force_authenticate(personas.station_staff)
    response = api.post(f"/api/v1/alerts/{mitigated.pk}/close/")
    assert response.status_code == 200 and response.json()["status"] == "closed"
    assert api.post(f"/api/v1/alerts/{mitigated.pk}/close/").status_code == 400
    outsider = APIClient()
    outsider.force_authenticate(personas.outsider)
    assert outsider.post(f"/api/v1/alerts/{mitigated.pk}/close/").status_code in (403, 404)


@pytest.mark.django_db
def test_a_run_never_reopens_a_closed_alert(world, personas):
    g = _tiny(world)
    projection_run(run_date=RUN_DATE, days=DAYS)
    alert = Alert.objects.get(transformer=g.transformer)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.CLOSED)
    projection_run(run_date=RUN_DATE, days=DAYS)
    alert.refresh_from_db()
    assert alert.status == "closed"
    # The episode is still projected: a new alert carries it, and the closed one stays closed.
    assert Alert.objects.filter(transformer=g.transformer, status=Alert.Status.OPEN).count() == 1
