from django.urls import include, path

from . import clerks, views, views_keycustomers, views_residents, views_village

app_name = "customers"

urlpatterns = [
    path("", views.HouseholdListView.as_view(), name="household_list"),
    path("<int:pk>/", views.HouseholdDetailView.as_view(), name="household_detail"),
    path("residents/", include(views_residents.urlpatterns)),
    path("village/", include(views_village.urlpatterns)),
    path("village-clerks/", include(clerks.urlpatterns)),
    path("keycustomers/", include(views_keycustomers.urlpatterns)),
]
