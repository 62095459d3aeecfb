from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("Visits")

    def ready(self) -> None:
        from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
        from zhoukou_grid.territory.models import Role

        def perms(models, verbs):
            return {f"visits.{verb}_{model}" for model in models for verb in verbs}

        field_models = ["visit", "visitlog", "hazard", "customerissue", "servicecardrecord", "photo"]
        all_models = ["round", "roundtarget", "checklistresult", "hazardevent", "issueevent", "cardrequest", *field_models]
        seeing = perms(all_models, ["view"])
        # Grid managers do the visits: they log them, report hazards and issues, move and
        # reassign their own planned visits. Rounds are opened by station staff and above.
        field_work = seeing | perms(field_models, ["add", "change"])
        planning = field_work | perms(["round", "roundtarget"], ["add", "change"])
        everything = perms(all_models, ["view", "add", "change", "delete"])
        ROLE_PERMISSIONS[Role.GRID_MANAGER] |= field_work
        ROLE_PERMISSIONS[Role.STATION_STAFF] |= planning
        ROLE_PERMISSIONS[Role.COUNTY_ADMIN] |= everything
        ROLE_PERMISSIONS[Role.COMPANY_ADMIN] |= everything

        from .webhooks import connect

        connect()  # new customer issues go to the group chats
