"""The field app without signal (Chromium at 390×844, `context.set_offline`): the day kept
on the phone, visit logs with photos in the outbox and sent once when the network returns,
a refused log kept with the server's message, the session ending meanwhile, a new
deployment picked up, sign-out asking first; and what makes the portal installable.
See docs/security.md, "The phone's copy"."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.signals import request_started
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from tests.factories import HouseholdFactory, ReturningResidentFactory, RoleAssignmentFactory, UserFactory
from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory
from visits import services
from visits.models import Hazard, Photo, Visit, VisitLog
from zhoukou_grid.territory.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery-9"


def sign_in(page, live_server, username="grid_manager", next_url=None):
    if next_url is None:
        page.goto(live_server.url + reverse("login"))
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")


def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    return context, context.new_page()


def open_today_and_keep_the_day(page, live_server):
    page.goto(live_server.url + reverse("visits:field_today"))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.locator("[data-day-kept]").wait_for(state="visible")


def badge(page) -> str:
    return page.locator("[data-outbox-count]").inner_text().strip()


def visits_of_today(world, grid_manager, count):
    a1 = world.grids["a1"]
    return [VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, household=None)
            for _ in range(count)]


def log_offline(page, live_server, visit, *, met, photos=(), hazard=None):
    """Open a visit's kept log form (from "today") and submit it without signal."""
    page.locator(f'[data-visit-id="{visit.pk}"] a[href="{reverse("visits:field_visit_log", args=[visit.pk])}"]').click()
    page.wait_for_url(live_server.url + reverse("visits:field_visit_log", args=[visit.pk]))
    assert page.locator("[data-offline-banner]").is_visible()
    page.locator('input[name="met_person"]').fill(met)
    if hazard:
        page.locator("details.field-item summary").first.click()
        page.locator('select[name="hazard-0-severity"]').select_option("serious")
        page.locator('input[name="hazard-0-deadline"]').fill((timezone.localdate() + timedelta(days=7)).isoformat())
        page.locator('textarea[name="hazard-0-description"]').fill(hazard)
    for name, path in photos:
        page.locator(f'input[name="{name}"]').set_input_files(str(path))
        page.locator(f'input[name="{name}"][data-photo-ready]').wait_for(state="attached")
    page.locator("[data-submit]").click()
    page.wait_for_url(live_server.url + reverse("visits:field_today"))
    assert page.locator("[data-offline-notice]").is_visible()


