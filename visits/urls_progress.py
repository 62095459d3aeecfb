"""URL patterns of the visits pages: progress (included by visits/urls.py)."""

from django.urls import path

from .views_progress import ProgressReportView

urlpatterns: list = [
    path("", ProgressReportView.as_view(), name="progress"),
]
