"""Photo files: shown only to users whose territory holds the photo (see zhoukou_grid/core/media.py).

`?size=thumb` answers a small JPEG of the photo for lists (a page of thumbnails costs a
phone a few kilobytes each, not the stored 1600 px image); the full image is the plain URL.
"""

from __future__ import annotations

import io

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views import View
from PIL import Image, ImageOps, UnidentifiedImageError

from zhoukou_grid.core.media import protected_file_response
from zhoukou_grid.core.scoping import get_for_user_or_404
from zhoukou_grid.core.views import ScopedPermissionMixin

from .models import Photo

THUMB_SIDE = 320


def photo_url(photo_id: int, *, thumb: bool = False) -> str:
    """The protected URL of a photo's image (its thumbnail with `thumb`)."""
    url = reverse("visits:photo_file", args=[photo_id])
    return f"{url}?size=thumb" if thumb else url


def _thumbnail(photo: Photo) -> bytes:
    try:
        with photo.image.open("rb") as handle, Image.open(handle) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=75, optimize=True)
            return out.getvalue()
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        raise Http404 from None


class PhotoFileView(ScopedPermissionMixin, View):
    """GET the image of one photo: view_photo and the photo's grid in the user's territory."""

    model = Photo
    http_method_names = ["get", "head"]

    def get(self, request, pk):
        photo = get_for_user_or_404(request.user, Photo, pk=pk)
        if request.GET.get("size") == "thumb":
            response = HttpResponse(_thumbnail(photo), content_type="image/jpeg")
            response["Cache-Control"] = "private, max-age=3600"
            return response
        return protected_file_response(photo.image, content_type=photo.content_type)
