from django.urls import include, path

from . import views, views_keycustomers, views_residents

app_name = "customers"

urlpatterns = [
    path("", views.HouseholdListView.as_view(), name="household_list"),
    path("<int:pk>/", views.HouseholdDetailView.as_view(), name="household_detail"),
    path("residents/", include(views_residents.urlpatterns)),
    path("keycustomers/", include(views_keycustomers.urlpatterns)),
]
