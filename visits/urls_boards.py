"""URL patterns of the visits pages: boards (included by visits/urls.py)."""

from django.urls import path

from . import views_boards

urlpatterns = [
    path("hazards/", views_boards.HazardBoardView.as_view(), name="hazard_board"),
    path("hazards/<int:pk>/", views_boards.HazardDetailView.as_view(), name="hazard_detail"),
    path("issues/", views_boards.IssueBoardView.as_view(), name="issue_board"),
    path("issues/new/", views_boards.IssueRaiseView.as_view(), name="issue_raise"),
    path("issues/<int:pk>/", views_boards.IssueDetailView.as_view(), name="issue_detail"),
    path("cards/", views_boards.ServiceCardSheetView.as_view(), name="service_cards"),
    path("card-requests/<int:pk>/photo/", views_boards.CardRequestPhotoView.as_view(), name="card_request_photo"),
]
