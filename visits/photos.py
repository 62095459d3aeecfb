"""Visit photos: checked by their content, resized and re-encoded without metadata, then stored.

A phone photo carries EXIF, GPS position included; re-encoding the pixels with Pillow
keeps none of it. The upload is checked before anything is written (`photo_prepare`),
so a bad photo is a form error; storing (`photos_attach`) happens after the visit log is
saved, so a full disk or an unwritable media folder loses the photo, never the log.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from . import services
from .models import Photo, VisitLog

MAX_LONG_SIDE = 1600
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
# Pillow's format name → (content type, extension, save options).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {"optimize": True}),
    "WEBP": ("image/webp", "webp", {"quality": 85}),
}


def photo_max_bytes() -> int:
    """The upload limit: settings.VISIT_PHOTO_MAX_BYTES, 8 MB unless set."""
    return int(getattr(settings, "VISIT_PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES))


def photo_max_pixels() -> int:
    """The largest photo accepted, in pixels: settings.VISIT_PHOTO_MAX_PIXELS, else Pillow's own
    limit (about 89 megapixels, above any phone camera's usual size)."""
    return int(getattr(settings, "VISIT_PHOTO_MAX_PIXELS", Image.MAX_IMAGE_PIXELS))


@dataclass(frozen=True)
class PreparedPhoto:
    content: bytes
    content_type: str
    extension: str
    hazard_index: int | None = None  # which hazard of the log it shows; None: the visit

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name=f"photo.{self.extension}")


def photo_prepare(data: bytes, *, hazard_index: int | None = None) -> PreparedPhoto:
    """Check an uploaded image by its bytes and re-encode it: long side ≤ 1600 px, no EXIF.

    Raises ValidationError for anything that is not a JPEG, PNG or WebP image within the
    size limit (whatever its file name says).
    """
    limit = photo_max_bytes()
    if len(data) > limit:
        raise ValidationError(_("The photo is larger than %(mb)d MB.") % {"mb": limit // 2**20})
    not_an_image = ValidationError(_("The file is not a JPEG, PNG or WebP image."))
    max_pixels = photo_max_pixels()

    def too_large(size: str) -> ValidationError:
        return ValidationError(_("The photo is too large (%(size)s pixels; the limit is %(limit)d megapixels). "
                                 "Take it at the camera's usual size, or shrink it, and upload it again.")
                               % {"size": size, "limit": max_pixels // 1_000_000})

    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            # Decoding allocates width × height pixels whatever the file's size (a small PNG can
            # declare 30000 × 30000): the header is judged before any pixel is read.
            if probe.width * probe.height > max_pixels:
                raise too_large(f"{probe.width} × {probe.height}")
            probe.verify()
        if image_format not in FORMATS:
            raise not_an_image
        # verify() leaves the image unusable: open it again to read the pixels.
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF tag gave
            image.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE))
            if image_format == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            content_type, extension, options = FORMATS[image_format]
            out = io.BytesIO()
            # No exif= argument: the new file carries no metadata at all.
            image.save(out, format=image_format, **options)
    except Image.DecompressionBombError:
        # Over twice Pillow's own limit, Image.open refuses before we see the size.
        raise too_large(_("more than %(count)d million") % {"count": 2 * Image.MAX_IMAGE_PIXELS // 1_000_000}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise not_an_image from None
    return PreparedPhoto(out.getvalue(), content_type, extension, hazard_index)


def photos_attach(*, user, log: VisitLog, photos: list[PreparedPhoto]) -> list[str]:
    """Store the prepared photos of a just-submitted log; returns the messages of those lost.

    A retried submit (the same log again) stores nothing twice: the log's row is locked and
    photos are added only while it has none. A storage failure (disk full, folder not
    writable) loses that photo only: the log and the other photos stay.
    """
    if not photos:
        return []
    errors: list[str] = []
    with transaction.atomic():
        VisitLog.objects.select_for_update().filter(pk=log.pk).values_list("pk").get()
        if Photo.objects.filter(visit_log=log).exists():
            return []
        hazard_ids = list(log.hazards.order_by("pk").values_list("pk", flat=True))
        for photo in photos:
            hazard_id = None
            if photo.hazard_index is not None:
                if not 0 <= photo.hazard_index < len(hazard_ids):
                    errors.append(_("A photo names a hazard the log does not have; it was not kept."))
                    continue
                hazard_id = hazard_ids[photo.hazard_index]
            try:
                services.photo_add(user=user, file=photo.as_file(), visit_log_id=log.pk, hazard_id=hazard_id,
                                   kind=Photo.Kind.BEFORE if hazard_id else Photo.Kind.VISIT)
            except OSError:
                errors.append(_("A photo could not be stored (the server's storage is full or not writable). "
                                "The visit log is saved without it."))
    return errors
