"""A village clerk on a phone adds three returning residents and marks one arrived; the
grid manager sees the changes in the feed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import ReturningResident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "correct-horse-battery-9"


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(page, live_server, username):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def add(page, name, phone, arrival, persons):
    page.locator("[data-village-add]").click()
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=phone]").fill(phone)
    page.locator("input[name=persons]").fill(str(persons))
    page.locator("input[name=arrival_date]").fill(arrival)
    page.locator("select[name=heating]").select_option("coal")
    page.locator("form.vil-form button[type=submit]").click()
    page.wait_for_url(lambda url: url.endswith(reverse("customers:village_list")))
    assert f"{name} 已加入名单" in page.locator("main").inner_text()


def test_a_clerk_adds_three_marks_one_arrived_and_the_grid_manager_sees_the_feed(
    transactional_db, chromium_browser, live_server, village_clerk, grid_manager, clerk_village, screenshot_dir
):
    context = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, live_server, "village_clerk")
        # The clerk's home is the village's list.
        page.wait_for_url(live_server.url + reverse("customers:village_list"))
        assert "书记村" in page.locator("main").inner_text()
        add(page, "张三", "13812340001", "2027-01-28", 3)
        add(page, "李四", "13812340002", "2027-01-30", 2)
        add(page, "王五", "13812340003", "2027-02-02", 1)
        main = page.locator("main").inner_text()
        assert "138****0001" in main and "13812340001" not in main
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "clerk-phone-list")

        page.locator("li.vil-card", has_text="李四").locator("button[value=arrived]").click()
        page.wait_for_load_state()
        assert page.locator("li.vil-card", has_text="李四").locator(".res-status-arrived").count() == 1

        page.locator("#vil-q").fill("0003")
        page.locator("form.vil-search button").click()
        page.wait_for_load_state()
        assert [text.strip() for text in page.locator(".vil-name").all_inner_texts()] == ["王五"]

        page.locator(".vil-name", has_text="王五").click()
        page.locator("form.vil-form").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "clerk-phone-edit")
    finally:
        context.close()
    assert ReturningResident.objects.filter(village=clerk_village, source="village").count() == 3

    # The same list on a desktop: cards in columns, nothing wider than the window.
    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    try:
        log_in(page, live_server, "village_clerk")
        page.wait_for_url(live_server.url + reverse("customers:village_list"))
        assert page.locator("li.vil-card").count() == 3
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        shoot(page, screenshot_dir, "clerk-desktop-list")
    finally:
        context.close()

    for viewport, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        context = chromium_browser.new_context(viewport=viewport, locale="zh-CN")
        page = context.new_page()
        try:
            log_in(page, live_server, "grid_manager")
            page.wait_for_url(live_server.url + reverse("home"))
            page.goto(live_server.url + reverse("customers:village_changes"))
            cards = page.locator("li.vil-card")
            assert cards.count() == 4
            assert "李四" in cards.first.inner_text() and "已返乡" in cards.first.inner_text()
            text = page.locator("main").inner_text()
            assert all(name in text for name in ("张三", "李四", "王五")) and "1381234" not in text
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            shoot(page, screenshot_dir, f"grid-manager-feed-{suffix}")
        finally:
            context.close()
