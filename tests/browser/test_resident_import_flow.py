"""Issue 3's browser test: a county admin on a desktop uploads a village committee's GBK CSV
(a title row, clerks' headers, three bad rows), reads the three errors in Chinese, imports
the valid rows and downloads the error workbook; the grid manager on a phone then sees the
new residents and marks one arrived."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from customers.models import ReturningResident
from tests.factories import VillageFactory
from tests.imports.conftest import _media_root  # noqa: F401 - autouse: uploads land in a temporary folder
from tests.imports.residents_world import import_day  # noqa: F401 - fixture
from zhoukou_grid.core.models import AuditLog, ImportJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("import_day")]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery-9"
TITLE = "朱口镇后常营村2027年春节返乡人员登记表"
# Headers as village clerks write them: synonyms, a 序号 column, a column the kind ignores (性别).
HEADER = ["序号", "返乡人员姓名", "性别", "公民身份号码", "手机号码", "所在村", "预计返乡时间", "返程日期", "人数", "采暖方式",
          "务工地"]


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def village_list_csv(outside_village: str) -> bytes:
    """The list as Excel on Chinese Windows saves it: GBK, CRLF, a title row above the header,
    an ID that Excel turned into a float, and a total row."""
    rows = [
        [TITLE] + [""] * (len(HEADER) - 1),
        HEADER,
        ["1", "常建国", "男", "411627196503253526", "138 0011 2233", "后常营村一组", "2027年1月25日", "", "3", "电暖器", "河南郑州"],
        ["2", "常小红", "女", "", "139-0022-3344", "后常营村", "腊月二十六", "2027/2/14", "2", "空调", "上海"],
        ["3", "王磊", "男", "4.11627199001011E+17", "13700003333", "后常营村", "2027-01-28", "", "1", "无", "北京"],
        ["4", "刘芳", "女", "411627198804130502", "1390000", "后常营村二组", "1月30日", "", "2", "电暖器", "广州"],
        ["5", "陈刚", "男", "", "13600004444", outside_village, "2027-01-29", "", "1", "空调", "深圳"],
        ["6", "赵敏", "女", "", "13500005555", "后常营村", "2027.1.27", "", "1", "电热毯", ""],
        ["合计", "", "", "", "", "", "", "", "10", "", ""],
    ]
    text = "\r\n".join(",".join(row) for row in rows) + "\r\n"
    return text.encode("gbk")


def log_in(page, base_url, username):
    page.goto(base_url + reverse("login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base_url + reverse("home"))


def test_an_admin_imports_a_gbk_village_list_and_a_grid_manager_marks_an_arrival(
    transactional_db, chromium_browser, live_server, county_admin, grid_manager, world, screenshot_dir, tmp_path
):
    a1 = world.grids["a1"]
    houchangying = VillageFactory(grid=a1.grid, code="411601108202", name="后常营村")
    outside = world.grids["b1"].village  # 周口乙县: outside the county admin's territory
    data = village_list_csv(outside.name)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really GBK, as Excel saves it

    # --- The county admin, on a desktop -------------------------------------------------------
    admin = chromium_browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = admin.new_page()
    try:
        log_in(page, live_server.url, "county_admin")
        page.goto(live_server.url + reverse("imports:history"))
        page.locator(f"main a[href='{reverse('imports:new')}']").first.click()
        page.wait_for_url(re.compile(r".*/imports/new/"))
        page.get_by_label("数据类型").select_option("residents")
        page.get_by_label("表格文件（XLSX、XLS 或 CSV）").set_input_files(
            {"name": "后常营村返乡人员.csv", "mimeType": "text/csv", "buffer": data})
        page.get_by_label("只导入有效的行").check()
        page.get_by_role("button", name="校验文件").click()
        page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}/$"))
        job = ImportJob.objects.get()
        assert job.user == county_admin and job.status == ImportJob.Status.PREVIEWED

        # The preview: three new, three rejected, each with its Excel row, its column as written
        # and a message in Chinese; nothing written yet.
        stats = {page.locator(".stat dt").nth(i).inner_text().strip(): page.locator(".stat dd").nth(i).inner_text()
                 for i in range(page.locator(".stat").count())}
        assert stats["新增"] == "3" and stats["已拒绝"] == "3", stats
        error_rows = page.locator("table.errors tbody tr")
        assert error_rows.count() == 3
        cells = [[cell.strip() for cell in error_rows.nth(i).locator("td").all_inner_texts()] for i in range(3)]
        assert [(row[0], row[1]) for row in cells] == [("5", "公民身份号码"), ("6", "手机号码"), ("7", "所在村")]
        # Personal cells are quoted masked (the errors are stored with the job).
        assert cells[0][2] == "4.1****E+17" and cells[1][2] == "****" and cells[2][2] == outside.name
        problems = [row[3] for row in cells]
        assert problems[0].startswith("Excel 把该身份证号存成了数字") and "重新输入" in problems[0]
        assert problems[1] == "手机号码为 11 位（此号码为 7 位）。请核对号码。"
        assert problems[2].startswith("该行政村不在您的管辖范围内")
        # Messages in Chinese: no English sentence left in them (a catalog gap would show here).
        assert not any(re.search(r"[A-Za-z]{3,} [a-z]{2,}", problem) for problem in problems), problems
        assert not ReturningResident.objects.exists()
        shoot(page, screenshot_dir, "desktop-import-preview")

        # Import the valid rows.
        page.get_by_role("button", name="导入有效的行").click()
        page.wait_for_load_state()
        assert "导入完成：新增 3，更新 0，未变 0，拒绝 3。" in page.locator(".message").inner_text()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE
        imported = dict(ReturningResident.objects.values_list("name", "village_id"))
        assert imported == {"常建国": houchangying.pk, "常小红": houchangying.pk, "赵敏": houchangying.pk}
        assert ReturningResident.objects.get(name="常建国").village_group == "一组"  # "后常营村一组"
        assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1

        # The error workbook to send back to the village: the three rows as written, with an error column.
        with page.expect_download() as download_info:
            page.get_by_role("link", name="下载未通过的行（XLSX）").click()
        download = download_info.value
        assert download.suggested_filename.endswith("_errors.xlsx")
        saved = tmp_path / "errors.xlsx"
        download.save_as(saved)
        rows = CalamineWorkbook.from_path(str(saved)).get_sheet_by_index(0).to_python()
        assert rows[0][:2] == ["错误", "文件中的行号"] and rows[0][2:2 + len(HEADER)] == HEADER
        body = [row for row in rows[1:] if any(row)]
        assert [int(row[1]) for row in body] == [5, 6, 7]
        assert [row[3] for row in body] == ["王磊", "刘芳", "陈刚"]
        assert "公民身份号码" in body[0][0] and "手机号码" in body[1][0] and "所在村" in body[2][0]
        assert all(re.search(r"[\u4e00-\u9fff]", row[0]) for row in body)
        shoot(page, screenshot_dir, "desktop-import-done")
    finally:
        admin.close()

    # --- The grid manager, on a phone ----------------------------------------------------------
    phone = chromium_browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    try:
        log_in(page, live_server.url, "grid_manager")
        page.locator("[data-menu-toggle]").click()
        page.locator(f"#site-nav a[href='{reverse('customers:resident_list')}']").click()
        page.wait_for_url(re.compile(r".*/residents/$"))
        main = page.locator("main").inner_text()
        assert all(name in main for name in ("常建国", "常小红", "赵敏"))
        assert not any(name in main for name in ("王磊", "刘芳", "陈刚"))
        assert "138****2233" in main and "13800112233" not in main  # normalised, and masked
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir, "phone-imported-residents")

        page.get_by_label(re.compile("常小红")).check()
        page.locator("button[name=action][value=arrived]").click()
        page.wait_for_load_state()
        row = page.locator("tr.res-row", has_text="常小红")
        assert row.locator(".res-status-arrived").count() == 1
        shoot(page, screenshot_dir, "phone-imported-resident-arrived")
    finally:
        phone.close()

    statuses = dict(ReturningResident.objects.values_list("name", "status"))
    assert statuses == {"常建国": "expected", "常小红": "arrived", "赵敏": "expected"}
    assert ReturningResident.objects.get(name="常小红").arrived_at is not None
