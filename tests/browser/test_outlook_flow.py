"""Station staff open 春节负荷展望 from the load overview on a phone and on a desktop: the
headline, the transformer pushed to heavy load by registered and estimated households, its
temporary capacity with the order-by date; then the county's list coverage."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loadforecast.models import OutlookItem
from loadforecast.outlook_services import outlook_station
from tests.loadforecast.test_outlook_run import RUN_DATE, _season

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_station_staff_read_the_outlook_and_the_county_coverage(
    transactional_db, chromium_browser, live_server, station_staff, world, screenshot_dir, viewport
):
    g = _season(world)
    run = outlook_station(station_id=world.station_a1.pk, run_date=RUN_DATE)
    item = OutlookItem.objects.get(run=run, transformer=g.transformer)
    context = chromium_browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    name = "phone" if viewport is PHONE else "desktop"
    try:
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill("station_staff")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + reverse("home"))

        page.goto(live_server.url + reverse("loadforecast:load_overview"))
        page.get_by_role("link", name="春节负荷展望").first.click()
        page.wait_for_url(live_server.url + reverse("loadforecast:outlook_station", args=[world.station_a1.pk]))
        assert "春节负荷展望" in page.locator("h1").inner_text()
        headline = page.locator("[data-headline]").inner_text()
        assert "需临时增容容量" in headline and "1 个报送" in headline.replace("已有 ", "")
        row = page.locator(f"tr[data-asset='{g.transformer.code}']")
        assert row.count() == 1
        text = row.inner_text()
        assert "临时增容" in text and item.order_by.isoformat() in text
        assert f"{item.registered_households} + {item.estimated_households}" in text
        shoot(page, screenshot_dir, f"outlook-station-{name}")

        row.locator("[data-item-link]").click()
        page.wait_for_url(live_server.url + reverse("loadforecast:outlook_item", args=[item.pk]))
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('outlook-chart'))")
        assert page.locator("[data-measure='temp_capacity'] time").inner_text() == item.order_by.isoformat()
        shoot(page, screenshot_dir, f"outlook-item-{name}")
        page.go_back()

        page.locator(".breadcrumbs a", has_text=world.county_a.name).click()
        page.wait_for_url(live_server.url + reverse("loadforecast:outlook_county", args=[world.county_a.pk]))
        coverage = page.locator("tr[data-station='JA-GDS-01']").inner_text()
        assert "1 / 2" in coverage and world.grids["a2"].village.name in coverage
        shoot(page, screenshot_dir, f"outlook-county-{name}")
    finally:
        context.close()
    assert errors == []
