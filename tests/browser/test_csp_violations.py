"""No page breaks the Content-Security-Policy: every role's main pages, the admin (with
and without actions, import and export), the API docs (Swagger UI) and the login page, in
Chromium. A violation shows up as a `securitypolicyviolation` event or a console message;
either fails the test, naming the page and what was blocked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} `
                              + `at ${event.sourceFile || "?"}:${event.lineNumber}`);
});
"""

PAGES = {
    "grid_manager": ["home", "visits:field_today", "portal:transformer_list", "customers:resident_list",
                     "customers:keycustomer_list", "visits:calendar", "loadforecast:alert_list", "password_change"],
    "station_staff": ["home", "loadforecast:load_overview", "visits:hazard_board",
                      "visits:issue_board", "customers:arrivals", "visits:progress", "visits:round_list"],
    "county_admin": ["home", "audit_log", "imports:history", "imports:new", "loadforecast:load_settings",
                     "customers:household_list", "admin:index", "admin:zhoukou_grid_village_changelist",
                     "admin:zhoukou_grid_auditlog_changelist", "admin:zhoukou_grid_village_import",
                     "admin:zhoukou_grid_village_export", "admin:zhoukou_grid_village_add"],
    "company_admin": ["home", "audit_log", "admin:auth_user_changelist", "admin:zhoukou_grid_importjob_changelist"],
}


NETWORK_IDLE_MS = 15000


def open_and_collect(context, url, *, wait_for=None):
    """Open `url`; return the CSP complaints the page raised (events and console)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    console: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: console.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    try:
        response = page.goto(url)
        assert response is not None and response.status < 400, f"{url}: {response and response.status}"
        page.wait_for_load_state("load")
        # Then let the page's own requests settle (scripts, charts, the offline app's cache
        # filling in its service worker). On a busy 2-core CI machine the offline cache can
        # keep the network from being idle for long; the page has loaded and run its scripts
        # by then, so a page that is merely slow to go quiet is checked as it stands.
        try:
            page.wait_for_load_state("networkidle", timeout=NETWORK_IDLE_MS)
        except PlaywrightTimeoutError:
            pass
        if wait_for:
            page.wait_for_selector(wait_for, timeout=15000)
        events = page.evaluate("window.__cspViolations")
        return events + console
    finally:
        page.close()


def browser_context_for(chromium_browser, live_server, user=None):
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    if user is not None:
        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                              "url": live_server.url}])
    return context


def test_no_page_of_any_role_violates_the_csp(transactional_db, chromium_browser, live_server, personas, world):
    from tests.visits.factories import HazardFactory, VisitFactory

    a1 = world.grids["a1"]
    hazard = HazardFactory(grid=a1.grid, found_by=personas.grid_manager)
    visit = VisitFactory(grid=a1.grid, grid_manager=personas.grid_manager, village=None, household=a1.households[0])
    details = {
        "grid_manager": [reverse("visits:field_visit_log", args=[visit.pk]),  # the photo input and its preview
                         reverse("visits:hazard_detail", args=[hazard.pk]),
                         reverse("portal:transformer_detail", args=[a1.transformer.pk])],
        "station_staff": [reverse("loadforecast:load_transformer", args=[a1.transformer.pk])],
        "company_admin": [reverse("admin:auth_user_change", args=[personas.grid_manager.pk]),  # roles inline
                          reverse("admin:auth_user_password_change", args=[personas.grid_manager.pk])],
    }
    complaints = {}
    for persona, names in PAGES.items():
        context = browser_context_for(chromium_browser, live_server, getattr(personas, persona))
        try:
            for url in [reverse(name) for name in names] + details.get(persona, []):
                found = open_and_collect(context, live_server.url + url)
                if found:
                    complaints[f"{persona} {url}"] = found
        finally:
            context.close()
    assert not complaints, complaints


def test_the_login_page_and_the_api_docs_run_under_the_csp(transactional_db, chromium_browser, live_server,
                                                           personas):
    anonymous = browser_context_for(chromium_browser, live_server)
    try:
        assert open_and_collect(anonymous, live_server.url + reverse("login")) == []
    finally:
        anonymous.close()
    context = browser_context_for(chromium_browser, live_server, personas.county_admin)
    try:
        # Swagger UI must actually start (its script is a separate file) and draw the API.
        complaints = open_and_collect(context, live_server.url + "/api/v1/docs/", wait_for=".swagger-ui .info")
        assert complaints == []
    finally:
        context.close()


def test_the_check_catches_an_inline_script(transactional_db, chromium_browser, live_server, personas, settings):
    """The control: a page with an inline script is reported, so a silent pass means something."""
    from django.http import HttpResponse
    from django.urls import path

    import zhoukou_grid.urls as root

    def inline(request):
        return HttpResponse("<!doctype html><html><body><script>document.title='ran'</script>"
                            "<p style='color:red'>x</p></body></html>")

    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": [path("inline/", inline), *root.urlpatterns]})
    context = browser_context_for(chromium_browser, live_server, personas.grid_manager)
    try:
        complaints = open_and_collect(context, live_server.url + "/inline/")
    finally:
        context.close()
    joined = " ".join(complaints)
    assert "script-src" in joined and "style-src" in joined, complaints
