"""Planning the suggested measure from an outlook item: station staff of the item's station
only (others 404), the order-by date prefilled, audited; the item then shows "planned", is no
longer flagged late, and sends no order-by notice; the nightly 21-day run leaves the alert
carrying the measure alone until its days come inside the horizon."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from loadforecast.models import Alert, Measure, OutlookItem
from loadforecast.outlook_services import outlook_station
from loadforecast.services import projection_run
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.loadforecast.test_outlook_run import _season
from zhoukou_grid.core.models import AuditLog, Notification
from zhoukou_grid.territory.models import Role

pytestmark = pytest.mark.django_db

DAY = dt.date(2027, 1, 10)  # temporary capacity to order by 2027-01-13 (first heavy day 02-02 − 20)


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _item(world, run_date=DAY):
    g = _season(world, run_date=run_date)
    run = outlook_station(station_id=world.station_a1.pk, run_date=run_date)
    return g, OutlookItem.objects.get(run=run, transformer=g.transformer)


def _plan_post(item, **changes):
    temp = next(m for m in item.measures if m["kind"] == "temp_capacity")
    data = {"kind": "temp_capacity", "kva": temp["kva"], "planned_date": temp["order_by"], "note": "租赁 400 kVA"}
    data.update(changes)
    return data


def test_station_staff_plan_the_suggested_measure_with_the_order_by_date_prefilled(world, station_staff):
    g, item = _item(world)
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    staff = _client(station_staff)
    page = staff.get(url)
    assert page.status_code == 200
    form = page.context["plan_form"]
    temp = next(m for m in item.measures if m["kind"] == "temp_capacity")
    assert form.initial["kind"] == "temp_capacity" and form.initial["kva"] == temp["kva"]
    assert form.initial["planned_date"] == dt.date.fromisoformat(temp["order_by"]) == item.order_by
    assert 'data-planned' not in page.content.decode()

    response = staff.post(url, _plan_post(item))
    assert response.status_code == 302 and response["Location"] == url
    measure = Measure.objects.get()
    assert (measure.kind, measure.kva, measure.planned_date) == ("temp_capacity", temp["kva"], item.order_by)
    alert = measure.alert
    assert alert.transformer_id == g.transformer.pk and alert.status == Alert.Status.MEASURE_PLANNED
    assert alert.last_run is None and alert.level == item.level and alert.peak_date == item.peak_date
    assert AuditLog.objects.filter(action="outlook.measure_planned", object_id=str(item.pk),
                                   user=station_staff).count() == 1
    assert AuditLog.objects.filter(action="measure.planned", object_id=str(measure.pk)).count() == 1
    assert AuditLog.objects.filter(action="alert.from_outlook", object_id=str(alert.pk)).count() == 1

    body = staff.get(url).content.decode()
    assert "data-planned>" in body and 'data-planned-measure="temp_capacity"' in body
    station = staff.get(reverse("loadforecast:outlook_station", args=[world.station_a1.pk])).content.decode()
    row = re.search(rf'<tr data-asset="{g.transformer.code}".*?</tr>', station, re.S).group(0)
    assert "data-planned>" in row

    # A second plan on the same item goes on the same alert.
    assert staff.post(url, _plan_post(item, kind="staggered", kva="", kw="20")).status_code == 302
    assert Measure.objects.filter(alert=alert).count() == 2 and Alert.objects.count() == 1


def test_a_planned_item_sends_no_order_by_notice_and_is_not_flagged_late(world, station_staff):
    late_day = dt.date(2027, 1, 15)  # the order-by date 01-13 has passed: the item is late
    g, item = _item(world, run_date=late_day)
    assert item.late
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    staff = _client(station_staff)
    assert "data-late" in staff.get(url).content.decode()
    Notification.objects.all().delete()
    assert staff.post(url, _plan_post(item, planned_date=late_day.isoformat())).status_code == 302
    body = staff.get(url).content.decode()
    assert "data-late" not in body and "data-planned>" in body
    # The next outlook finds the measure: no "order by" notice to the station.
    run = outlook_station(station_id=world.station_a1.pk, run_date=late_day + dt.timedelta(days=1))
    assert not Notification.objects.filter(user=station_staff, kind="outlook").exists()
    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    station = staff.get(reverse("loadforecast:outlook_station", args=[world.station_a1.pk])).content.decode()
    row = re.search(rf'<tr data-asset="{g.transformer.code}".*?</tr>', station, re.S).group(0)
    assert item.late and "data-late" not in row and "data-planned>" in row


def test_only_station_staff_of_the_items_station_may_plan(world, station_staff, grid_manager, county_admin, outsider):
    _g, item = _item(world)
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    other_staff = UserFactory(username="a2staff")
    RoleAssignmentFactory(user=other_staff, role=Role.STATION_STAFF, station=world.station_a2)
    for user in (grid_manager, county_admin, outsider, other_staff):
        assert _client(user).post(url, _plan_post(item)).status_code == 404, user
    assert not Measure.objects.exists() and not Alert.objects.exists()
    # Those who may read the item see no form.
    for user in (grid_manager, county_admin):
        page = _client(user).get(url)
        assert page.status_code == 200 and "plan_form" not in page.context and "data-plan-submit" not in \
            page.content.decode()


def test_a_refused_plan_shows_the_errors_in_chinese_and_writes_nothing(world, station_staff):
    g, item = _item(world)
    url = reverse("loadforecast:outlook_item", args=[item.pk])
    response = _client(station_staff).post(url, _plan_post(item, kva=g.transformer.rated_kva))
    assert response.status_code == 400
    errors = response.context["plan_form"].errors["kva"]
    assert errors and all(re.search(r"[\u4e00-\u9fff]", e) for e in errors)
    assert not Measure.objects.exists() and not Alert.objects.exists()


def test_the_nightly_run_leaves_the_outlook_alert_alone_until_its_days_are_in_the_horizon(world, station_staff):
    _g, item = _item(world)
    _client(station_staff).post(reverse("loadforecast:outlook_item", args=[item.pk]), _plan_post(item))
    alert = Alert.objects.get()
    for day in (DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)):
        run = projection_run(run_date=day, days=7, station_id=world.station_a1.pk)
        assert run.status == "done", run.error
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MEASURE_PLANNED and alert.runs_below_watch == 0
