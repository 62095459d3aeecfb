"""URL patterns of the visits pages: field (included by visits/urls.py)."""

urlpatterns: list = []
