from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZhoukouGridConfig(AppConfig):
    name = "zhoukou_grid"
    verbose_name = _("Territory and network")
