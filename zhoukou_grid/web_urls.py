"""The HTML portal: login, password change, the home page and the territory/asset pages."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from zhoukou_grid import home, webapp
from zhoukou_grid.core import views_security
from zhoukou_grid.territory import views, views_users

portal_patterns = [
    path("counties/", views.CountyListView.as_view(), name="county_list"),
    path("counties/<int:pk>/", views.CountyDetailView.as_view(), name="county_detail"),
    path("stations/", views.StationListView.as_view(), name="station_list"),
    path("stations/<int:pk>/", views.StationDetailView.as_view(), name="station_detail"),
    path("grids/", views.GridListView.as_view(), name="grid_list"),
    path("grids/<int:pk>/", views.GridDetailView.as_view(), name="grid_detail"),
    path("villages/", views.VillageListView.as_view(), name="village_list"),
    path("villages/<int:pk>/", views.VillageDetailView.as_view(), name="village_detail"),
    path("transformers/", views.TransformerListView.as_view(), name="transformer_list"),
    path("transformers/<int:pk>/", views.TransformerDetailView.as_view(), name="transformer_detail"),
    path("lvlines/", views.LVLineListView.as_view(), name="lvline_list"),
    path("lvlines/<int:pk>/", views.LVLineDetailView.as_view(), name="lvline_detail"),
    path("notifications/", include("zhoukou_grid.core.notification_urls")),
]

user_patterns = [
    path("", views_users.UserListView.as_view(), name="list"),
    path("new/", views_users.UserCreateView.as_view(), name="create"),
    path("<int:pk>/", views_users.UserDetailView.as_view(), name="detail"),
]

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views_security.PasswordChangeView.as_view(), name="password_change"),
    # Sign out everywhere; the audit log for administrators (docs/security.md).
    path("accounts/sign-out-everywhere/", views_security.sign_out_everywhere, name="sign_out_everywhere"),
    path("audit/", views_security.AuditLogListView.as_view(), name="audit_log"),
    path("audit/export/", views_security.audit_log_export, name="audit_log_export"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("manifest.webmanifest", webapp.manifest, name="webapp_manifest"),
    # Administrators manage the users of their territory (county admins: their county only).
    path("users/", include((user_patterns, "users"))),
    path("webhooks/", include(("zhoukou_grid.core.webhook_views", "webhooks"))),
    path("", home.home, name="home"),
    path("", include((portal_patterns, "portal"))),
    path("households/", include("customers.urls")),
    path("load/", include("loadforecast.urls", namespace="loadforecast")),
    path("visits/", include("visits.urls")),
    # The service card's QR code opens these without an account (docs/security.md, 2b).
    path("c/", include("visits.urls_card")),
]
