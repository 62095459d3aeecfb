from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZhoukouGridConfig(AppConfig):
    name = "zhoukou_grid"
    verbose_name = _("Territory and network")

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from zhoukou_grid.core import (
            crypto,
            security,  # noqa: F401  login/logout receivers that track sessions
        )

        # Tests that override the personal-data keys get a keyring built from the new ones.
        setting_changed.connect(crypto._on_setting_changed, dispatch_uid="zhoukou_grid.crypto")
