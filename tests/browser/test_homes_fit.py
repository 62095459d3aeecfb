"""The three role homes fit a 390 px phone and a 1280 px desk without sideways scrolling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import ReturningResidentFactory
from tests.loadforecast.factories import AlertFactory
from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory
from zhoukou_grid.core.models import ImportJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1280, "height": 800}}


def _a_busy_day(world, grid_manager, county_admin):
    a1 = world.grids["a1"]
    today = timezone.localdate()
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, household=a1.households[0], village=None, planned_date=today)
    HazardFactory(grid=a1.grid, deadline=today - dt.timedelta(days=3),
                  description="村东头台区表箱门脱落且进户线裸露，需要尽快整改并回访用户确认")
    CustomerIssueFactory(grid=a1.grid, raised_at=timezone.now() - dt.timedelta(days=5),
                         due_at=timezone.now() - dt.timedelta(days=1))
    AlertFactory(grid=a1.grid, transformer=a1.transformer, level=3)
    ReturningResidentFactory(village=a1.village, name="欧阳春花", arrival_date=today + dt.timedelta(days=2))
    ImportJob.objects.create(user=county_admin, kind="residents", status=ImportJob.Status.FAILED,
                             file_name="2027年春节返乡人员摸底表（朱口村第三村民小组补充名单）.xlsx")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_home_fits_the_screen(transactional_db, chromium_browser, live_server, world, grid_manager,
                                    station_staff, county_admin, screenshot_dir, size):
    _a_busy_day(world, grid_manager, county_admin)
    viewport = SIZES[size]
    for user in (grid_manager, station_staff, county_admin):
        context = chromium_browser.new_context(viewport=viewport, is_mobile=size == "phone", locale="zh-CN")
        page = context.new_page()
        try:
            page.goto(live_server.url + reverse("login"))
            page.locator('input[name="username"]').fill(user.username)
            page.locator('input[name="password"]').fill("correct-horse-battery-9")
            page.locator('input[name="password"]').press("Enter")
            page.wait_for_url(live_server.url + reverse("home"))
            assert page.locator("[data-home]").count() == 1
            width = page.evaluate("document.documentElement.scrollWidth")
            if screenshot_dir is not None:
                page.screenshot(path=str(screenshot_dir / f"home-{user.username}-{size}.png"), full_page=True)
            assert width <= viewport["width"], f"{user.username} at {size}: {width} px wide"
        finally:
            context.close()
