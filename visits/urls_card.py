"""The public pages of a service card's QR code (no account): included at /c/ by the wiring."""

from django.urls import path

from . import views_card

app_name = "card"

urlpatterns = [
    path("status/", views_card.card_status, name="status"),
    path("received/<str:signed>/", views_card.card_received, name="received"),
    path("<str:token>/", views_card.card_public, name="public"),
]
