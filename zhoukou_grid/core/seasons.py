"""The festival seasons as the pages name them (docs/domain.md §6.7).

A season is the Gregorian year of its Lunar New Year (2027: the New Year of 2027-02-06). The
coming season is the one lists are made for today (`lunar_calendar.season_of` of the day in
Asia/Shanghai): the season a residents import writes unless another is chosen.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext

from zhoukou_grid.core.lunar_calendar import season_of


def coming_season(today: date | None = None) -> int:
    return season_of(today or timezone.localdate())


def season_label(season: int, coming: int | None = None) -> str:
    """"2027 (coming season)", "2026 (last season)", "2025"."""
    coming = coming_season() if coming is None else coming
    if season == coming:
        return gettext("%(year)s (coming season)") % {"year": season}
    if season == coming - 1:
        return gettext("%(year)s (last season)") % {"year": season}
    return str(season)
