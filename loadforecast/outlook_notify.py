"""Telling people about the season outlook (docs/domain.md §6.7).

- **Grid managers** get one message per outlook run listing the assets of their grid that
  are new in this season's outlook at heavy load or above, or whose level rose.
- **Station staff** are told once per asset and season when the earliest order-by date of
  an asset's measures comes within `notice_days_before_order_by` (3) days, or has passed,
  while no measure is planned or done for the asset.

Each run carries forward what was already said for the season (`headline["notified"]`:
asset key -> highest level told to the grid manager; `headline["order_by_notified"]`: asset
keys whose order-by was told to the station), so a re-run or the next night's run repeats
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from zhoukou_grid.core.notifications import notification_send
from zhoukou_grid.territory.models import Grid, Role, RoleAssignment

from .models import Alert, Level, Measure, OutlookItem, OutlookRun

NOTIFICATION_KIND = "outlook"


def asset_key(item: OutlookItem) -> str:
    return f"t{item.transformer_id}" if item.transformer_id else f"l{item.line_id}"


def said_before(*, station_id: int, season: int, run_date: dt.date) -> dict:
    """What the station's latest outlook of the season up to `run_date` had said (read it
    before a re-run of the date replaces that run)."""
    run = (OutlookRun.objects.filter(station_id=station_id, season=season, run_date__lte=run_date)
           .order_by("-run_date", "-created_at").first())
    return {key: run.headline.get(key) for key in ("notified", "order_by_notified")} if run else {}


def planned_assets(items: list[OutlookItem], *, since: dt.date | None = None) -> set[str]:
    """Assets with a measure planned or done on an alert that is not dismissed and reaches
    into the items' window (`since`: the run's first day; an earlier season's measures do
    not count). One query."""
    if not items:
        return set()
    if since is None:
        since = min(i.run.first_day for i in items)
    t_ids = [i.transformer_id for i in items if i.transformer_id]
    l_ids = [i.line_id for i in items if i.line_id]
    rows = Measure.objects.filter(
        Q(alert__transformer_id__in=t_ids) | Q(alert__line_id__in=l_ids),
        alert__last_date__gte=since,
        status__in=(Measure.Status.PLANNED, Measure.Status.DONE)).exclude(
        alert__status=Alert.Status.DISMISSED).values_list("alert__transformer_id", "alert__line_id").order_by()
    return {f"t{t}" if t else f"l{line}" for t, line in rows}


def outlook_notify(*, run: OutlookRun, items: list[OutlookItem], notice_days: int,
                   before: dict) -> dict[str, int]:
    """Send what `run` newly has to say beyond `before` (`said_before`); store what was said
    on the run. Returns counts."""
    told = dict(before.get("notified") or {})
    told_order_by = set(before.get("order_by_notified") or [])
    station_url = reverse("loadforecast:outlook_station", args=[run.station_id])

    new_by_grid: dict[int, list[OutlookItem]] = defaultdict(list)
    for item in items:
        if item.level >= Level.HEAVY and told.get(asset_key(item), 0) < item.level:
            new_by_grid[item.grid_id].append(item)
            told[asset_key(item)] = item.level
    managers: dict[int, set[int]] = defaultdict(set)
    for grid_id, user_id in Grid.objects.filter(pk__in=list(new_by_grid), manager__isnull=False).values_list(
            "pk", "manager_id"):
        managers[grid_id].add(user_id)
    for grid_id, user_id in RoleAssignment.objects.filter(role=Role.GRID_MANAGER, grid_id__in=list(new_by_grid),
                                                          user__is_active=True).values_list("grid_id", "user_id"):
        managers[grid_id].add(user_id)

    due_limit = run.run_date + dt.timedelta(days=notice_days)
    due = [item for item in items if item.order_by is not None and item.order_by <= due_limit
           and asset_key(item) not in told_order_by]
    planned = planned_assets(due) if due else set()
    due = [item for item in due if asset_key(item) not in planned]
    staff = list(RoleAssignment.objects.filter(role=Role.STATION_STAFF, station_id=run.station_id,
                                               user__is_active=True).values_list("user_id", flat=True)) if due else []

    sent = {"grid_managers": 0, "order_by": 0}
    with translation.override(settings.LANGUAGE_CODE):
        for grid_id, grid_items in sorted(new_by_grid.items()):
            if not managers.get(grid_id):
                continue
            worst = max(grid_items, key=lambda i: (i.level, i.peak_load_rate))
            count = len(grid_items)
            title = ngettext("Season outlook: %(count)d asset of your grid at heavy load or above",
                             "Season outlook: %(count)d assets of your grid at heavy load or above",
                             count) % {"count": count}
            body = _("Worst: %(asset)s %(level)s on %(date)s (%(registered)d registered + %(estimated)d "
                     "estimated returning households).") % {
                "asset": worst.asset.code, "level": Level(worst.level).label, "date": worst.peak_date.isoformat(),
                "registered": worst.registered_households, "estimated": worst.estimated_households}
            # One asset: straight to its page; more: the station's outlook (scoped to the grid).
            url = (reverse("loadforecast:outlook_item", args=[worst.pk]) if count == 1 and worst.pk
                   else station_url)
            notification_send(recipients=managers[grid_id], kind=NOTIFICATION_KIND, title=title, body=body,
                              url=url)
            sent["grid_managers"] += len(managers[grid_id])
        if due and staff:
            first = min(due, key=lambda i: i.order_by)
            title = ngettext("%(count)d outlook measure to order by %(date)s",
                             "%(count)d outlook measures to order by %(date)s", len(due)) % {
                "count": len(due), "date": first.order_by.isoformat()}
            body = ", ".join(f"{item.asset.code} ({item.order_by.isoformat()})" for item in due[:20])
            notification_send(recipients=staff, kind=NOTIFICATION_KIND, title=title, body=body, url=station_url)
            sent["order_by"] = len(due)
            told_order_by |= {asset_key(item) for item in due}
    run.headline = {**run.headline, "notified": told, "order_by_notified": sorted(told_order_by)}
    run.save(update_fields=["headline"])
    return sent
