"""Issue 5, "Done means": station staff open the alert queue, open the worst transformer,
plan a temporary-capacity measure, mark it done, run the projection again, and see the
alert mitigated."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from loadforecast.models import Alert, Measure, ProjectionRun
from tests.factories import HouseholdFactory, ReturningResidentFactory
from tests.loadforecast.test_pages import overloaded_station

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_station_staff_mitigate_the_worst_transformer_with_temporary_capacity(
    transactional_db, chromium_browser, live_server, station_staff, world, screenshot_dir
):
    today = timezone.localdate()
    station = overloaded_station(world, run_date=today, days=21, households=60)
    worst = station.alert
    assert worst is not None and worst.level >= 3, "the data must push transformer a1 into overload"
    # A milder alert on the LV line of another grid of the station: the queue has more than one row.
    a2 = world.grids["a2"]
    for _ in range(3):
        household = HouseholdFactory(village=a2.village, transformer=a2.transformer, line=a2.line)
        ReturningResidentFactory(village=a2.village, household=household, arrival_date=today)
    lesser = Alert.objects.create(grid=a2.grid, line=a2.line, level=1, first_date=today, last_date=today,
                                  peak_date=today, peak_kw=60, peak_load_rate=0.72)
    recommended_kva = next(m["kva"] for m in worst.measures if m["kind"] == "temp_capacity")

    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill("station_staff")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + reverse("home"))

        # The morning queue, from the navigation: the worst alert first.
        page.locator(f"#site-nav a[href='{reverse('loadforecast:alert_list')}']").click()
        page.wait_for_url(live_server.url + reverse("loadforecast:alert_list"))
        rows = page.locator("tr[data-alert]")
        order = [row.get_attribute("data-alert") for row in rows.all()]
        # Worst first (the transformer; its LV line carries the same households), the watch last.
        assert order[0] == str(worst.pk) and order[-1] == str(lesser.pk)
        assert set(order) == {str(a.pk) for a in Alert.objects.all()}
        first = rows.first.inner_text()
        assert station.a1.transformer.code in first and "李庄 30" in first
        shoot(page, screenshot_dir, "alerts-queue")

        # The worst transformer: its recommended measures and the hourly chart.
        rows.first.locator("[data-alert-link]").click()
        page.wait_for_url(live_server.url + reverse("loadforecast:alert_detail", args=[worst.pk]))
        assert page.locator("[data-recommended] li[data-kind=temp_capacity]").count() == 1
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('load-chart'))")
        datasets = page.evaluate("() => Chart.getChart(document.getElementById('load-chart')).data.datasets.length")
        assert datasets == 5  # baseline, returning increment, 100 %, 80 %, 70 %
        shoot(page, screenshot_dir, "alert-detail")

        # Plan a temporary transformer of the recommended size for tomorrow.
        page.locator("[data-plan] summary").click()
        page.locator("#id_kind").select_option("temp_capacity")
        assert float(page.locator("#id_kva").input_value()) == recommended_kva
        page.locator("#id_planned_date").fill(today.isoformat())
        page.locator("#id_note").fill("租用箱变")
        page.locator("[data-plan-submit]").click()
        page.wait_for_load_state()
        planned = page.locator("tr[data-kind=temp_capacity]")
        assert planned.get_attribute("data-measure-status") == "planned"
        assert page.locator("[data-status]").first.get_attribute("data-status") == "measure_planned"

        # Mark it done.
        planned.locator("[data-done]").click()
        page.wait_for_load_state()
        assert page.locator("tr[data-kind=temp_capacity]").get_attribute("data-measure-status") == "done"
        assert page.locator("[data-status]").first.get_attribute("data-status") == "done"
        measure = Measure.objects.get(alert=worst)
        assert measure.status == Measure.Status.DONE and measure.kva == recommended_kva

        # Run the projection again from the run history.
        page.goto(live_server.url + reverse("loadforecast:load_runs"))
        page.locator("[data-run-now] button[type=submit]").click()
        page.wait_for_load_state()
        run = ProjectionRun.objects.get(run_date=today, station=world.station_a1)
        assert run.status == ProjectionRun.Status.DONE, run.error
        assert page.locator(f"tr[data-run='{run.pk}']").get_attribute("data-run-status") == "done"
        shoot(page, screenshot_dir, "alerts-runs")

        # The alert is mitigated, and the morning queue no longer lists it.
        page.goto(live_server.url + reverse("loadforecast:alert_detail", args=[worst.pk]))
        assert page.locator("[data-status]").first.get_attribute("data-status") == "mitigated"
        assert page.locator("[data-history] li[data-action=mitigated]").count() == 1
        # A mitigated alert takes one action only: closing it.
        actions = page.locator("[data-actions] button[name=action]")
        assert [actions.nth(i).get_attribute("value") for i in range(actions.count())] == ["close"]
        shoot(page, screenshot_dir, "alert-mitigated")
        page.goto(live_server.url + reverse("loadforecast:alert_list"))
        listed = [row.get_attribute("data-alert") for row in page.locator("tr[data-alert]").all()]
        assert str(worst.pk) not in listed and str(lesser.pk) in listed

        # The heat table of the station now shows the transformer below heavy load.
        page.goto(live_server.url + reverse("loadforecast:load_heat", args=[world.station_a1.pk]))
        cells = page.locator(f"tr[data-transformer='{station.a1.transformer.code}'] td.heat")
        classes = {cells.nth(i).get_attribute("class") for i in range(cells.count())}
        assert not any(re.search(r"heat-(heavy|overload|thermal)", c) for c in classes), classes
        shoot(page, screenshot_dir, "heat-table")
        assert not errors, errors
    finally:
        context.close()
    worst.refresh_from_db()
    assert worst.status == Alert.Status.MITIGATED
