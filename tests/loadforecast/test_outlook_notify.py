"""Outlook notifications (docs/domain.md §6.7): grid managers hear of heavy-or-worse assets in
their grid once per level; station staff hear once when an order-by date is 3 days away
and nothing is planned."""

from __future__ import annotations

import datetime as dt

import pytest

from loadforecast.models import Measure, OutlookItem
from loadforecast.outlook_services import outlook_station
from tests.loadforecast.factories import AlertFactory
from tests.loadforecast.test_outlook_run import RUN_DATE, _season
from zhoukou_grid.core.models import Notification

pytestmark = pytest.mark.django_db


def test_grid_manager_is_told_once_of_an_outlook_item_in_their_grid(world, grid_manager, station_staff):
    g = _season(world)
    outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    told = Notification.objects.filter(user=grid_manager, kind="outlook")
    assert told.count() == 1 and g.transformer.code in told.get().body
    assert "登记 20 户 + 估算 20 户" in told.get().body  # in the portal language
    outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)  # re-run: nothing new
    outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE + dt.timedelta(days=1))
    assert told.count() == 1
    # Weeks ahead, no order-by date is near: station staff hear nothing yet.
    assert not Notification.objects.filter(user=station_staff, kind="outlook").exists()


def test_station_staff_are_told_once_when_an_order_by_date_is_near(world, station_staff):
    day = dt.date(2027, 1, 10)  # temporary capacity to order by 2027-01-13 (first heavy 02-02 − 20)
    g = _season(world, run_date=day)
    run = outlook_station(station_id=world.station_a1.pk, run_date=day)
    assert OutlookItem.objects.get(run=run, transformer=g.transformer).order_by == dt.date(2027, 1, 13)
    told = Notification.objects.filter(user=station_staff, kind="outlook")
    assert told.count() == 1 and "2027-01-13" in told.get().title
    outlook_station(station_id=world.station_a1.pk, run_date=day + dt.timedelta(days=1))
    assert told.count() == 1


def test_no_order_by_notice_when_a_measure_is_planned(world, station_staff):
    day = dt.date(2027, 1, 10)
    g = _season(world, run_date=day)
    alert = AlertFactory(grid=g.grid, transformer=g.transformer)
    Measure.objects.create(alert=alert, kind=Measure.Kind.TEMP_CAPACITY, kva=250, planned_date=day)
    line_alert = AlertFactory(grid=g.grid, transformer=None, line=g.line)
    Measure.objects.create(alert=line_alert, kind=Measure.Kind.STAGGERED, planned_date=day)
    outlook_station(station_id=world.station_a1.pk, run_date=day)
    assert not Notification.objects.filter(user=station_staff, kind="outlook").exists()


def test_the_grid_managers_outlook_notice_opens_a_page_of_their_grid(world, grid_manager, client):
    g = _season(world)
    outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    told = Notification.objects.get(user=grid_manager, kind="outlook")
    client.force_login(grid_manager)
    page = client.get(told.url)
    assert page.status_code == 200
    assert g.transformer.code in page.content.decode()


def test_the_grid_manager_gets_the_outlook_notice_by_email_too(world, grid_manager, outsider,
                                                               django_capture_on_commit_callbacks):
    from django.core import mail

    _season(world)
    grid_manager.email = "gm@example.com"
    grid_manager.save()
    outsider.email = "out@example.com"
    outsider.save()
    with django_capture_on_commit_callbacks(execute=True):
        outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    told = Notification.objects.get(user=grid_manager, kind="outlook")
    assert [m.to for m in mail.outbox] == [["gm@example.com"]]
    assert mail.outbox[0].subject.endswith(told.title)
    with django_capture_on_commit_callbacks(execute=True):
        outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE + dt.timedelta(days=1))
    assert len(mail.outbox) == 1


def test_one_asset_of_the_grid_links_straight_to_its_item(world, grid_manager):
    from django.urls import reverse

    from loadforecast.outlook_notify import outlook_notify

    g = _season(world)
    run = outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    items = list(OutlookItem.objects.filter(run=run, grid=g.grid, level__gte=2).order_by("pk"))
    assert len(items) == 2  # the transformer and its line: the station's page
    assert Notification.objects.get(user=grid_manager, kind="outlook").url == reverse(
        "loadforecast:outlook_station", args=[world.station_a1.pk])
    Notification.objects.all().delete()
    transformer_item = next(i for i in items if i.transformer_id)
    outlook_notify(run=run, items=[transformer_item], notice_days=3, before={})
    assert Notification.objects.get(user=grid_manager, kind="outlook").url == reverse(
        "loadforecast:outlook_item", args=[transformer_item.pk])
