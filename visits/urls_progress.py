"""URL patterns of the visits pages: progress (included by visits/urls.py)."""

urlpatterns: list = []
