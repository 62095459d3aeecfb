"""Photos seen: a visit log and a hazard show thumbnails linking to the full image, through
the protected photo view; the API gives each photo its URLs."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from tests.visits.factories import VisitFactory
from tests.visits.test_photos import image_bytes
from visits import photos, services


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def logged(world, grid_manager):
    a1 = world.grids["a1"]
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village)
    log = services.visit_log_submit(user=grid_manager, visit_id=visit.pk, client_key="photo-display-1",
                                    hazards=[{"severity": "serious", "deadline": "2099-01-01",
                                              "description": "表箱破损"}])
    prepared = [photos.photo_prepare(image_bytes()), photos.photo_prepare(image_bytes(), hazard_index=0)]
    assert photos.photos_attach(user=grid_manager, log=log, photos=prepared) == []
    return log


def test_the_log_page_shows_thumbnails_that_open_the_full_photo(client, grid_manager, logged):
    client.force_login(grid_manager)
    body = client.get(reverse("visits:field_log_detail", args=[logged.pk])).content.decode()
    for photo in logged.photos.all():
        full = reverse("visits:photo_file", args=[photo.pk])
        assert f'href="{full}"' in body and f'src="{full}?size=thumb"' in body


def test_the_hazard_page_shows_its_photo_as_a_thumbnail(client, grid_manager, logged):
    hazard = logged.hazards.get()
    photo = hazard.photos.get()
    client.force_login(grid_manager)
    body = client.get(reverse("visits:hazard_detail", args=[hazard.pk])).content.decode()
    assert f'src="{reverse("visits:photo_file", args=[photo.pk])}?size=thumb"' in body


def test_a_thumbnail_is_a_small_jpeg_and_the_full_photo_is_the_stored_one(client, grid_manager, outsider, logged):
    photo = logged.photos.first()
    url = reverse("visits:photo_file", args=[photo.pk])
    client.force_login(grid_manager)
    thumb = client.get(url + "?size=thumb")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    assert "private" in thumb["Cache-Control"]
    full = client.get(url)
    assert max(Image.open(io.BytesIO(b"".join(full.streaming_content))).size) == 1600
    client.force_login(outsider)
    assert client.get(url + "?size=thumb").status_code == 404


def test_the_api_gives_each_photo_its_urls(grid_manager, logged):
    client = APIClient()
    client.force_authenticate(grid_manager)
    log = client.get(f"/api/v1/visit-logs/{logged.pk}/").json()
    urls = {row["url"] for row in log["photos"]}
    assert urls == {reverse("visits:photo_file", args=[p.pk]) for p in logged.photos.all()}
    assert all(row["thumbnail_url"] == row["url"] + "?size=thumb" for row in log["photos"])
    hazard = client.get(f"/api/v1/hazards/{logged.hazards.get().pk}/").json()
    assert [row["url"] for row in hazard["photos"]] == [
        reverse("visits:photo_file", args=[logged.hazards.get().photos.get().pk])]
