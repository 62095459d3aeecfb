"""Telling station staff and grid managers about the alerts a run created or raised.

One digest per station per run, in-app and by email, to the users holding the station
staff role on that station; and one digest per grid to the grid's managers (the grid's
`manager` and the users holding the grid manager role on it) listing only the alerts on
assets of their own grid. County admins are not notified: they oversee dozens of
stations and read the queue of their county.

An alert is in a digest only when this execution of the run created it or raised its
level (its `AlertHistory` rows "created"/"raised"), so a nightly run that leaves an alert
at the same level says nothing, and each rise is told once.

Idempotent per execution of a run: the run row remembers (in `counts["notified"]`) the
start time of the execution it notified for, so calling the finishing step twice sends
nothing more, while a later re-run of the same date notifies what it newly creates or
raises.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.notifications import notification_send
from zhoukou_grid.core.webhooks import EVENT_ALERTS, WebhookEvent, webhook_emit_many
from zhoukou_grid.territory.models import Grid, Role, RoleAssignment

from .models import AlertHistory, Level, ProjectionRun

NOTIFICATION_KIND = "alerts"
NOTIFIED_KEY = "notified"
WEBHOOK_LINES = 10


def _alert_lines(alerts: dict[int, tuple]) -> list[str]:
    worst = sorted(alerts.values(), key=lambda a: (-a[0], -a[1]))
    lines = [f"{code} · {Level(level).label} · {rate:.0%} · {peak_date.isoformat()}"
             for level, rate, peak_date, code in worst[:WEBHOOK_LINES]]
    if len(worst) > WEBHOOK_LINES:
        lines.append(_("… and %(count)d more") % {"count": len(worst) - WEBHOOK_LINES})
    return lines


def _alerts_webhooks(run: ProjectionRun, marker: str, by_station: dict, by_grid: dict, station_of: dict) -> None:
    """The same news for the group chats: one message per station and one per grid (sent
    after the run's transaction commits; a failing chat never holds the run)."""
    link = reverse("loadforecast:alert_list")
    events = []
    with translation.override(settings.LANGUAGE_CODE):
        for scope, groups in (("station", by_station), ("grid", by_grid)):
            for pk, alerts in sorted(groups.items()):
                count = len(alerts)
                title = ngettext("%(count)d new or raised overload alert", "%(count)d new or raised overload alerts",
                                 count) % {"count": count}
                station_id = pk if scope == "station" else station_of[pk]
                events.append(WebhookEvent(
                    event=EVENT_ALERTS, key=f"alerts:run{run.pk}:{marker}:{scope}{pk}", title=title,
                    lines=_alert_lines(alerts), url=f"{link}?station={station_id}",
                    station_id=pk if scope == "station" else None, grid_id=pk if scope == "grid" else None,
                    data={"run_id": run.pk, "run_date": run.run_date.isoformat(), "alert_ids": sorted(alerts),
                          "worst_level": max(a[0] for a in alerts.values())}))
    webhook_emit_many(events)


def run_alerts_notify(*, run: ProjectionRun) -> int:
    """Send the digests of `run`'s new or raised alerts; returns how many stations got one.

    Call it inside the transaction that holds the run row locked (`projection_finish`):
    the lock makes the check-and-mark of `counts["notified"]` safe against a second
    finishing step, and the emails leave only when that transaction commits.
    """
    if run.started_at is None:
        return 0
    marker = run.started_at.isoformat()
    if run.counts.get(NOTIFIED_KEY) == marker:
        return 0
    entries = list(
        AlertHistory.objects.filter(alert__last_run_id=run.pk, action__in=("created", "raised"),
                                    at__gte=run.started_at)
        .values_list("alert_id", "alert__grid__station_id", "alert__level", "alert__peak_load_rate",
                     "alert__peak_date", "alert__transformer__code", "alert__line__code", "alert__grid_id")
        .order_by())
    by_station: dict[int, dict[int, tuple]] = defaultdict(dict)
    by_grid: dict[int, dict[int, tuple]] = defaultdict(dict)
    station_of: dict[int, int] = {}
    for alert_id, station_id, level, rate, peak_date, t_code, l_code, grid_id in entries:
        by_station[station_id][alert_id] = by_grid[grid_id][alert_id] = (level, rate, peak_date, t_code or l_code)
        station_of[grid_id] = station_id
    _alerts_webhooks(run, marker, by_station, by_grid, station_of)
    staff: dict[int, list[int]] = defaultdict(list)
    for user_id, station_id in RoleAssignment.objects.filter(
            role=Role.STATION_STAFF, station_id__in=list(by_station), user__is_active=True).values_list(
            "user_id", "station_id").order_by("user_id"):
        staff[station_id].append(user_id)
    managers = grid_managers(list(by_grid))
    link = reverse("loadforecast:alert_list")
    notified_stations = recipients = notified_grids = 0
    with translation.override(settings.LANGUAGE_CODE):
        for station_id, alerts in sorted(by_station.items()):
            if not staff.get(station_id):
                continue
            notification_send(recipients=staff[station_id], kind=NOTIFICATION_KIND, url=f"{link}?station={station_id}",
                              **_digest(alerts))
            notified_stations += 1
            recipients += len(staff[station_id])
        for grid_id, alerts in sorted(by_grid.items()):
            # Someone who is also the station's staff already has the station's digest.
            told = managers.get(grid_id, set()) - set(staff.get(station_of[grid_id], ()))
            if not told:
                continue
            notification_send(recipients=sorted(told), kind=NOTIFICATION_KIND, url=f"{link}?grid={grid_id}",
                              **_digest(alerts, grid=True))
            notified_grids += 1
            recipients += len(told)
    run.counts[NOTIFIED_KEY] = marker
    run.save(update_fields=["counts"])
    if notified_stations or notified_grids:
        audit_record(user=None, action="alerts.notified", object_type="loadforecast.projectionrun", object_id=run.pk,
                     detail={"stations": notified_stations, "grids": notified_grids, "recipients": recipients,
                             "alerts": sum(len(a) for a in by_station.values())})
    return notified_stations


def grid_managers(grid_ids: list[int]) -> dict[int, set[int]]:
    """Per grid: the active users managing it (the grid's `manager` and the grid manager
    role holders). Two queries."""
    managers: dict[int, set[int]] = defaultdict(set)
    if not grid_ids:
        return managers
    for grid_id, user_id in Grid.objects.filter(pk__in=grid_ids, manager__isnull=False,
                                                manager__is_active=True).values_list("pk", "manager_id"):
        managers[grid_id].add(user_id)
    for grid_id, user_id in RoleAssignment.objects.filter(role=Role.GRID_MANAGER, grid_id__in=grid_ids,
                                                          user__is_active=True).values_list("grid_id", "user_id"):
        managers[grid_id].add(user_id)
    return managers


def _digest(alerts: dict[int, tuple], *, grid: bool = False) -> dict[str, str]:
    """The title and body of a digest of `alerts` (alert id -> level, rate, peak day, code)."""
    level, _rate, peak_date, code = max(alerts.values(), key=lambda a: (a[0], a[1]))
    count = len(alerts)
    if grid:
        title = ngettext("%(count)d new or raised overload alert in your grid",
                         "%(count)d new or raised overload alerts in your grid", count) % {"count": count}
    else:
        title = ngettext("%(count)d new or raised overload alert", "%(count)d new or raised overload alerts",
                         count) % {"count": count}
    body = ngettext("%(count)d new or raised alert, worst: %(asset)s %(level)s on %(date)s.",
                    "%(count)d new or raised alerts, worst: %(asset)s %(level)s on %(date)s.", count) % {
        "count": count, "asset": code, "level": Level(level).label, "date": peak_date.isoformat()}
    return {"title": title, "body": body}
