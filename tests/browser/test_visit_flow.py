"""Issue 4, "done means": a grid manager on a phone logs a visit from "today" — one hazard with
a photo, two service cards, one confirmed arrival — through a dropped connection; station
staff see the hazard and the progress report counts the visit, the cards and the hazard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory
from tests.visits.factories import VisitFactory
from visits.models import Hazard, Photo, ServiceCardRecord, Visit, VisitLog
from visits.selectors import progress_counts
from zhoukou_grid.core.scoping import for_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def shoot(page, folder, name):
    if folder is not None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_grid_manager_logs_a_visit_on_a_phone_and_the_station_sees_it(
    transactional_db, chromium_browser, live_server, world, grid_manager, station_staff, screenshot_dir, tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    a1 = world.grids["a1"]
    household = a1.households[0]
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=household)
    resident = ReturningResidentFactory(village=a1.village, household=household, name="张返乡",
                                        arrival_date=timezone.localdate() + timedelta(days=1))
    photo_path = tmp_path / "IMG_20270201.jpg"
    Image.new("RGB", (2400, 1800), (120, 90, 60)).save(photo_path, format="JPEG")
    deadline = (timezone.localdate() + timedelta(days=7)).isoformat()

    # A browser without a service worker: the typing is kept as a draft through the dropped
    # connection. With a worker the log goes to the outbox instead (tests/browser/test_offline_field.py).
    context = chromium_browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, service_workers="block")
    page = context.new_page()
    try:
        page.goto(live_server.url + reverse("login"))
        page.locator('input[name="username"]').fill("grid_manager")
        page.locator('input[name="password"]').fill("correct-horse-battery-9")
        page.locator('input[name="password"]').press("Enter")
        page.wait_for_url(live_server.url + reverse("home"))

        # Today: the visit, its agenda (the resident due), big touch targets.
        page.goto(live_server.url + reverse("visits:field_today"))
        card = page.locator(f'[data-visit-id="{visit.pk}"]')
        assert household.name in card.inner_text() and "张返乡" in card.inner_text()
        log_link = card.locator(f'a[href="{reverse("visits:field_visit_log", args=[visit.pk])}"]')
        assert log_link.bounding_box()["height"] >= 44
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "field-today")
        log_link.click()
        form_url = live_server.url + reverse("visits:field_visit_log", args=[visit.pk])
        page.wait_for_url(form_url)

        # The form, filled one-handed.
        page.locator('input[name="met_person"]').fill("户主王大爷")
        page.locator('label:has(input[name="check_meter_box"][value="problem"])').click()
        page.locator('label:has(input[name="check_earthing"][value="ok"])').click()
        page.locator("details.field-item summary").first.click()
        page.locator('select[name="hazard-0-severity"]').select_option("serious")
        page.locator('input[name="hazard-0-deadline"]').fill(deadline)
        page.locator('textarea[name="hazard-0-description"]').fill("表箱门损坏，进户线裸露")
        page.locator('input[name="cards_handed_out"]').fill("2")
        page.locator(f'input[name="residents"][value="{resident.pk}"]').check()
        page.locator('input[name="guidance"][value="guided_payment"]').check()
        key = page.locator('input[name="client_key"]').input_value()
        assert key
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "field-log-form")

        # The connection drops as the grid manager submits: nothing reaches the server ...
        context.set_offline(True)
        page.locator("[data-submit]").click()
        page.wait_for_timeout(500)
        context.set_offline(False)
        assert not VisitLog.objects.exists()

        # ... and back online, the form comes back as it was typed, with the same key.
        page.goto(form_url)
        assert page.locator('input[name="met_person"]').input_value() == "户主王大爷"
        assert page.locator('textarea[name="hazard-0-description"]').input_value() == "表箱门损坏，进户线裸露"
        assert page.locator('input[name="cards_handed_out"]').input_value() == "2"
        assert page.locator(f'input[name="residents"][value="{resident.pk}"]').is_checked()
        assert page.locator('input[name="check_meter_box"][value="problem"]').is_checked()
        assert page.locator('input[name="client_key"]').input_value() == key
        assert page.locator("[data-draft-notice]").is_visible()
        shoot(page, screenshot_dir, "field-log-form-restored")
        # Photos are not kept on the phone: attach it again, then submit.
        page.locator('input[name="hazard-0-photo"]').set_input_files(str(photo_path))
        page.locator("[data-submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        assert page.locator(".message-success").count() == 1
        assert fits_the_phone(page)
        shoot(page, screenshot_dir, "field-today-after")
        # The draft is gone once the visit is done.
        assert page.evaluate(f"window.localStorage.getItem('zg-visit-log:{visit.pk}')") is None
    finally:
        context.close()

    # One log, under the key chosen before the first try.
    log = VisitLog.objects.get()
    assert (log.visit_id, log.client_key, log.met_person) == (visit.pk, key, "户主王大爷")
    assert Visit.objects.get(pk=visit.pk).status == Visit.Status.DONE
    hazard = Hazard.objects.get(visit_log=log)
    photo = Photo.objects.get(hazard=hazard)
    with Image.open(settings.MEDIA_ROOT / photo.image.name) as stored:
        assert max(stored.size) == 1600
    cards = ServiceCardRecord.objects.get(visit=visit)
    assert (cards.handed_out, cards.posted) == (2, 0)
    resident.refresh_from_db()
    assert resident.status == ReturningResident.Status.ARRIVED
    assert list(log.residents_confirmed.all()) == [resident]

    # Station staff, in their own browser, see the hazard on their board and the visit,
    # the two cards and the hazard counted in the progress report.
    assert list(for_user(station_staff, Hazard)) == [hazard]
    desk = chromium_browser.new_context(viewport={"width": 1280, "height": 800})
    staff_page = desk.new_page()
    try:
        staff_page.goto(live_server.url + reverse("login"))
        staff_page.locator('input[name="username"]').fill("station_staff")
        staff_page.locator('input[name="password"]').fill("correct-horse-battery-9")
        staff_page.locator('input[name="password"]').press("Enter")
        staff_page.wait_for_url(live_server.url + reverse("home"))
        staff_page.goto(live_server.url + reverse("visits:hazard_board"))
        assert "表箱门损坏" in staff_page.inner_text("main")
        shoot(staff_page, screenshot_dir, "station-hazard-board")
        staff_page.goto(live_server.url + reverse("visits:progress"))

        def total(name):
            return staff_page.locator(f'[data-total="{name}"]').inner_text().split("/")[0].strip()

        assert (total("visits_done"), total("cards"), total("hazards_rectified")) == ("1", "2", "0")
        assert staff_page.locator('[data-total="hazards_rectified"] small').inner_text().strip() == "/ 1"
        shoot(staff_page, screenshot_dir, "station-progress")
    finally:
        desk.close()

    # The progress report of the station counts the visit, the two cards and the hazard.
    totals = progress_counts(user=station_staff, group_by="grid")["totals"]
    assert (totals["visits_done"], totals["cards_handed_out"], totals["hazards_found"]) == (1, 2, 1)
    assert totals["households_visited"] == 1 and totals["guidance_payment"] == 1
