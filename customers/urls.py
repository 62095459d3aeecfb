from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.HouseholdListView.as_view(), name="household_list"),
    path("<int:pk>/", views.HouseholdDetailView.as_view(), name="household_detail"),
]
