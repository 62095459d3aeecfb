"""Serving uploaded files that hold personal data (visit photos) after the app's own check.

Nothing under MEDIA_ROOT is public: nginx has no /media/ location. A view checks who asks
(`get_for_user_or_404`) and then answers with `protected_file_response`:

- with MEDIA_ACCEL_REDIRECT_PREFIX set (production, deploy/nginx-portal.conf), an empty
  response whose `X-Accel-Redirect` header tells nginx to send the file itself from an
  `internal` location: no gunicorn worker is busy while a phone downloads a photo;
- without it (development, tests, a server without nginx), Django streams the file.
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse


def protected_file_response(field_file, *, content_type: str) -> HttpResponse:
    """The stored file of a FileField, sent privately (never cached by shared caches)."""
    if not field_file or not field_file.storage.exists(field_file.name):
        raise Http404
    prefix = getattr(settings, "MEDIA_ACCEL_REDIRECT_PREFIX", "")
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field_file.name)
    else:
        response = FileResponse(field_file.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
