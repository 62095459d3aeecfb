"""Django's admin autodiscovery imports this module: it registers both rooms' admins."""

import zhoukou_grid.core.admin  # noqa: F401
import zhoukou_grid.territory.admin  # noqa: F401
