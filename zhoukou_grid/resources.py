"""Import kinds are discovered in each app's `resources` module; this app's live in its
territory room."""

import zhoukou_grid.territory.resources  # noqa: F401  registers the territory's kinds
