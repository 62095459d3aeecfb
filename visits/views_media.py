"""Photo files: shown only to users whose territory holds the photo (see zhoukou_grid/core/media.py)."""

from __future__ import annotations

from django.views import View

from zhoukou_grid.core.media import protected_file_response
from zhoukou_grid.core.scoping import get_for_user_or_404
from zhoukou_grid.core.views import ScopedPermissionMixin

from .models import Photo


class PhotoFileView(ScopedPermissionMixin, View):
    """GET the image of one photo: view_photo and the photo's grid in the user's territory."""

    model = Photo
    http_method_names = ["get", "head"]

    def get(self, request, pk):
        photo = get_for_user_or_404(request.user, Photo, pk=pk)
        return protected_file_response(photo.image, content_type=photo.content_type)
