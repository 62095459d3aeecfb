"""URL patterns of the visits pages: rounds (included by visits/urls.py)."""

from django.urls import path

from . import views_rounds

urlpatterns = [
    path("", views_rounds.RoundListView.as_view(), name="round_list"),
    path("new/", views_rounds.RoundCreateView.as_view(), name="round_create"),
    path("<int:pk>/", views_rounds.RoundDetailView.as_view(), name="round_detail"),
    path("<int:pk>/unplaced.csv", views_rounds.RoundUnplacedExportView.as_view(), name="round_unplaced_export"),
    path("visits/<int:pk>/", views_rounds.VisitDetailView.as_view(), name="visit_detail"),
    path("calendar/", views_rounds.CalendarView.as_view(), name="calendar"),
]
