"""Visit photos hold personal data: their files are served only after the permission check.

No public /media/ URL (nginx has no such location and Django serves none with DEBUG off);
pages link to /visits/photos/<pk>/, which checks the user's territory, then streams the file
or, behind nginx, hands it over with X-Accel-Redirect to an internal location.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.visits.factories import HazardFactory, PhotoFactory


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = ""


@pytest.fixture
def photo(world):
    return PhotoFactory(grid=world.grids["a1"].grid)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_grid_manager_of_the_photo_gets_its_bytes(photo, grid_manager):
    response = client_for(grid_manager).get(reverse("visits:photo_file", args=[photo.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == photo.image.open("rb").read()
    assert response["Cache-Control"] == "private, max-age=3600"


def test_a_grid_manager_elsewhere_gets_404_like_a_missing_photo(photo, outsider, grid_manager):
    assert client_for(outsider).get(reverse("visits:photo_file", args=[photo.pk])).status_code == 404
    assert client_for(grid_manager).get(reverse("visits:photo_file", args=[987654])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page(photo, client):
    response = client.get(reverse("visits:photo_file", args=[photo.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_behind_nginx_the_file_is_handed_over_with_x_accel_redirect(photo, grid_manager, settings):
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    response = client_for(grid_manager).get(reverse("visits:photo_file", args=[photo.pk]))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{photo.image.name}"
    assert response.content == b""

def test_behind_nginx_an_outsider_never_gets_the_header(photo, outsider, settings):
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    response = client_for(outsider).get(reverse("visits:photo_file", args=[photo.pk]))
    assert response.status_code == 404 and "X-Accel-Redirect" not in response


def test_a_photo_whose_file_is_gone_answers_404(photo, grid_manager):
    photo.image.storage.delete(photo.image.name)
    assert client_for(grid_manager).get(reverse("visits:photo_file", args=[photo.pk])).status_code == 404


def test_the_storage_url_of_a_photo_serves_nothing_with_debug_off(photo, grid_manager):
    assert client_for(grid_manager).get(photo.image.url).status_code == 404


def test_the_hazard_page_links_the_checked_url_not_the_media_folder(world, station_staff):
    hazard = HazardFactory(grid=world.grids["a1"].grid)
    photo = PhotoFactory(grid=hazard.grid, hazard=hazard, kind="before")
    page = client_for(station_staff).get(reverse("visits:hazard_detail", args=[hazard.pk]))
    assert page.status_code == 200
    url = reverse("visits:photo_file", args=[photo.pk])
    body = page.content.decode()
    assert f'href="{url}"' in body and f'src="{url}?size=thumb"' in body  # full size and thumbnail, both checked
    assert "/media/" not in page.content.decode()


@pytest.fixture
def urls_with_debug_on(settings):
    """The URLconf as `make run` builds it (DEBUG on), restored afterwards."""
    import importlib

    from django.urls import clear_url_caches

    import zhoukou_grid.urls

    settings.DEBUG = True
    importlib.reload(zhoukou_grid.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(zhoukou_grid.urls)
    clear_url_caches()


def test_with_debug_on_the_media_folder_is_not_served_raw(photo, grid_manager, outsider, urls_with_debug_on):
    from django.urls import Resolver404, resolve

    with pytest.raises(Resolver404):
        resolve("/" + photo.image.url.lstrip("/"))
    content = photo.image.open("rb").read()
    for user in (grid_manager, outsider):
        response = client_for(user).get(photo.image.url)
        assert response.status_code == 404
        assert content not in response.content
    # The checked view still serves the photo to the user whose territory holds it.
    response = client_for(grid_manager).get(reverse("visits:photo_file", args=[photo.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
