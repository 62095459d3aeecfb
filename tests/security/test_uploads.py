"""Every upload is judged by its content, never by its name.

Entry points (docs/security.md lists them): the import page and the import API (the
spreadsheet reader, zhoukou_grid/core/importing/reader.py), the admin's django-import-export
import, the visit-log photo (web form and API, visits/photos.py), the hazard photo on the
hazard page, and a round's list of account numbers. Each gets files whose name lies.
"""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from tests.visits.factories import HazardFactory, VisitFactory
from tests.visits.test_photos import image_bytes
from zhoukou_grid.core.importing.reader import SpreadsheetError, read_rows
from zhoukou_grid.core.models import ImportJob
from zhoukou_grid.territory.models import Village

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script><table><tr><td>x</td></tr></table></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(1)</script></svg>")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"
# Starts like a JPEG, goes on as a web page: a polyglot that a magic-number check accepts.
POLYGLOT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + HTML

LYING_SPREADSHEETS = {"html.xlsx": HTML, "svg.xls": SVG, "exe.xlsx": EXE, "pdf.csv": PDF}
LYING_IMAGES = {"pdf.jpg": PDF, "svg.jpg": SVG, "html.png": HTML, "polyglot.jpg": POLYGLOT, "exe.jpg": EXE}


@pytest.fixture(autouse=True)
def english_and_media(settings, tmp_path, client):
    settings.MEDIA_ROOT = tmp_path
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the language switch
    with translation.override("en"):
        yield


# --- The spreadsheet reader: every import path goes through it -----------------------------
@pytest.mark.parametrize("name", LYING_SPREADSHEETS)
def test_the_reader_refuses_what_is_not_a_spreadsheet_whatever_its_name(name):
    with pytest.raises(SpreadsheetError) as refused:
        read_rows(LYING_SPREADSHEETS[name], name)
    assert "spreadsheet" in refused.value.message or "encoding" in refused.value.message


def test_a_web_page_saved_as_xls_gets_its_own_message():
    with pytest.raises(SpreadsheetError) as refused:
        read_rows(b"\xef\xbb\xbf  \r\n<html><table><tr><td>\xe6\x88\xb7\xe5\x8f\xb7</td></tr></table></html>", "list.xls")
    assert "web page" in refused.value.message


@pytest.mark.parametrize("name", LYING_SPREADSHEETS)
def test_the_import_page_refuses_a_file_whose_name_lies(client, county_admin, name):
    client.force_login(county_admin)
    before = Village.objects.count()
    response = client.post(reverse("imports:new"), {
        "kind": "villages", "file": SimpleUploadedFile(name, LYING_SPREADSHEETS[name])}, follow=True)
    assert response.status_code == 200
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REJECTED
    assert "spreadsheet" in response.content.decode() or "encoding" in response.content.decode()
    assert Village.objects.count() == before


