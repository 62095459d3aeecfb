"""The user's notifications (names under `portal:`, included by web_urls.py)."""

from django.urls import path

from zhoukou_grid.core import notification_views

urlpatterns = [
    path("", notification_views.NotificationListView.as_view(), name="notification_list"),
    path("<int:pk>/", notification_views.NotificationDetailView.as_view(), name="notification_detail"),
    path("read/", notification_views.notification_mark_read, name="notification_mark_read"),
]
