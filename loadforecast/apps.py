from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoadforecastConfig(AppConfig):
    name = "loadforecast"
    verbose_name = _("Load forecast")

    def ready(self) -> None:
        from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
        from zhoukou_grid.territory.models import Role

        def perms(models, verbs):
            return {f"loadforecast.{verb}_{model}" for model in models for verb in verbs}

        readable = ["loadreading", "weatherforecast", "projectionsettings", "projectionrun", "assetprojection",
                    "alert", "alerthistory", "measure", "outlooksettings", "outlookrun", "outlookitem"]
        view = perms(readable, ["view"])
        # Station staff review alerts, plan and record measures, and press "run now".
        act = {"loadforecast.change_alert", "loadforecast.add_measure", "loadforecast.change_measure",
               "loadforecast.add_projectionrun"}
        # County admins import load and weather and edit the projection settings.
        manage = perms(["loadreading", "weatherforecast"], ["add", "change", "delete"]) | perms(
            ["projectionsettings", "outlooksettings"], ["add", "change"])
        # A grid manager sees the outlook items of their grid; the station-wide runs are
        # for station staff and above.
        ROLE_PERMISSIONS[Role.GRID_MANAGER] |= view - {"loadforecast.view_outlookrun"}
        ROLE_PERMISSIONS[Role.STATION_STAFF] |= view | act
        ROLE_PERMISSIONS[Role.COUNTY_ADMIN] |= view | act | manage
        ROLE_PERMISSIONS[Role.COMPANY_ADMIN] |= view | act | manage
