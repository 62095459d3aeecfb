"""The load-forecast pages, under /load/ (namespace `loadforecast`)."""

from django.urls import path

from . import views, views_backtest, views_outlook

app_name = "loadforecast"

urlpatterns = [
    path("", views.OverviewView.as_view(), name="load_overview"),
    path("alerts/", views.AlertListView.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", views.AlertDetailView.as_view(), name="alert_detail"),
    path("transformers/<int:pk>/", views.TransformerLoadView.as_view(), name="load_transformer"),
    path("lines/<int:pk>/", views.LineLoadView.as_view(), name="load_line"),
    path("stations/<int:pk>/heat/", views.StationHeatView.as_view(), name="load_heat"),
    path("stations/<int:pk>/outlook/", views_outlook.StationOutlookView.as_view(), name="outlook_station"),
    path("counties/<int:pk>/outlook/", views_outlook.CountyOutlookView.as_view(), name="outlook_county"),
    path("counties/<int:pk>/outlook/settings/", views_outlook.CountyOutlookSettingsView.as_view(),
         name="outlook_settings"),
    path("stations/<int:pk>/outlook/settings/", views_outlook.StationOutlookSettingsView.as_view(),
         name="outlook_stationsettings"),
    path("outlook/items/<int:pk>/", views_outlook.OutlookItemView.as_view(), name="outlook_item"),
    path("backtest/", views_backtest.BacktestView.as_view(), name="load_backtest"),
    path("runs/", views.RunListView.as_view(), name="load_runs"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="load_run"),
    path("settings/", views.SettingsView.as_view(), name="load_settings"),
    path("settings/stations/<int:pk>/", views.StationSettingsView.as_view(), name="load_stationsettings"),
]
