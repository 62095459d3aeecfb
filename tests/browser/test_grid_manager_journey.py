"""A grid manager's first visit on a phone: log in, home, a transformer, English, log out."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_grid_manager_logs_in_on_a_phone_opens_a_transformer_and_switches_to_english(
    transactional_db, chromium_browser, live_server, grid_manager, world, screenshot_dir
):
    a1 = world.grids["a1"]
    # An English phone still gets the Chinese portal; the switch is what chooses English.
    context = chromium_browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("home"))
        assert page.url.startswith(live_server.url + reverse("login"))
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        shoot(page, screenshot_dir, "phone-login")

        page.get_by_label("用户名").fill("grid_manager")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()

        # Home: their grid's name, prominently, and the day's work; the grid's asset counts
        # are on the grid's page, not on a grid manager's home.
        page.wait_for_url(live_server.url + reverse("home"))
        assert page.locator("h1.hero-title").inner_text().strip() == "甲一网格"
        assert page.locator(".stat").count() == 0
        assert page.locator('[data-section="visits"]').count() == 1
        # Nothing is wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "phone-home")

        # The menu opens from the compact top bar; from it, the transformer list.
        menu = page.locator("[data-menu-toggle]")
        assert not page.locator("#site-nav").is_visible()
        menu.click()
        assert menu.get_attribute("aria-expanded") == "true"
        shoot(page, screenshot_dir, "phone-menu")
        page.locator("#site-nav").get_by_role("link", name="台区").click()
        page.wait_for_url(re.compile(r".*/transformers/$"))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "phone-transformer-list")
        page.get_by_role("link", name=a1.transformer.code).click()

        page.wait_for_url(live_server.url + reverse("portal:transformer_detail", args=[a1.transformer.pk]))
        assert a1.transformer.name in page.locator("h1").inner_text()
        detail = page.locator("dl.fields").inner_text()
        assert "甲一网格" in detail and "甲一所" in detail and "200" in detail
        assert a1.line.code in page.locator("main").inner_text()
        shoot(page, screenshot_dir, "phone-transformer")

        # Switch to English from the menu: the same page, now in English.
        page.locator("[data-menu-toggle]").click()
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        body = page.locator("body").inner_text()
        assert "Rated capacity (kVA)" in body and "LV lines" in body
        assert "额定容量" not in body
        shoot(page, screenshot_dir, "phone-transformer-en")

        # Log out (a POST form in the menu) lands on the login page, still in English.
        page.locator("[data-menu-toggle]").click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r".*/accounts/login/.*"))
        assert page.get_by_role("button", name="Log in").is_visible()
        page.goto(live_server.url + reverse("home"))
        assert "/accounts/login/" in page.url
    finally:
        context.close()


def test_the_desktop_layout_shows_the_sidebar_and_a_table(
    transactional_db, chromium_browser, live_server, county_admin, world, screenshot_dir
):
    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("login"))
        page.get_by_label("用户名").fill("county_admin")
        page.get_by_label("密码").fill("correct-horse-battery-9")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(live_server.url + reverse("home"))
        assert page.locator("#site-nav").is_visible()
        assert not page.locator("[data-menu-toggle]").is_visible()
        assert page.locator("h1.hero-title").inner_text().strip() == "周口甲县"
        shoot(page, screenshot_dir, "desktop-home")

        page.goto(live_server.url + reverse("portal:transformer_list"))
        header_cells = page.locator("table.data-table thead th")
        assert header_cells.count() == 7 and header_cells.first.is_visible()
        assert page.locator("table.data-table tbody tr").count() == 3
        shoot(page, screenshot_dir, "desktop-transformer-list")
    finally:
        context.close()
