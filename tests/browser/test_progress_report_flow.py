"""The progress report in Chromium, on a phone and a desktop: the chart draws from the
json_script data without a script error (strict CSP), the totals and table show the counts.

It lives with the other browser tests: one Playwright session per test process (two
sync sessions in one process fail)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.visits.test_selectors import small_world  # noqa: F401  (the hand-counted world)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.mark.parametrize("name, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
def test_station_staff_read_the_progress_of_a_round(  # noqa: PLR0913
    transactional_db, chromium_browser, live_server, world, personas,
    small_world, screenshot_dir, name, viewport,  # noqa: F811 (small_world is imported)
):
    rnd, _manager_a2, _hazard = small_world
    context = chromium_browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill("station_staff")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + reverse("home"))
        page.goto(f"{live_server.url}{reverse('visits:progress')}?round={rnd.pk}&group_by=grid")
        assert page.locator("[data-total=visits_done]").inner_text().startswith("2")
        assert page.locator("[data-total=cards]").inner_text() == "58"
        assert page.locator("table.progress-table tbody tr").count() == 2
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('progress-chart'))")
        drawn = page.evaluate("() => Chart.getChart(document.getElementById('progress-chart')).data.datasets.length")
        assert drawn == 3
        if screenshot_dir is not None:
            page.screenshot(path=str(screenshot_dir / f"progress_{name}.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
