from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from customers.models import Household
        from customers.views import household_columns
        from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
        from zhoukou_grid.territory.models import Role
        from zhoukou_grid.territory.views import Occupants, register_occupants

        # The territory pages count and list each village's, transformer's and line's households.
        register_occupants(Occupants(model=Household, columns=household_columns,
                                     list_url_name="customers:household_list"))

        def perms(models, verbs):
            return {f"customers.{verb}_{model}" for model in models for verb in verbs}

        # Households: everyone sees them; administrators keep them, like the network assets.
        households_seen = perms(["household"], ["view"])
        households_kept = perms(["household"], ["add", "change", "delete"])
        for role in ROLE_PERMISSIONS:
            ROLE_PERMISSIONS[role] |= households_seen
        ROLE_PERMISSIONS[Role.COUNTY_ADMIN] |= households_kept
        ROLE_PERMISSIONS[Role.COMPANY_ADMIN] |= households_kept

        field_work = perms(["returningresident", "keycustomer", "serviceplan"], ["view", "add", "change"])
        # Grid managers and station staff call residents and customers: they may reveal a
        # phone or ID number, one at a time, each reveal audited. Masked for everyone else.
        reveal = {"customers.view_personal_data"}
        ROLE_PERMISSIONS[Role.GRID_MANAGER] |= field_work | reveal
        ROLE_PERMISSIONS[Role.STATION_STAFF] |= field_work | reveal | {"customers.approve_serviceplan"}
        everything = perms(["returningresident", "keycustomer", "serviceplan"], ["view", "add", "change", "delete"])
        # The feed of dated list changes: for those who follow the villages' lists.
        for role in (Role.GRID_MANAGER, Role.STATION_STAFF, Role.COUNTY_ADMIN, Role.COMPANY_ADMIN):
            ROLE_PERMISSIONS[role] |= perms(["residentchange"], ["view"])
        # A village clerk keeps the village's returning list: no households (account numbers of the
        # whole village), and reveals only the numbers the village entered (`personal_data.resident_reveal`).
        ROLE_PERMISSIONS[Role.VILLAGE_CLERK] -= households_seen
        # Add and change only: the clerk reads the list on their own pages (customers.views_village);
        # the portal's resident pages, arrivals and exports name the grid and station above the village.
        ROLE_PERMISSIONS[Role.VILLAGE_CLERK] |= perms(["returningresident"], ["add", "change"])
        ROLE_PERMISSIONS[Role.COUNTY_ADMIN] |= everything | reveal | {"customers.approve_serviceplan"}
        ROLE_PERMISSIONS[Role.COMPANY_ADMIN] |= everything | reveal | {"customers.approve_serviceplan"}
