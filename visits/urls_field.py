"""URL patterns of the visits pages: field (included by visits/urls.py)."""

from django.urls import path

from . import views_cards, views_field

urlpatterns: list = [
    path("today/", views_field.TodayView.as_view(), name="field_today"),
    path("visits/<int:pk>/log/", views_field.VisitLogFormView.as_view(), name="field_visit_log"),
    path("visits/<int:pk>/missed/", views_field.VisitMissedView.as_view(), name="field_visit_missed"),
    path("logs/<int:pk>/", views_field.VisitLogDetailView.as_view(), name="field_log_detail"),
    path("cards/", views_cards.ServiceCardsView.as_view(), name="service_cards_record"),
]
