"""URL patterns of the visits pages: rounds (included by visits/urls.py)."""

urlpatterns: list = []
