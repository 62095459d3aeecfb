"""The field pages without signal, server side: the worker's URL and answer, what "today"
tells the phone to keep, the outbox page, the web app manifest. The phone's side is in
tests/browser/test_offline_field.py."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.visits.factories import VisitFactory
from visits.models import Visit
from zhoukou_grid.core import webapp

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    """The data- attributes of the page's [data-offline-config] element."""
    html = response.content.decode()
    start = html.index("data-offline-config")
    tag = html[start:html.index(">", start)]
    attributes = {}
    for part in tag.split(' data-')[1:]:
        name, _, value = part.partition("=")
        attributes[name] = value.strip('"')
    return attributes


@pytest.fixture
def gm_client(client, grid_manager):
    client.force_login(grid_manager)
    return client


def test_today_keeps_only_the_forms_of_the_visits_still_to_do(gm_client, grid_manager, world):
    a1 = world.grids["a1"]
    planned = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village)
    done = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, status=Visit.Status.DONE,
                        done_at=timezone.now())
    cancelled = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village,
                             status=Visit.Status.CANCELLED)
    other_day = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village,
                             planned_date=planned.planned_date.replace(year=planned.planned_date.year + 1))
    keep = config_of(gm_client.get(reverse("visits:field_today")))["keep-urls"].split(" ")
    pages = [url for url in keep if not url.startswith("/static/")]
    assert pages == [reverse("visits:field_today"), reverse("visits:field_visit_log", args=[planned.pk]),
                     reverse("visits:field_outbox"), reverse("visits:field_offline")]
    for visit in (done, cancelled, other_day):
        assert reverse("visits:field_visit_log", args=[visit.pk]) not in keep
    assert "/static/js/offline.js" in keep and "/static/css/visits_field.css" in keep


def test_the_log_form_registers_the_worker_but_keeps_nothing_itself(gm_client, grid_manager, world):
    a1 = world.grids["a1"]
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village)
    config = config_of(gm_client.get(reverse("visits:field_visit_log", args=[visit.pk])))
    assert "keep-urls" not in config
    assert config["sw-scope"] == "/visits/field/"
    assert config["photo-max-side"] == "1600" and config["budget"] == str(50 * 1024 * 1024)


def test_the_worker_url_carries_the_static_version_and_changes_with_it(gm_client, settings):
    settings.STATIC_VERSION = "release-1"
    first = config_of(gm_client.get(reverse("visits:field_today")))["sw-url"].replace("&amp;", "&")
    settings.STATIC_VERSION = "release-2"
    second = config_of(gm_client.get(reverse("visits:field_today")))["sw-url"].replace("&amp;", "&")
    assert urlsplit(first).path == urlsplit(second).path == reverse("visits:field_sw")
    assert parse_qs(urlsplit(first).query)["v"] == ["release-1"]
    assert parse_qs(urlsplit(second).query)["v"] == ["release-2"]
    query = parse_qs(urlsplit(second).query)
    assert query["outbox"] == ["/static/js/outbox.js"] and query["max_age"] == [str(settings.SESSION_ABSOLUTE_TIMEOUT)]


def test_the_static_version_is_the_manifest_hash_in_production(settings, monkeypatch):
    settings.STATIC_VERSION = ""
    monkeypatch.setattr(webapp, "staticfiles_storage", type("Storage", (), {"manifest_hash": "abc123"})())
    assert webapp.static_version() == "abc123"
    monkeypatch.setattr(webapp, "staticfiles_storage", object())
    assert len(webapp.static_version()) == 12  # a hash of the static files themselves


def test_the_worker_is_our_static_file_never_cached_by_the_browser_and_under_the_csp():
    response = Client().get(reverse("visits:field_sw"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert b'addEventListener("fetch"' in response.content


def test_the_outbox_page_is_for_those_who_log_visits(client, grid_manager, nobody):
    client.force_login(nobody)
    assert client.get(reverse("visits:field_outbox")).status_code == 403
    client.force_login(grid_manager)
    response = client.get(reverse("visits:field_outbox"))
    assert response.status_code == 200
    assert b"data-outbox-list" in response.content and "发件箱" in response.content.decode()


def test_the_manifest_makes_the_portal_installable(client):
    response = client.get(reverse("webapp_manifest"))  # no login: browsers send no cookies for it
    assert response.status_code == 200 and response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "周口网格供电服务" and manifest["display"] == "standalone"
    assert manifest["start_url"] == reverse("visits:field_today")
    assert {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]} == {
        ("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}


def test_every_page_links_the_manifest_and_the_offline_scripts(client, grid_manager):
    client.force_login(grid_manager)
    html = client.get(reverse("home")).content.decode()
    assert f'rel="manifest" href="{reverse("webapp_manifest")}"' in html
    assert "/static/js/offline.js" in html and "/static/vendor/idb/idb-8.0.4.umd.js" in html
    assert 'data-page-source="network"' in html
