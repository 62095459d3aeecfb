"""A grid manager's morning on a 390×844 phone: the home, the first visit, logging it with a
photo, seeing the photo on the log, then recording 30 cards posted in a village."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from tests.visits.factories import RoundFactory, VisitFactory
from visits.models import Photo, ServiceCardRecord, Visit, VisitLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_grid_managers_morning_on_a_phone(transactional_db, chromium_browser, live_server, world, grid_manager,
                                            screenshot_dir, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    a1 = world.grids["a1"]
    rnd = RoundFactory(county=world.county_a, station=world.station_a1, status="active")
    first = VisitFactory(grid=a1.grid, grid_manager=grid_manager, household=a1.households[0], village=None,
                         round=rnd, planned_date=timezone.localdate())
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, household=a1.households[1], village=None,
                 round=rnd, planned_date=timezone.localdate())
    photo_path = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (2400, 1800), (60, 120, 90)).save(photo_path, format="JPEG")

    context = chromium_browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("login"))
        page.locator('input[name="username"]').fill("grid_manager")
        page.locator('input[name="password"]').fill("correct-horse-battery-9")
        page.locator('input[name="password"]').press("Enter")
        page.wait_for_url(live_server.url + reverse("home"))

        # Home: today's visits first, the first one a big link to its log form.
        visits = page.locator('[data-section="visits"] [data-visit-id]')
        assert visits.count() == 2
        assert visits.first.get_attribute("data-visit-id") == str(first.pk)
        assert visits.first.bounding_box()["height"] >= 44
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "morning-home")
        visits.first.click()
        page.wait_for_url(live_server.url + reverse("visits:field_visit_log", args=[first.pk]))

        # Log it with a photo.
        page.locator('input[name="met_person"]').fill("户主本人")
        page.locator('input[name="photo"]').set_input_files(str(photo_path))
        assert fits_the_phone(page)
        page.locator("[data-submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:field_today"))

        # The log shows the photo as a thumbnail that loads through the protected view.
        log = VisitLog.objects.get(visit=first)
        photo = Photo.objects.get(visit_log=log)
        page.goto(live_server.url + reverse("visits:field_log_detail", args=[log.pk]))
        thumb = page.locator("[data-photos] img").first
        thumb.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
        assert page.evaluate("img => img.naturalWidth", thumb.element_handle()) == 320
        assert thumb.locator("xpath=..").get_attribute("href") == reverse("visits:photo_file", args=[photo.pk])
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "morning-log-photo")

        # Back home, then 30 cards posted on the meter boxes of the village.
        page.goto(live_server.url + reverse("home"))
        page.locator(f'a[href="{reverse("visits:service_cards_record")}"]').click()
        page.wait_for_url(live_server.url + reverse("visits:service_cards_record"))
        page.locator('select[name="village"]').select_option(str(a1.village.pk))
        page.locator('select[name="round"]').select_option(str(rnd.pk))
        page.locator('input[name="posted"]').fill("30")
        assert fits_the_phone(page)
        page.locator("[data-cards-form] button[type=submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:service_cards_record"))
        assert "30" in page.locator("[data-card-records]").inner_text()
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "morning-cards")
    finally:
        context.close()

    assert Visit.objects.get(pk=first.pk).status == Visit.Status.DONE
    record = ServiceCardRecord.objects.get(visit__isnull=True)
    assert (record.village_id, record.round_id, record.posted, record.grid_manager_id) == (
        a1.village.pk, rnd.pk, 30, grid_manager.pk)
