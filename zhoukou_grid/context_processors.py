"""Template context shared by every page: the user's role and the navigation it gives."""

from functools import lru_cache

from django.urls import get_script_prefix, reverse
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.notifications import unread_count
from zhoukou_grid.core.scoping import primary_role
from zhoukou_grid.core.views import display_name
from zhoukou_grid.territory.models import Role

ADMIN_ROLES = {Role.COMPANY_ADMIN, Role.COUNTY_ADMIN}


@lru_cache(maxsize=256)
def _url(name: str, prefix: str) -> str:
    return reverse(name)


def url_of(name: str) -> str:
    """The menu's URLs, reversed once per process (and script prefix), not on every page."""
    return _url(name, get_script_prefix())


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_role": None, "nav_items": []}
    role = primary_role(user)
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match and match.namespace else (match.url_name if match else "")
    current_prefix = current.rsplit("_", 1)[0]

    # (url name, prefix of the url names it is active for, label, permission needed)
    items = [("home", "home", _("Home"), None)]
    if role == Role.GRID_MANAGER:
        items.append(("visits:field_today", "visits:field", _("Today"), "visits.view_visit"))
    if role == Role.VILLAGE_CLERK:
        items.append(("customers:village_list", "customers:village", _("Village returning list"),
                      "customers.add_returningresident"))
    if role in ADMIN_ROLES:
        items.append(("portal:county_list", "portal:county", _("Counties"), "zhoukou_grid.view_county"))
    items += [
        ("portal:station_list", "portal:station", _("Stations"), "zhoukou_grid.view_station"),
        ("portal:grid_list", "portal:grid", _("Grids"), "zhoukou_grid.view_grid"),
        ("portal:village_list", "portal:village", _("Villages"), "zhoukou_grid.view_village"),
        ("portal:transformer_list", "portal:transformer", _("Transformers"), "zhoukou_grid.view_transformer"),
        ("portal:lvline_list", "portal:lvline", _("LV lines"), "zhoukou_grid.view_lvline"),
        ("customers:household_list", "customers:household", _("Households"), "customers.view_household"),
        ("customers:resident_list", "customers:resident", _("Returning residents"), "customers.view_returningresident"),
        ("customers:village_changes", "customers:village_changes", _("List changes"), "customers.view_residentchange"),
        # Station staff and above plan for arrivals; a grid manager reaches them from the residents list.
        *([("customers:arrivals", "customers:arrivals", _("Arrivals"), "customers.view_returningresident")]
          if role != Role.GRID_MANAGER else []),
        ("customers:keycustomer_list", "customers:keycustomer", _("Key customers"), "customers.view_keycustomer"),
        ("visits:round_list", "visits:round", _("Visit rounds"), "visits.view_round"),
        ("visits:calendar", "visits:calendar", _("Visit calendar"), "visits.view_visit"),
        ("visits:progress", "visits:progress", _("Progress"), "visits.view_visit"),
        ("loadforecast:load_overview", "loadforecast:load", _("Load forecast"), "loadforecast.view_assetprojection"),
        ("loadforecast:alert_list", "loadforecast:alert", _("Alerts"), "loadforecast.view_alert"),
        ("visits:hazard_board", "visits:hazard", _("Hazards"), "visits.view_hazard"),
        ("visits:issue_board", "visits:issue", _("Issues"), "visits.view_customerissue"),
    ]
    nav_items = [
        {"url": url_of(name), "label": label, "active": current == name or current_prefix == prefix}
        for name, prefix, label, perm in items
        if perm is None or user.has_perm(perm)
    ]
    admin_items = []
    if role in ADMIN_ROLES and user.has_perm("zhoukou_grid.add_importjob"):
        admin_items.append({"url": url_of("imports:history"), "label": _("Imports"),
                            "active": current.startswith("imports:")})
    if role in (*ADMIN_ROLES, Role.GRID_MANAGER):
        admin_items.append({"url": url_of("customers:village_clerks"), "label": _("Village clerks"),
                            "active": current == "customers:village_clerks"})
    if role in ADMIN_ROLES and user.has_perm("zhoukou_grid.view_auditlog"):
        admin_items.append({"url": url_of("audit_log"), "label": _("Audit log"),
                            "active": current.startswith("audit_log")})
    if role in ADMIN_ROLES:
        admin_items.append({"url": url_of("users:list"), "label": _("Users"), "active": current.startswith("users:")})
    if role in ADMIN_ROLES and user.has_perm("zhoukou_grid.view_webhook"):
        admin_items.append({"url": url_of("webhooks:list"), "label": _("Group chats"),
                            "active": current.startswith("webhooks:")})
    if user.is_staff:
        admin_items.append({"url": url_of("admin:index"), "label": _("Admin"), "active": False})
    return {
        "user_display_name": display_name(user),
        "user_role": role,
        "user_role_label": Role(role).label if role else _("No role"),
        "nav_items": nav_items,
        "admin_nav_items": admin_items,
        # Called by the template only where it shows the badge (cached: see unread_count).
        "notifications_unread": lambda: unread_count(user),
    }