def wait_until(condition, page, seconds=10):
    """Poll the database while the phone sends (its badge may be hidden before it starts)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the phone did not send in time")


def a_photo(tmp_path, name, colour):
    path = tmp_path / name
    Image.new("RGB", (2400, 1800), colour).save(path, format="JPEG", quality=95)
    return path


def test_logs_made_without_signal_arrive_once_with_their_photos_and_hazard(
    transactional_db, chromium_browser, live_server, world, grid_manager, tmp_path, settings, screenshot_dir,
):
    """Scenario 1."""
    settings.MEDIA_ROOT = tmp_path / "media"
    first, second, third = visits_of_today(world, grid_manager, 3)
    visit_photo, hazard_photo = a_photo(tmp_path, "visit.jpg", (40, 90, 120)), a_photo(tmp_path, "box.jpg", (120, 60, 30))
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        # The server must see nothing while the phone is offline (the worker's own fetches included).
        seen = []

        def record(sender, environ, **kwargs):
            seen.append(environ.get("PATH_INFO"))

        request_started.connect(record)
        context.set_offline(True)
        page.reload()
        assert page.locator("[data-offline-banner]").is_visible()
        assert page.locator(f'[data-visit-id="{second.pk}"]').is_visible()

        log_offline(page, live_server, second, met="户主李大姐", hazard="表箱门损坏，进户线裸露",
                    photos=[("photo", visit_photo), ("hazard-0-photo", hazard_photo)])
        assert badge(page) == "1"
        assert page.locator(f'[data-queued-visit="{second.pk}"]').is_visible()
        log_offline(page, live_server, third, met="村委会主任")
        assert badge(page) == "2"
        if screenshot_dir:
            page.screenshot(path=str(screenshot_dir / "offline-today-two-waiting.png"), full_page=True)
        assert not VisitLog.objects.exists()
        request_started.disconnect(record)
        assert seen == []

        context.set_offline(False)
        page.locator("[data-outbox-link]").wait_for(state="hidden")
        assert badge(page) == "0"
        # Sent again (a reload sends what waits): still stored once.
        page.reload()
        page.goto(live_server.url + reverse("visits:field_outbox"))
        assert page.locator('[data-outbox-item][data-state="sent"]').count() == 2
        if screenshot_dir:
            page.screenshot(path=str(screenshot_dir / "offline-outbox-sent.png"), full_page=True)
    finally:
        context.close()

    assert VisitLog.objects.count() == 2
    log = VisitLog.objects.get(visit=second)
    assert log.met_person == "户主李大姐"
    hazard = Hazard.objects.get(visit_log=log)
    assert hazard.description == "表箱门损坏，进户线裸露" and hazard.severity == "serious"
    photos = Photo.objects.filter(visit_log=log)
    assert photos.count() == 2 and photos.filter(hazard=hazard).count() == 1
    for photo in photos:
        with Image.open(settings.MEDIA_ROOT / photo.image.name) as stored:
            assert max(stored.size) == 1600  # resized on the phone to the server's limit
    assert VisitLog.objects.get(visit=third).met_person == "村委会主任"
    assert set(Visit.objects.filter(pk__in=[second.pk, third.pk]).values_list("status", flat=True)) == {"done"}
    assert Visit.objects.get(pk=first.pk).status == "planned"


def test_a_log_for_a_visit_cancelled_meanwhile_stays_with_the_message_and_can_be_discarded(
    transactional_db, chromium_browser, live_server, world, grid_manager, station_staff,
):
    """Scenario 2."""
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        context.set_offline(True)
        page.reload()
        log_offline(page, live_server, visit, met="户主")
        services.visit_cancel(user=station_staff, visit_id=visit.pk, reason="线路改造")

        context.set_offline(False)
        page.goto(live_server.url + reverse("visits:field_outbox"))
        item = page.locator('[data-outbox-item][data-state="refused"]')
        item.wait_for()
        message = item.locator("[data-outbox-message]").inner_text()
        assert "取消" in message  # the server's reason, in Chinese
        assert badge(page) == "1"
        assert not VisitLog.objects.exists()

        page.on("dialog", lambda dialog: dialog.accept())
        item.locator("[data-outbox-discard]").click()
        page.locator("[data-outbox-item]").wait_for(state="detached")
        assert page.locator("[data-outbox-link]").is_hidden() and badge(page) == "0"
    finally:
        context.close()
    assert not VisitLog.objects.exists()


def test_after_the_session_ends_the_portal_asks_for_sign_in_and_then_sends_the_log(
    transactional_db, chromium_browser, live_server, world, grid_manager,
):
    """Scenario 3."""
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        context.set_offline(True)
        page.reload()
        log_offline(page, live_server, visit, met="户主")
        Session.objects.all().delete()  # the session ended while the phone had no signal

        context.set_offline(False)
        sign_in_link = page.locator("[data-offline-notice] [data-sign-in]")
        sign_in_link.wait_for()
        assert not VisitLog.objects.exists()
        sign_in_link.click()
        sign_in(page, live_server, next_url=True)
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        wait_until(VisitLog.objects.exists, page)
        page.locator("[data-outbox-link]").wait_for(state="hidden")
    finally:
        context.close()
    assert VisitLog.objects.get().visit_id == visit.pk


def test_a_new_deployment_is_picked_up_on_the_next_online_load(
    transactional_db, chromium_browser, live_server, world, grid_manager, settings,
):
    """Scenario 4: a new worker, and a fresh page (never the phone's copy) when online."""
    settings.STATIC_VERSION = "deploy-1"
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        assert "v=deploy-1" in page.evaluate("navigator.serviceWorker.controller.scriptURL")

        settings.STATIC_VERSION = "deploy-2"
        added = VisitFactory(grid=visit.grid, grid_manager=grid_manager, village=visit.village, household=None)
        page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller.scriptURL.includes('v=deploy-2')")
        assert page.locator(f'[data-visit-id="{added.pk}"]').is_visible()
        assert page.locator("[data-offline-banner]").is_hidden()
        assert page.evaluate("document.body.dataset.pageSource") == "network"
        # The new worker still answers from the day kept on this load.
        page.locator("[data-day-kept]").wait_for(state="visible")
        context.set_offline(True)
        page.reload()
        assert page.locator(f'[data-visit-id="{added.pk}"]').is_visible()
        assert page.locator("[data-offline-banner]").is_visible()
    finally:
        context.close()


def test_sign_out_with_a_log_waiting_asks_first_and_clears_the_phone(
    transactional_db, chromium_browser, live_server, world, grid_manager,
):
    """Scenario 5."""
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        context.set_offline(True)
        page.reload()
        log_offline(page, live_server, visit, met="户主")

        page.locator("[data-menu-toggle]").click()
        sign_out = page.locator(".logout-form button").first
        sign_out.click()
        dialog = page.locator("[data-signout-dialog]")
        dialog.wait_for(state="visible")
        assert "尚未发送" in dialog.inner_text()
        dialog.locator("[data-signout-cancel]").click()
        assert dialog.is_hidden()
        assert badge(page) == "1" and page.url.endswith(reverse("visits:field_today"))

        # Asked again, the network back: "send them now" sends the log, then signs out.
        sign_out.click()
        dialog.wait_for(state="visible")
        context.set_offline(False)
        dialog.locator("[data-signout-send]").click()
        page.wait_for_url(live_server.url + reverse("login"))
        assert page.evaluate("caches.has('zg-day')") is False
        assert page.evaluate("window.localStorage.getItem('zg-day')") is None
    finally:
        context.close()
    assert VisitLog.objects.get().visit_id == visit.pk


def test_the_portal_is_installable_and_a_day_of_eight_visits_is_small(
    transactional_db, chromium_browser, live_server, world, grid_manager, capsys,
):
    """Manifest fields and icons, a worker controlling "today"; the size of the kept day."""
    # Eight households, each with an agenda: an open hazard, an open issue, a resident due.
    a1 = world.grids["a1"]
    visits = []
    for number in range(8):
        household = HouseholdFactory(village=a1.village, transformer=a1.transformer, line=a1.line)
        visits.append(VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=household))
        HazardFactory(grid=a1.grid, household=household, description=f"表箱锈蚀，箱门无法关闭{number}")
        CustomerIssueFactory(grid=a1.grid, household=household, description=f"晚间电压偏低，空调无法启动{number}")
        resident = ReturningResidentFactory(village=a1.village, household=household, name=f"王返乡{number}",
                                            arrival_date=timezone.localdate() + timedelta(days=1))
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        href = page.locator('link[rel="manifest"]').get_attribute("href")
        manifest = json.loads(page.request.get(live_server.url + href).text())
        assert manifest["name"] == "周口网格供电服务" and manifest["display"] == "standalone"
        assert manifest["start_url"] == reverse("visits:field_today") and manifest["theme_color"]
        assert manifest["background_color"] and manifest["short_name"]
        sizes = {icon["sizes"] for icon in manifest["icons"]}
        assert {"192x192", "512x512"} <= sizes
        assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
        for icon in manifest["icons"]:
            answer = page.request.get(live_server.url + icon["src"])
            assert answer.ok and answer.headers["content-type"] == "image/png"
        registration = page.evaluate("""async () => {
            const registration = await navigator.serviceWorker.getRegistration();
            return {scope: registration.scope, active: registration.active.state,
                    controlled: navigator.serviceWorker.controller !== null};
        }""")
        assert registration == {"scope": live_server.url + "/visits/field/", "active": "activated", "controlled": True}
        # Chromium's own verdict (what its install prompt and Lighthouse use).
        cdp = context.new_cdp_session(page)
        parsed = cdp.send("Page.getAppManifest")
        assert parsed["errors"] == [] and parsed["url"].endswith(href)
        errors = [error["errorId"] for error in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
        assert errors == ["in-incognito"]  # a Playwright context is incognito; nothing about the portal

        kept = page.evaluate("""async () => {
            const cache = await caches.open('zg-day');
            const out = [];
            for (const request of await cache.keys()) {
                const body = await (await cache.match(request)).text();
                out.push({url: new URL(request.url).pathname, bytes: new Blob([body]).size, body});
            }
            return out;
        }""")
    finally:
        context.close()

    pages = sorted(entry["url"] for entry in kept if not entry["url"].startswith("/static/"))
    assert pages == sorted([reverse("visits:field_today"), reverse("visits:field_outbox"),
                            reverse("visits:field_offline"),
                            *(reverse("visits:field_visit_log", args=[visit.pk]) for visit in visits)])
    # Only what the day needs: no phone number of the resident due (the pages show names only).
    assert all(resident.phone not in entry["body"] for entry in kept)
    total = sum(entry["bytes"] for entry in kept)
    with capsys.disabled():
        print(f"\nday kept on the phone, 8 visits: {len(kept)} entries, {total} bytes "
              f"({sum(e['bytes'] for e in kept if not e['url'].startswith('/static/'))} of pages)")
    assert total < 2 * 1024 * 1024


def test_a_refused_log_can_be_corrected_and_sent_again_with_its_photo(
    transactional_db, chromium_browser, live_server, world, grid_manager, tmp_path, settings,
):
    """A hazard deadline the server refuses: corrected from the outbox, the photo kept."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        context.set_offline(True)
        page.reload()
        log_offline(page, live_server, visit, met="户主", hazard="电杆倾斜",
                    photos=[("photo", a_photo(tmp_path, "visit.jpg", (10, 120, 60)))])
        # The phone's form cannot know the server's date rules: a deadline in the past.
        outbox = page.evaluate("""async () => {
            const item = (await ZGOutbox.all(document.body.dataset.user))[0];
            item.body.hazards[0].deadline = '2020-01-01';
            item.fields['hazard-0-deadline'] = '2020-01-01';
            await ZGOutbox.put(item);
            return item.key;
        }""")
        context.set_offline(False)
        page.goto(live_server.url + reverse("visits:field_outbox"))
        item = page.locator('[data-outbox-item][data-state="refused"]')
        item.wait_for()
        assert item.locator("[data-outbox-message]").inner_text().strip()

        item.locator(f'a[href$="?fix={outbox}"]').click()
        page.locator("[data-fix-notice]").wait_for()
        assert page.locator('input[name="met_person"]').input_value() == "户主"
        assert page.locator('input[name="hazard-0-deadline"]').input_value() == "2020-01-01"
        page.locator('input[name="hazard-0-deadline"]').fill((timezone.localdate() + timedelta(days=3)).isoformat())
        page.locator("[data-submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        wait_until(Photo.objects.exists, page)
    finally:
        context.close()
    log = VisitLog.objects.get()
    assert log.client_key == outbox and log.met_person == "户主"
    assert Hazard.objects.get(visit_log=log).deadline == timezone.localdate() + timedelta(days=3)
    assert Photo.objects.filter(visit_log=log).count() == 1


def test_the_phone_says_there_is_no_room_before_a_photo_is_taken(
    transactional_db, chromium_browser, live_server, world, grid_manager, settings,
):
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        form_url = live_server.url + reverse("visits:field_visit_log", args=[visit.pk])
        page.goto(form_url)
        with page.expect_file_chooser():
            page.locator('input[name="photo"]').click()

        settings.OFFLINE_STORAGE_BUDGET_BYTES = 1024 * 1024  # the day and one more photo do not fit
        page.goto(form_url)
        choosers = []
        page.on("filechooser", lambda chooser: choosers.append(chooser))
        page.locator('input[name="photo"]').click()
        error = page.locator("[data-photo-error]")
        error.wait_for()
        assert "空间已满" in error.inner_text()
        page.wait_for_timeout(300)
        assert choosers == []
    finally:
        context.close()


def test_the_kept_day_is_not_shown_after_the_session_limit(
    transactional_db, chromium_browser, live_server, world, grid_manager, settings,
):
    settings.SESSION_ABSOLUTE_TIMEOUT = 4
    visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        watcher = context.new_page()
        watcher.goto(live_server.url + reverse("visits:field_outbox"))
        context.set_offline(True)
        page.reload()
        assert page.locator("[data-offline-banner]").is_visible()
        page.wait_for_timeout(4500)
        with pytest.raises(Exception, match="ERR_FAILED|ERR_INTERNET_DISCONNECTED"):
            page.reload()
        assert watcher.evaluate("caches.has('zg-day')") is False
    finally:
        context.close()


def test_a_log_waiting_on_a_shared_phone_is_sent_only_in_its_own_users_session(
    transactional_db, chromium_browser, live_server, world, grid_manager,
):
    colleague = UserFactory(username="grid_manager_2")
    RoleAssignmentFactory(user=colleague, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        context.set_offline(True)
        page.reload()
        log_offline(page, live_server, visit, met="户主")
        Session.objects.all().delete()
        context.set_offline(False)
        page.locator("[data-offline-notice] [data-sign-in]").wait_for()

        # A colleague signs in on the same phone: the log is not theirs to send.
        page.goto(live_server.url + reverse("login"))
        sign_in(page, live_server, username="grid_manager_2", next_url=True)
        page.goto(live_server.url + reverse("visits:field_outbox"))
        page.locator("[data-outbox-list] li").first.wait_for()
        assert page.locator("[data-outbox-item]").count() == 0
        assert not VisitLog.objects.exists()
    finally:
        context.close()


def test_a_log_whose_upload_is_cut_goes_to_the_outbox_with_its_photo(
    transactional_db, chromium_browser, live_server, world, grid_manager, tmp_path, settings,
):
    """The phone thinks it is online but the connection drops while the form is posted."""
    settings.MEDIA_ROOT = tmp_path / "media"
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        form_url = live_server.url + reverse("visits:field_visit_log", args=[visit.pk])
        page.goto(form_url)
        page.locator('input[name="met_person"]').fill("户主")
        page.locator('input[name="photo"]').set_input_files(str(a_photo(tmp_path, "visit.jpg", (90, 90, 20))))
        page.locator('input[name="photo"][data-photo-ready]').wait_for(state="attached")
        cut = []

        def drop_the_post(route):
            if route.request.method == "POST" and not cut:
                cut.append(route.request.url)
                return route.abort("connectionreset")
            return route.continue_()

        context.route(form_url, drop_the_post)
        page.locator("[data-submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        assert cut == [form_url]
        # Sent from the outbox as soon as "today" opened online.
        wait_until(Photo.objects.exists, page)
        page.locator("[data-outbox-link]").wait_for(state="hidden")
    finally:
        context.close()
    log = VisitLog.objects.get()
    assert log.met_person == "户主" and Photo.objects.filter(visit_log=log).count() == 1


def test_online_the_form_is_posted_as_before_and_shows_the_servers_errors(
    transactional_db, chromium_browser, live_server, world, grid_manager, tmp_path, settings,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        page.goto(live_server.url + reverse("visits:field_visit_log", args=[visit.pk]))
        page.locator('input[name="cards_handed_out"]').fill("9999")  # over the form's limit
        page.locator("[data-submit]").click()
        page.locator(".field-error").first.wait_for()
        assert not VisitLog.objects.exists()
        page.locator('input[name="cards_handed_out"]').fill("3")
        page.locator("[data-submit]").click()
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        assert page.locator(".message-success").count() == 1
        assert page.locator("[data-outbox-link]").is_hidden()
    finally:
        context.close()
    assert VisitLog.objects.get().visit_id == visit.pk


def test_a_log_posted_after_the_session_ended_is_sent_after_the_sign_in(
    transactional_db, chromium_browser, live_server, world, grid_manager,
):
    (visit,) = visits_of_today(world, grid_manager, 1)
    context, page = phone(chromium_browser)
    try:
        sign_in(page, live_server)
        open_today_and_keep_the_day(page, live_server)
        page.goto(live_server.url + reverse("visits:field_visit_log", args=[visit.pk]))
        page.locator('input[name="met_person"]').fill("户主")
        Session.objects.all().delete()
        page.locator("[data-submit]").click()
        page.wait_for_url(f"{live_server.url}{reverse('login')}**")
        assert not VisitLog.objects.exists()
        sign_in(page, live_server, next_url=True)
        page.wait_for_url(live_server.url + reverse("visits:field_today"))
        wait_until(VisitLog.objects.exists, page)
    finally:
        context.close()
    assert VisitLog.objects.get().met_person == "户主"
