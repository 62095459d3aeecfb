"""The visits pages, one module of patterns per area so each can grow on its own."""

from django.urls import include, path

from .views_media import PhotoFileView

app_name = "visits"

urlpatterns = [
    path("rounds/", include("visits.urls_rounds")),
    path("field/", include("visits.urls_field")),
    path("boards/", include("visits.urls_boards")),
    path("progress/", include("visits.urls_progress")),
    # The image of a photo, after the permission check (never a public /media/ URL).
    path("photos/<int:pk>/", PhotoFileView.as_view(), name="photo_file"),
]
