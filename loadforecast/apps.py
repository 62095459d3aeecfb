from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoadforecastConfig(AppConfig):
    name = "loadforecast"
    verbose_name = _("Load forecast")
