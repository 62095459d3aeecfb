"""URL patterns of the visits pages: field (included by visits/urls.py)."""

from django.urls import path

from . import views_cards, views_field, views_offline

urlpatterns: list = [
    path("today/", views_field.TodayView.as_view(), name="field_today"),
    path("visits/<int:pk>/log/", views_field.VisitLogFormView.as_view(), name="field_visit_log"),
    path("visits/<int:pk>/missed/", views_field.VisitMissedView.as_view(), name="field_visit_missed"),
    path("logs/<int:pk>/", views_field.VisitLogDetailView.as_view(), name="field_log_detail"),
    # Without signal: the service worker (its scope is this folder), the outbox, the fallback page.
    path("sw.js", views_offline.service_worker, name="field_sw"),
    path("outbox/", views_offline.OutboxView.as_view(), name="field_outbox"),
    path("offline/", views_offline.OfflinePageView.as_view(), name="field_offline"),
    path("cards/", views_cards.ServiceCardsView.as_view(), name="service_cards_record"),
]
