"""URL patterns of the visits pages: boards (included by visits/urls.py)."""

urlpatterns: list = []
