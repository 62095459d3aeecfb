from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from zhoukou_grid.models import Role
        from zhoukou_grid.scoping import ROLE_PERMISSIONS

        def perms(models, verbs):
            return {f"customers.{verb}_{model}" for model in models for verb in verbs}

        field_work = perms(["returningresident", "keycustomer", "serviceplan"], ["view", "add", "change"])
        ROLE_PERMISSIONS[Role.GRID_MANAGER] |= field_work
        ROLE_PERMISSIONS[Role.STATION_STAFF] |= field_work | {"customers.approve_serviceplan"}
        everything = perms(["returningresident", "keycustomer", "serviceplan"], ["view", "add", "change", "delete"])
        ROLE_PERMISSIONS[Role.COUNTY_ADMIN] |= everything | {"customers.approve_serviceplan"}
        ROLE_PERMISSIONS[Role.COMPANY_ADMIN] |= everything | {"customers.approve_serviceplan"}
