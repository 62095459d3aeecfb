"""A county admin on a phone and on a desktop adds a grid's group robot, sends a test message
to a local fake chat and sees the address masked and the robot working."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser.test_village_clerk_flow import DESKTOP, PHONE, log_in, shoot
from tests.zhoukou_grid.test_webhooks import KEY, FakeChat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_county_admin_adds_a_robot_tests_it_and_sees_it_masked(
        transactional_db, chromium_browser, live_server, county_admin, world, settings, screenshot_dir, viewport):
    settings.WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    chat = FakeChat()
    context = chromium_browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    try:
        log_in(page, live_server, "county_admin")
        page.wait_for_load_state()
        page.goto(live_server.url + reverse("webhooks:list"))
        assert "还没有群机器人" in page.locator("main").inner_text()
        page.locator("input[name=name]").fill("甲一网格工作群")
        page.locator("select[name=grid]").select_option(str(world.grids["a1"].grid.pk))
        page.locator("input[name=url]").fill(chat.url)
        page.get_by_role("button", name="保存").click()
        page.wait_for_url(lambda url: "/webhooks/" in url and url.rstrip("/").split("/")[-1].isdigit())
        page.get_by_role("button", name="发送测试消息").click()
        page.wait_for_load_state()
        main = page.locator("main").inner_text()
        assert "测试消息已送达" in main and "正常" in main
        assert KEY not in page.content() and "****7f3a" in main
        assert len(chat.received) == 1 and chat.received[0]["body"]["msgtype"] == "markdown"
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        shoot(page, screenshot_dir, f"webhook-detail-{viewport['width']}")
        page.goto(live_server.url + reverse("webhooks:list"))
        assert "甲一网格工作群" in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        if viewport is DESKTOP:
            # The administrator's longer menu (group chats added) and "log out" fit without scrolling.
            height, visible = page.evaluate("[document.querySelector('.sidebar').scrollHeight, "
                                            "document.querySelector('.sidebar').clientHeight]")
            assert height <= visible, (height, visible)
        shoot(page, screenshot_dir, f"webhook-list-{viewport['width']}")
    finally:
        context.close()
        chat.close()