@pytest.mark.parametrize("name", LYING_SPREADSHEETS)
def test_the_import_api_refuses_a_file_whose_name_lies(county_admin, name):
    api = APIClient()
    api.force_authenticate(county_admin)
    before = Village.objects.count()
    response = api.post("/api/v1/import-jobs/", {
        "kind": "villages", "file": SimpleUploadedFile(name, LYING_SPREADSHEETS[name])}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "rejected"
    assert Village.objects.count() == before


@pytest.mark.parametrize("name", LYING_SPREADSHEETS)
def test_the_admin_import_refuses_a_file_whose_name_lies(client, company_admin, name):
    client.force_login(company_admin)
    url = reverse("admin:zhoukou_grid_village_import")
    formats = dict((label, value) for value, label in client.get(url).context["form"].fields["format"].choices)
    assert set(formats) == {"---", "csv", "xlsx"}  # no JSON, YAML or HTML import
    response = client.post(url, {"resource": "0", "format": formats["csv" if name.endswith("csv") else "xlsx"],
                                 "import_file": SimpleUploadedFile(name, LYING_SPREADSHEETS[name])})
    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert any("spreadsheet" in error or "encoding" in error for error in errors), errors
    assert "confirm_form" not in response.context


def test_the_admin_import_still_takes_a_real_csv(client, company_admin, world):
    client.force_login(company_admin)
    url = reverse("admin:zhoukou_grid_village_import")
    formats = dict((label, value) for value, label in client.get(url).context["form"].fields["format"].choices)
    data = "网格编码,村编码,村名称\r\nJA-WG-01,411601000009,新九村\r\n".encode("utf-8-sig")
    response = client.post(url, {"resource": "0", "format": formats["csv"],
                                 "import_file": SimpleUploadedFile("villages.xlsx", data)})
    assert response.status_code == 200
    assert "confirm_form" in response.context, response.context["form"].errors


def test_a_rounds_account_list_refuses_a_web_page():
    from django import forms

    from visits.forms_rounds import account_numbers_of

    with pytest.raises(forms.ValidationError) as refused:
        account_numbers_of(SimpleUploadedFile("accounts.xlsx", HTML))
    assert "web page" in str(refused.value)


# --- Photos ----------------------------------------------------------------------------------
@pytest.fixture
def visit(world, grid_manager):
    a1 = world.grids["a1"]
    return VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])


@pytest.mark.parametrize("name", LYING_IMAGES)
def test_the_visit_log_api_refuses_a_photo_whose_content_is_not_an_image(grid_manager, visit, name):
    from visits.models import Photo, VisitLog

    api = APIClient()
    api.force_authenticate(grid_manager)
    response = api.post("/api/v1/visit-logs/", {
        "visit": visit.pk, "client_key": f"k-{name}",
        "photos": [{"data": base64.b64encode(LYING_IMAGES[name]).decode()}]}, format="json")
    assert response.status_code == 400
    assert "photos" in response.json()
    assert not VisitLog.objects.exists() and not Photo.objects.exists()


@pytest.mark.parametrize("name", LYING_IMAGES)
def test_the_visit_log_page_refuses_a_photo_whose_content_is_not_an_image(client, grid_manager, visit, name):
    from tests.visits.test_field_pages import log_post
    from visits.models import Photo, VisitLog

    client.force_login(grid_manager)
    response = client.post(reverse("visits:field_visit_log", args=[visit.pk]),
                           log_post(photo=SimpleUploadedFile(name, LYING_IMAGES[name], "image/jpeg")))
    assert response.status_code == 400
    assert "not a JPEG, PNG or WebP image" in response.content.decode()
    assert not VisitLog.objects.exists() and not Photo.objects.exists()


@pytest.mark.parametrize("name", LYING_IMAGES)
def test_the_hazard_page_refuses_a_photo_whose_content_is_not_an_image(client, personas, world, name):
    from visits.models import Photo

    hazard = HazardFactory(grid=world.grids["a1"].grid, found_by=personas.grid_manager)
    client.force_login(personas.grid_manager)
    response = client.post(reverse("visits:hazard_detail", args=[hazard.pk]),
                           {"kind": "before", "image": SimpleUploadedFile(name, LYING_IMAGES[name], "image/jpeg")},
                           follow=True)
    assert "not a JPEG, PNG or WebP image" in response.content.decode()
    assert not Photo.objects.exists()


def test_a_hazard_photo_is_re_encoded_without_its_gps_position(client, personas, world):
    from PIL import Image

    from visits.models import Photo

    hazard = HazardFactory(grid=world.grids["a1"].grid, found_by=personas.grid_manager)
    client.force_login(personas.grid_manager)
    original = image_bytes()  # 3000x2000 with GPS in its EXIF
    client.post(reverse("visits:hazard_detail", args=[hazard.pk]),
                {"kind": "before", "image": SimpleUploadedFile("IMG_1.HEIC", original, "image/heic")})
    photo = Photo.objects.get()
    with photo.image.open("rb") as handle, Image.open(handle) as stored:
        assert max(stored.size) == 1600
        assert not stored.getexif()
