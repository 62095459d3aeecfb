"""URLs under /api/v1/: the scoped viewsets, the token, "me", the schema and its docs.

Each app's viewsets are registered on `router` here.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from customers.api import HouseholdViewSet
from customers.api_keycustomers import KeyCustomerViewSet
from customers.api_residents import ResidentViewSet
from loadforecast import api as loadforecast_api
from loadforecast import api_outlook as loadforecast_api_outlook
from visits import api_boards as visits_api_boards
from visits import api_cards as visits_api_cards
from visits import api_field as visits_api_field
from visits import api_rounds as visits_api_rounds
from zhoukou_grid.core import api as core_api
from zhoukou_grid.core.importing import api as api_imports
from zhoukou_grid.territory import api

router = DefaultRouter()
router.register("counties", api.CountyViewSet, basename="county")
router.register("stations", api.StationViewSet, basename="station")
router.register("grids", api.GridViewSet, basename="grid")
router.register("villages", api.VillageViewSet, basename="village")
router.register("transformers", api.TransformerViewSet, basename="transformer")
router.register("lvlines", api.LVLineViewSet, basename="lvline")
router.register("households", HouseholdViewSet, basename="household")
router.register("keycustomers", KeyCustomerViewSet, basename="keycustomer")
router.register("residents", ResidentViewSet, basename="resident")
router.register("import-jobs", api_imports.ImportJobViewSet, basename="importjob")
router.register("projection-runs", loadforecast_api.ProjectionRunViewSet, basename="projectionrun")
router.register("projections", loadforecast_api.AssetProjectionViewSet, basename="assetprojection")
router.register("alerts", loadforecast_api.AlertViewSet, basename="alert")
router.register("measures", loadforecast_api.MeasureViewSet, basename="measure")
router.register("outlook-runs", loadforecast_api_outlook.OutlookRunViewSet, basename="outlookrun")
router.register("outlook-items", loadforecast_api_outlook.OutlookItemViewSet, basename="outlookitem")
router.register("outlook-settings", loadforecast_api_outlook.OutlookSettingsViewSet, basename="outlooksettings")
router.register("visit-logs", visits_api_field.VisitLogViewSet, basename="visitlog")
router.register("projection-settings", loadforecast_api.ProjectionSettingsViewSet, basename="projectionsettings")
router.register("rounds", visits_api_rounds.RoundViewSet, basename="round")
router.register("visits", visits_api_rounds.VisitViewSet, basename="visit")
router.register("hazards", visits_api_boards.HazardViewSet, basename="hazard")
router.register("issues", visits_api_boards.IssueViewSet, basename="customerissue")
router.register("service-cards", visits_api_cards.ServiceCardViewSet, basename="servicecardrecord")

app_name = "api"

urlpatterns = [
    path("auth/token/", core_api.TokenView.as_view(), name="token"),
    path("me/", api.MeView.as_view(), name="me"),
    path(
        "schema/",
        SpectacularAPIView.as_view(
            authentication_classes=core_api.API_AUTHENTICATION_CLASSES, permission_classes=[IsAuthenticated]
        ),
        name="schema",
    ),
    path(
        "docs/",
        # The split view serves the start-up script from its own URL: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema",
            authentication_classes=core_api.API_AUTHENTICATION_CLASSES,
            permission_classes=[IsAuthenticated],
        ),
        name="docs",
    ),
    *router.urls,
]
