"""Disk full, or the media folder read-only or not writable, when a photo is uploaded: the
visit log is kept without the photo and the user reads why, on the phone form and in the
API. The fault is injected at the storage layer (we run as root: chmod would not stop us)."""

from __future__ import annotations

import base64
import errno
import os
from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from tests.visits.factories import VisitFactory
from tests.visits.test_field_pages import log_post
from tests.visits.test_photos import image_bytes
from visits.models import Photo, Visit, VisitLog

pytestmark = pytest.mark.django_db
LOST = "A photo could not be stored (the server's storage is full or not writable). The visit log is saved without it."
FAULTS = [errno.ENOSPC, errno.EACCES, errno.EROFS]


@pytest.fixture(autouse=True)
def english_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def visit(world, grid_manager):
    a1 = world.grids["a1"]
    return VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])


def storage_fails(code: int):
    return mock.patch.object(FileSystemStorage, "_save", side_effect=OSError(code, os.strerror(code)))


@pytest.mark.parametrize("code", FAULTS, ids=[errno.errorcode[c] for c in FAULTS])
def test_the_phone_form_keeps_the_log_and_says_the_photo_was_not_stored(client, grid_manager, visit, code, tmp_path):
    client.force_login(grid_manager)
    data = log_post(photo=SimpleUploadedFile("p.jpg", image_bytes((800, 600)), "image/jpeg"), met_person="李",
                    needs="换表")
    with storage_fails(code):
        response = client.post(reverse("visits:field_visit_log", args=[visit.pk]), data, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert LOST in page.replace("&#x27;", "'") and "Visit logged" in page
    log = VisitLog.objects.get(visit=visit)
    assert (log.met_person, log.needs) == ("李", "换表") and not Photo.objects.exists()
    assert Visit.objects.get(pk=visit.pk).status == Visit.Status.DONE
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]  # nothing half-written

    # Storage works again: the next visit's photo is stored.
    other = VisitFactory(grid=visit.grid, grid_manager=grid_manager, village=None, household=visit.household)
    client.post(reverse("visits:field_visit_log", args=[other.pk]),
                log_post(key="key-2", photo=SimpleUploadedFile("p.jpg", image_bytes((80, 60)), "image/jpeg")))
    assert Photo.objects.filter(visit_log__visit=other).count() == 1


@pytest.mark.parametrize("code", FAULTS, ids=[errno.errorcode[c] for c in FAULTS])
def test_the_api_keeps_the_log_and_names_the_lost_photo_in_the_body(grid_manager, visit, code):
    client = APIClient()
    client.force_authenticate(grid_manager)
    photo = base64.b64encode(image_bytes((400, 300))).decode()
    payload = {"visit": visit.pk, "client_key": "phone-1", "met_person": "王", "photos": [{"data": photo},
                                                                                       {"data": photo}]}
    with storage_fails(code):
        response = client.post("/api/v1/visit-logs/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["photo_warnings"] == [LOST, LOST] and response["X-Photo-Warnings"] == "2"
    log = VisitLog.objects.get(pk=body["id"])
    assert log.met_person == "王" and not log.photos.exists()

    # The same submit again once storage works: the first log, nothing written twice.
    again = client.post("/api/v1/visit-logs/", payload, format="json")
    assert again.status_code == 200 and again.json()["id"] == log.pk and again.json()["photo_warnings"] == []
    assert VisitLog.objects.count() == 1


def test_photos_stored_normally_carry_no_warning(grid_manager, visit):
    client = APIClient()
    client.force_authenticate(grid_manager)
    photo = base64.b64encode(image_bytes((40, 30))).decode()
    response = client.post("/api/v1/visit-logs/", {"visit": visit.pk, "client_key": "k", "photos": [{"data": photo}]},
                           format="json")
    assert response.status_code == 201 and response.json()["photo_warnings"] == []
    assert "X-Photo-Warnings" not in response and Photo.objects.count() == 1


@pytest.mark.parametrize("code", FAULTS, ids=[errno.errorcode[c] for c in FAULTS])
def test_a_hazard_photo_that_cannot_be_stored_is_a_clear_error_not_a_500(client, grid_manager, world, code):
    from tests.visits.factories import HazardFactory

    hazard = HazardFactory(grid=world.grids["a1"].grid, household=world.grids["a1"].households[0])
    client.force_login(grid_manager)
    url = reverse("visits:hazard_detail", args=[hazard.pk])
    with storage_fails(code):
        response = client.post(url, {"kind": "before", "image": SimpleUploadedFile("a.jpg", image_bytes((80, 60)))},
                               follow=True)
    assert response.status_code == 200
    assert "The photo could not be stored (the server&#x27;s storage is full or not writable)" in \
        response.content.decode()
    assert not Photo.objects.exists()
