"""Django's admin autodiscovery imports this module: it registers both rooms' admins."""

from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

import zhoukou_grid.core.admin  # noqa: F401
import zhoukou_grid.territory.admin  # noqa: F401

# The admin speaks the portal's name, not Django's; the sign-in lockout app (django-axes)
# carries no Chinese name of its own.
admin.site.site_header = _("Zhoukou Grid Service Portal administration")
admin.site.site_title = _("Zhoukou Grid Service Portal administration")
admin.site.index_title = _("Data administration")
if apps.is_installed("axes"):
    apps.get_app_config("axes").verbose_name = _("Sign-in lockouts")
