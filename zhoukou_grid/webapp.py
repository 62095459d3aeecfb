"""The web app manifest that makes the portal installable on a phone's home screen:
name, icons at the usual sizes, standalone display, theme colours. "Today" is where it opens."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control

THEME_COLOUR = "#00695c"  # the same as <meta name="theme-color"> in base.html
BACKGROUND_COLOUR = "#f5f7f7"


@login_not_required  # browsers fetch the manifest without cookies
@cache_control(max_age=3600)
def manifest(request):
    icons = [
        {"src": static("img/app-icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": static("img/app-icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": static("img/app-icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
         "purpose": "maskable"},
    ]
    body = {
        "name": _("Zhoukou Grid Service"),
        "short_name": _("Grid Service"),
        "lang": "zh-CN",
        "id": "/",
        "start_url": reverse("visits:field_today"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": icons,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response
