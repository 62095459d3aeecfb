from django.contrib import admin
from django.urls import include, path

from zhoukou_grid.core import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("zhoukou_grid.api_urls")),
    path("imports/", include("zhoukou_grid.core.importing.urls")),
    path("", include("zhoukou_grid.web_urls")),
]

# Unknown URLs and refused requests under /api/ answer JSON, as the schema documents (found by tests/fuzz/).
handler404 = "zhoukou_grid.core.api.not_found"
handler400 = "zhoukou_grid.core.api.bad_request"

# No /media/ route, not even with DEBUG on: uploaded files (visit photos, import files with
# phone numbers) are personal data and reach a browser only through the views that check
# the user's territory first (zhoukou_grid/core/media.py), in development as in production.
