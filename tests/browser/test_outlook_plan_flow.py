"""Issue 12, "Done means": at 390×844 a grid manager is notified of an outlook item in their
grid and opens it; then at 1280×800 station staff open the county's list coverage, plan
temporary capacity before its order-by date, and see the item no longer flagged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from loadforecast.models import Level, Measure, OutlookItem
from loadforecast.outlook_services import outlook_station
from tests.loadforecast.test_outlook_run import _season

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LATE_DAY = dt.date(2027, 1, 15)  # the temporary capacity's order-by date 2027-01-13 has passed


def _log_in(page, live_server, username):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct-horse-battery-9")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + reverse("home"))


def test_grid_manager_is_told_then_station_staff_plan_and_the_item_is_no_longer_flagged(
    transactional_db, chromium_browser, live_server, grid_manager, station_staff, world, screenshot_dir
):
    g = _season(world, run_date=LATE_DAY)
    run = outlook_station(station_id=world.station_a1.pk, run_date=LATE_DAY)
    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    assert item.late and item.order_by == dt.date(2027, 1, 13)
    assert OutlookItem.objects.filter(run=run, grid=g.grid, level__gte=Level.HEAVY).count() == 2
    item_url = live_server.url + reverse("loadforecast:outlook_item", args=[item.pk])
    errors = []

    context = chromium_browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _log_in(page, live_server, "grid_manager")
        page.locator("[data-notifications]").click()
        page.wait_for_url(live_server.url + reverse("portal:notification_list"))
        page.locator("tr[data-notification] a").first.click()
        page.get_by_role("button", name="打开").click()
        # Two assets of the grid (the transformer and its line): the station's outlook, scoped to the grid.
        page.wait_for_url(live_server.url + reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
        page.locator(f"tr[data-asset='{g.transformer.code}'] [data-item-link]").click()
        page.wait_for_url(item_url)
        assert g.transformer.code in page.locator("h1").inner_text()
        assert page.locator("[data-late]").count() == 1
        assert page.locator("[data-plan-submit]").count() == 0  # a grid manager reads, station staff plan
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        if screenshot_dir is not None:
            page.screenshot(path=str(screenshot_dir / "outlook-item-grid-manager-phone.png"), full_page=True)
    finally:
        context.close()

    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _log_in(page, live_server, "station_staff")
        page.goto(live_server.url + reverse("loadforecast:outlook_county", args=[world.county_a.pk]))
        coverage = page.locator("tr[data-station='JA-GDS-01']").inner_text()
        assert "1 / 2" in coverage and world.grids["a2"].village.name in coverage
        page.goto(live_server.url + reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
        row = page.locator(f"tr[data-asset='{g.transformer.code}']")
        assert row.locator("[data-late]").count() == 1
        row.locator("[data-item-link]").click()
        page.wait_for_url(item_url)
        # The suggested measure, prefilled: temporary capacity of the sized rating, dated its order-by date.
        temp = next(m for m in item.measures if m["kind"] == "temp_capacity")
        assert page.locator("select[name='kind']").input_value() == "temp_capacity"
        assert float(page.locator("input[name='kva']").input_value()) == temp["kva"]
        page.locator("input[name='planned_date']").fill("2027-01-12")  # before its order-by date
        page.locator("[data-plan-submit]").click()
        page.wait_for_url(item_url)
        assert page.locator("[data-planned]").count() == 1 and page.locator("[data-late]").count() == 0
        measure = Measure.objects.get()
        assert (measure.kind, measure.kva, measure.planned_date) == ("temp_capacity", temp["kva"],
                                                                     dt.date(2027, 1, 12))
        page.goto(live_server.url + reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
        row = page.locator(f"tr[data-asset='{g.transformer.code}']")
        assert row.locator("[data-planned]").count() == 1 and row.locator("[data-late]").count() == 0
        if screenshot_dir is not None:
            page.screenshot(path=str(screenshot_dir / "outlook-station-planned-desktop.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
