"""Template context shared by every page: the user's role and the navigation it gives."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import Role
from .scoping import primary_role

ADMIN_ROLES = {Role.COMPANY_ADMIN, Role.COUNTY_ADMIN}


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_role": None, "nav_items": []}
    role = primary_role(user)
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match and match.namespace else (match.url_name if match else "")
    current_prefix = current.rsplit("_", 1)[0]

    items = [("home", "home", _("Home"))]
    if role in ADMIN_ROLES:
        items.append(("portal:county_list", "portal:county", _("Counties")))
    items += [
        ("portal:station_list", "portal:station", _("Stations")),
        ("portal:grid_list", "portal:grid", _("Grids")),
        ("portal:village_list", "portal:village", _("Villages")),
        ("portal:transformer_list", "portal:transformer", _("Transformers")),
        ("portal:lvline_list", "portal:lvline", _("LV lines")),
        ("customers:household_list", "customers:household", _("Households")),
    ]
    nav_items = [
        {"url": reverse(name), "label": label, "active": current == name or current_prefix == prefix}
        for name, prefix, label in items
    ]
    admin_items = []
    if role in ADMIN_ROLES and user.has_perm("zhoukou_grid.add_importjob"):
        admin_items.append({"url": reverse("imports:history"), "label": _("Imports"),
                            "active": current.startswith("imports:")})
    if user.is_staff:
        admin_items.append({"url": reverse("admin:index"), "label": _("Admin"), "active": False})
    return {
        "user_role": role,
        "user_role_label": Role(role).label if role else _("No role"),
        "nav_items": nav_items,
        "admin_nav_items": admin_items,
    }
