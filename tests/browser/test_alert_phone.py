"""Issue 12: on a phone (390×844) an alert page shows one chart and a compact day table instead of
21 day cards, with nothing wider than the screen; at 1280×800 the full view (the hourly chart
and the full day table) is back. The list of who is coming home fits the phone too."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.loadforecast.test_pages import overloaded_station

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
DAYS = 21


def _log_in(page, live_server, username):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct-horse-battery-9")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + reverse("home"))


def _visible_charts(page) -> int:
    return page.evaluate("""() => Array.from(document.querySelectorAll('canvas'))
        .filter(c => c.offsetParent !== null && c.getBoundingClientRect().width > 0).length""")


def test_a_phone_shows_one_chart_and_a_compact_day_table(
    transactional_db, chromium_browser, live_server, grid_manager, world, screenshot_dir
):
    today = timezone.localdate()
    station = overloaded_station(world, run_date=today, days=DAYS, households=60)
    alert = station.alert
    assert alert is not None and alert.level >= 3
    url = live_server.url + reverse("loadforecast:alert_detail", args=[alert.pk])

    context = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True,
                                           has_touch=True)
    page = context.new_page()
    errors, violations = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        _log_in(page, live_server, "grid_manager")
        page.goto(url)
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('day-chart'))")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert _visible_charts(page) == 1
        assert page.locator("#day-chart").is_visible()
        assert not page.locator("#load-chart").is_visible()
        # The drawn chart has the 21 days and the three threshold lines.
        drawn = page.evaluate("""() => { const c = Chart.getChart(document.getElementById('day-chart'));
            return [c.data.labels.length, c.data.datasets.length]; }""")
        assert drawn == [DAYS, 4]
        # The compact table, not the 21 day cards.
        assert page.locator("table[data-days-compact] tbody tr").count() == DAYS
        assert page.locator("table[data-days-compact]").is_visible()
        assert not page.locator("table[data-days]").is_visible()
        # Each table row is one line high: a compact table, not cards.
        heights = page.evaluate("""() => Array.from(document.querySelectorAll('table[data-days-compact] tbody tr'))
            .map(r => r.getBoundingClientRect().height)""")
        assert max(heights) < 48
        # Who is coming home: one line per village until opened; opened, it stays inside the screen.
        villages = page.locator("[data-returning] details.lf-village")
        assert villages.count() == 2 and page.locator("[data-returning] details[open]").count() == 0
        villages.first.locator("summary").click()
        assert villages.first.locator("tr[data-person]").first.is_visible()
        assert villages.first.locator("tr[data-person]").count() == 30
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        if screenshot_dir is not None:
            page.screenshot(path=str(screenshot_dir / "alert-phone.png"), full_page=True)
        assert errors == [] and violations == []
    finally:
        context.close()

    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _log_in(page, live_server, "grid_manager")
        page.goto(url)
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('load-chart'))")
        assert _visible_charts(page) == 1
        assert page.locator("#load-chart").is_visible() and not page.locator("#day-chart").is_visible()
        assert page.locator("table[data-days]").is_visible()
        assert page.locator("table[data-days] tbody tr").count() == DAYS
        assert not page.locator("table[data-days-compact]").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        if screenshot_dir is not None:
            page.screenshot(path=str(screenshot_dir / "alert-desktop.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
