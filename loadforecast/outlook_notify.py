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
from zhoukou_grid.core.webhooks import (
    EVENT_OUTLOOK,
    EVENT_OUTLOOK_ORDER_BY,
    WebhookEvent,
    webhook_emit_many,
    webhook_targets,
)
from zhoukou_grid.territory.models import Grid, LVLine, Role, RoleAssignment, Transformer

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


def _item_line(item: OutlookItem, code: str) -> str:
    return f"{code} · {Level(item.level).label} · {item.peak_load_rate:.0%} · {item.peak_date.isoformat()}"


def _asset_codes(items: list[OutlookItem]) -> dict[str, str]:
    """Asset key -> code, in two queries (the items are not loaded with their assets)."""
    codes = {f"t{pk}": code for pk, code in Transformer.objects.filter(
        pk__in=[i.transformer_id for i in items if i.transformer_id]).values_list("pk", "code")}
    codes |= {f"l{pk}": code for pk, code in LVLine.objects.filter(
        pk__in=[i.line_id for i in items if i.line_id]).values_list("pk", "code")}
    return codes


def _outlook_webhooks(run: OutlookRun, new_by_grid: dict[int, list[OutlookItem]], due: list[OutlookItem],
                      station_url: str) -> bool:
    """The outlook's news for the group chats: each grid's new heavy assets to the grid's
    chat, all of them and the measures to order to the station's chat. Returns whether the
    station's chat was told the measures to order."""
    stations, grids = webhook_targets()
    station_chat = run.station_id in stations
    new_by_grid = {grid_id: items for grid_id, items in new_by_grid.items() if grid_id in grids or station_chat}
    if not new_by_grid and not (due and station_chat):
        return False
    every = [item for items in new_by_grid.values() for item in items]
    codes = _asset_codes(every + due)
    events = []
    with translation.override(settings.LANGUAGE_CODE):
        groups = [("grid", grid_id, items) for grid_id, items in sorted(new_by_grid.items()) if grid_id in grids]
        if every and station_chat:
            groups.append(("station", run.station_id, every))
        for scope, pk, items in groups:
            items = sorted(items, key=lambda i: (-i.level, -i.peak_load_rate))
            title = ngettext("Season outlook: %(count)d asset at heavy load or above",
                             "Season outlook: %(count)d assets at heavy load or above", len(items)) % {
                "count": len(items)}
            events.append(WebhookEvent(
                event=EVENT_OUTLOOK, key=f"outlook:run{run.pk}:{scope}{pk}", title=title,
                lines=[_item_line(item, codes.get(asset_key(item), "")) for item in items[:10]], url=station_url,
                station_id=pk if scope == "station" else None, grid_id=pk if scope == "grid" else None,
                data={"outlook_run_id": run.pk, "season": run.season,
                      "items": [{"asset": codes.get(asset_key(item), ""), "level": item.level,
                                 "peak_date": item.peak_date.isoformat()} for item in items[:50]]}))
        if due and station_chat:
            first = min(due, key=lambda i: i.order_by)
            events.append(WebhookEvent(
                event=EVENT_OUTLOOK_ORDER_BY, key=f"outlook-order-by:run{run.pk}", url=station_url,
                title=ngettext("%(count)d outlook measure to order by %(date)s",
                               "%(count)d outlook measures to order by %(date)s", len(due)) % {
                    "count": len(due), "date": first.order_by.isoformat()},
                lines=[f"{codes.get(asset_key(item), '')} ({item.order_by.isoformat()})" for item in due[:10]],
                station_id=run.station_id, data={"outlook_run_id": run.pk}))
    webhook_emit_many(events)
    return bool(due and station_chat)


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
    if _outlook_webhooks(run, new_by_grid, due, station_url):
        told_order_by |= {asset_key(item) for item in due}
    run.headline = {**run.headline, "notified": told, "order_by_notified": sorted(told_order_by)}
    run.save(update_fields=["headline"])
    return sent
