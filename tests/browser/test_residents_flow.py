"""A grid manager on a phone opens the returning residents, sees them and marks one arrived."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def resident(grid, name, phone, arrival, **extra):
    return ReturningResidentFactory(village=grid.village, name=name, phone=phone, arrival_date=arrival, **extra)


def test_a_grid_manager_on_a_phone_marks_a_returning_resident_arrived(
    transactional_db, chromium_browser, live_server, grid_manager, world, screenshot_dir
):
    a1, b1 = world.grids["a1"], world.grids["b1"]
    zhang = resident(a1, "张伟", "13800001111", dt.date(2027, 1, 28), persons=3, household=a1.households[0],
                     heating="electric_heater")
    li = resident(a1, "李娜", "13900002222", dt.date(2027, 2, 2), persons=2)
    resident(b1, "刘洋", "13500005555", dt.date(2027, 1, 29))  # another county: never shown

    context = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill("grid_manager")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + reverse("home"))

        # From the phone menu to the residents list.
        page.locator("[data-menu-toggle]").click()
        page.locator(f"#site-nav a[href='{reverse('customers:resident_list')}']").click()
        page.wait_for_url(re.compile(r".*/residents/$"))
        main = page.locator("main").inner_text()
        assert "张伟" in main and "李娜" in main and "刘洋" not in main
        # Phones are masked, and nothing is wider than the phone.
        assert "138****1111" in main and "13800001111" not in main
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "phone-residents")

        # Tick 李娜 and mark her arrived.
        page.get_by_label(re.compile("李娜")).check()
        assert page.locator("[data-picked-count]").inner_text().strip().startswith("1")
        page.locator("button[name=action][value=arrived]").click()
        page.wait_for_load_state()
        assert page.locator(".message").count() == 1
        row = page.locator("tr.res-row", has_text="李娜")
        assert row.locator(".res-status-arrived").count() == 1
        shoot(page, screenshot_dir, "phone-residents-arrived")

        li.refresh_from_db()
        zhang.refresh_from_db()
        assert li.status == ReturningResident.Status.ARRIVED and li.arrived_at is not None
        assert zhang.status == ReturningResident.Status.EXPECTED

        # The resident's page: masked numbers, and one reveal shows the phone with a call link.
        page.get_by_role("link", name="张伟").click()
        page.wait_for_url(live_server.url + reverse("customers:resident_detail", args=[zhang.pk]))
        phone_row = page.locator("[data-personal=phone]")
        assert "138****1111" in phone_row.inner_text()
        phone_row.locator("button").click()
        phone_row.locator("a[href='tel:13800001111']").wait_for()
        assert "13800001111" in phone_row.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "phone-resident-revealed")
    finally:
        context.close()
