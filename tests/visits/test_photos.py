"""Visit photos: checked by content, resized, stripped of EXIF, size-limited, and a storage
failure that loses the photo but never the log."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.utils import translation
from PIL import Image

from tests.visits.factories import VisitFactory
from visits import photos, services
from visits.models import Photo, VisitLog

GPS_IFD = 0x8825


def image_bytes(size=(3000, 2000), image_format="JPEG", *, gps=True) -> bytes:
    """A photo as a phone takes it: large, with a GPS position in its EXIF."""
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    options = {}
    if gps and image_format == "JPEG":
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[GPS_IFD] = {1: "N", 2: (33.0, 37.0, 12.0), 3: "E", 4: (114.0, 39.0, 2.0)}
        options["exif"] = exif.tobytes()
    image.save(out, format=image_format, **options)
    return out.getvalue()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_it_resizes_to_1600_and_strips_the_gps_position():
    original = image_bytes()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the input really has a position
    prepared = photos.photo_prepare(original)
    result = Image.open(io.BytesIO(prepared.content))
    assert max(result.size) == 1600 and result.size == (1600, 1067)
    assert not result.getexif()
    assert b"PhoneMaker" not in prepared.content
    assert (prepared.content_type, prepared.extension) == ("image/jpeg", "jpg")


def test_a_small_png_keeps_its_size_and_type():
    prepared = photos.photo_prepare(image_bytes((300, 200), "PNG"))
    assert prepared.content_type == "image/png"
    assert Image.open(io.BytesIO(prepared.content)).size == (300, 200)


def test_it_judges_by_content_not_by_name():
    with pytest.raises(ValidationError, match="not a JPEG, PNG or WebP"):
        photos.photo_prepare(b"%PDF-1.4 pretending to be photo.jpg")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    with pytest.raises(ValidationError, match="not a JPEG, PNG or WebP"):
        photos.photo_prepare(gif.getvalue())
    # A truncated JPEG (the upload broke off) is refused too.
    with pytest.raises(ValidationError):
        photos.photo_prepare(image_bytes()[:2000])


def test_the_size_limit_is_a_setting(settings):
    data = image_bytes((400, 300))
    assert photos.photo_prepare(data)
    settings.VISIT_PHOTO_MAX_BYTES = len(data) - 1
    with pytest.raises(ValidationError, match="larger than"):
        photos.photo_prepare(data)


def _log(grid_manager, world, *, hazards=()):
    visit = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager)
    return services.visit_log_submit(user=grid_manager, visit_id=visit.pk, client_key=f"photo-{visit.pk}",
                                     hazards=hazards)


def test_attached_photos_are_stored_once_per_log(world, grid_manager, media):
    deadline = "2099-01-01"
    log = _log(grid_manager, world, hazards=[{"severity": "serious", "deadline": deadline, "description": "表箱破损"}])
    prepared = [photos.photo_prepare(image_bytes()), photos.photo_prepare(image_bytes(), hazard_index=0)]
    assert photos.photos_attach(user=grid_manager, log=log, photos=prepared) == []
    stored = list(Photo.objects.filter(visit_log=log).order_by("pk"))
    assert [(p.kind, p.hazard_id) for p in stored] == [("visit", None), ("before", log.hazards.get().pk)]
    on_disk = Image.open(media / stored[0].image.name)
    assert max(on_disk.size) == 1600 and not on_disk.getexif()
    # The same submit retried: nothing stored twice.
    assert photos.photos_attach(user=grid_manager, log=log, photos=prepared) == []
    assert Photo.objects.filter(visit_log=log).count() == 2


def test_a_full_disk_loses_the_photo_not_the_log(world, grid_manager):
    log = _log(grid_manager, world)
    prepared = [photos.photo_prepare(image_bytes())]
    with mock.patch.object(FileSystemStorage, "_save", side_effect=OSError(28, "No space left on device")):
        errors = photos.photos_attach(user=grid_manager, log=log, photos=prepared)
    assert len(errors) == 1 and "saved without it" in errors[0]
    assert VisitLog.objects.filter(pk=log.pk).exists()
    assert not Photo.objects.filter(visit_log=log).exists()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares width × height pixels (its data is a few bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, at open: we refuse after
def test_a_photo_of_too_many_pixels_is_refused_as_too_large_not_as_not_an_image(settings):
    huge = png_declaring(30000, 30000)
    assert len(huge) < 200
    with pytest.raises(ValidationError) as error:
        photos.photo_prepare(huge)
    assert "The photo is too large (more than 178 million pixels; the limit is 89 megapixels)" in error.value.messages[0]
    # Between Pillow's warning and its refusal the size is ours to judge, and named.
    with pytest.raises(ValidationError, match=r"too large \(10000 × 10000 pixels; the limit is 89 megapixels\)"):
        photos.photo_prepare(png_declaring(10000, 10000))
    settings.VISIT_PHOTO_MAX_PIXELS = 100_000
    with pytest.raises(ValidationError, match=r"too large \(400 × 300 pixels"):
        photos.photo_prepare(image_bytes((400, 300)))
    assert photos.photo_prepare(image_bytes((300, 200)))
