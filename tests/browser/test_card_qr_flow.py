"""The service card's QR code end to end (issue 15, "done means"): the code is decoded from an
image of the printed card sheet, a customer's phone opens it and leaves a request, the grid
manager sees it on the board, and the customer sees its status with the reference."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from django.utils import translation
from PIL import Image

from visits.models import CardRequest, CustomerIssue
from zhoukou_grid.territory.models import UserProfile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

zxingcpp = pytest.importorskip("zxingcpp")

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "correct-horse-battery-9"


def log_in(page, live_server, username):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def decode_qr(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_a_code_decoded_from_the_printed_sheet_takes_a_request_to_the_grid_managers_board(
    transactional_db, chromium_browser, live_server, world, personas, screenshot_dir
):
    manager = personas.grid_manager
    manager.first_name, manager.last_name = "建国", "王"
    manager.save()
    UserProfile.objects.create(user=manager, phone="13912345678")
    village = world.grids["a1"].village

    # 1. Station staff print the card sheet; the image of the printed page is decoded.
    context = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    try:
        log_in(page, live_server, "station_staff")
        page.goto(live_server.url + reverse("visits:service_cards") + f"?grid={world.grids['a1'].grid.pk}")
        page.emulate_media(media="print")
        sheet = page.locator("section.vb-sheet").first
        png = sheet.screenshot()
        if screenshot_dir is not None:
            (screenshot_dir / "card-sheet-print.png").write_bytes(png)
    finally:
        context.close()
    decoded = decode_qr(png)
    # Eight cards, eight codes, one URL: the grid's public page on this server.
    assert len(decoded) == 8, decoded
    assert len(set(decoded)) == 1
    url = decoded[0]
    assert re.fullmatch(re.escape(live_server.url) + r"/c/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/", url), url

    # 2. A customer's phone opens it (no account) and leaves a request.
    customer = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    phone = customer.new_page()
    try:
        phone.goto(url)
        main = phone.locator("main").inner_text()
        for text in ("王建国", "13912345678", world.station_a1.name, "95598"):
            assert text in main, text
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(phone, screenshot_dir, "card-public-phone")
        phone.locator("select[name=category]").select_option("low_voltage")
        phone.locator("select[name=village]").select_option(str(village.pk))
        phone.locator("textarea[name=description]").fill("晚上灯泡发暗，电压不稳")
        phone.locator("input[name=phone]").fill("13800005678")
        phone.get_by_role("button", name="提交诉求").click()
        phone.locator("[data-reference]").wait_for()
        reference = phone.locator("[data-reference]").inner_text().strip()
        assert "诉求已受理" in phone.locator("main").inner_text()
        shoot(phone, screenshot_dir, "card-received-phone")
        assert CardRequest.objects.get().reference == reference
        issue = CustomerIssue.objects.get()
        assert issue.channel == "service_card" and issue.village == village and issue.owner == manager

        # 3. The grid manager sees it on the board, and opens it.
        staff = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
        board = staff.new_page()
        try:
            log_in(board, live_server, "grid_manager")
            board.goto(live_server.url + reverse("visits:issue_board"))
            assert "晚上灯泡发暗" in board.locator("main").inner_text()
            board.goto(live_server.url + reverse("visits:issue_detail", args=[issue.pk]))
            detail = board.locator("main").inner_text()
            assert "服务卡扫码" in detail and reference in detail and "138****5678" in detail
            shoot(board, screenshot_dir, "card-issue-manager")
        finally:
            staff.close()

        # 4. The customer follows it with the reference and the phone's last 4 digits.
        phone.get_by_role("link", name="查询进度").click()
        phone.locator("input[name=reference]").wait_for()
        assert phone.locator("input[name=reference]").input_value() == reference
        phone.locator("input[name=last4]").fill("5678")
        phone.get_by_role("button", name="查询").click()
        phone.locator("[data-found]").wait_for()
        found = phone.locator("main").inner_text()
        assert reference in found and "晚上灯泡发暗" in found
        assert phone.locator("[data-status]").get_attribute("data-status") == "open"
        with translation.override("zh-hans"):
            assert str(CustomerIssue.Status.OPEN.label) in found
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(phone, screenshot_dir, "card-status-phone")
    finally:
        customer.close()
