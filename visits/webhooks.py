"""What visits tell the group chats (zhoukou_grid/core/webhooks.py): new customer requests,
the 18:00 reminder and hazards that became overdue.

- **New customer issue** (any channel: visit, phone, hotline, a service card's QR code…):
  a `post_save` on `CustomerIssue` creation, emitted after the transaction commits, to the
  grid's chat and its station's. The customer's text is cut, stripped of markdown and of
  long numbers (`webhook_safe_text`); no name or phone leaves the portal.
- **The 18:00 reminder** (`reminder_webhooks`, from `send_daily_reminders`): per grid with a
  chat, tomorrow's planned visits and the overdue hazards and issues; per station with a
  chat, the overdue counts of its grids. One message per chat and day (the event key).
- **Overdue hazards**: the hazards that became overdue today (deadline yesterday), one
  message per grid (and station) and day.

Reads are set-based: only for the stations and grids that have a chat.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.signals import post_save
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from zhoukou_grid.core.webhooks import (
    EVENT_HAZARDS_OVERDUE,
    EVENT_ISSUE_CREATED,
    EVENT_VISIT_REMINDER,
    WebhookEvent,
    webhook_emit_many,
    webhook_safe_text,
    webhook_targets,
)
from zhoukou_grid.territory.models import Grid

from .models import CustomerIssue, Hazard, Visit
from .selectors import OPEN_ISSUE_STATUSES

HAZARD_LINES = 10
logger = logging.getLogger(__name__)


# --- New customer issues ---------------------------------------------------------------

def _issue_created(sender, instance: CustomerIssue, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        issue_id = instance.pk
        transaction.on_commit(lambda: issue_webhooks(issue_ids=[issue_id]), robust=True)


def _never_raises(function):
    """A chat must never break the work that caused the message: errors are logged."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:  # noqa: BLE001
            logger.exception("webhooks: %s failed", function.__name__)
            return 0

    return wrapper


@_never_raises
def issue_webhooks(*, issue_ids: list[int]) -> int:
    """Tell the chats of the issues' grids (and stations). Never raises."""
    stations, grids = webhook_targets()
    if not stations and not grids:
        return 0
    issues = list(CustomerIssue.objects.filter(pk__in=issue_ids).filter(
        Q(grid_id__in=grids) | Q(grid__station_id__in=stations)).select_related("grid", "village"))
    events = []
    with translation.override(settings.LANGUAGE_CODE):
        for issue in issues:
            due = timezone.localtime(issue.due_at).strftime("%Y-%m-%d %H:%M")
            lines = [_("Category: %(category)s") % {"category": issue.get_category_display()},
                     _("Channel: %(channel)s") % {"channel": issue.get_channel_display()},
                     _("Grid: %(grid)s") % {"grid": issue.grid.name}]
            if issue.village_id:
                lines.append(_("Village: %(village)s") % {"village": issue.village.name})
            lines += [_("Resolve by: %(due)s") % {"due": due}, webhook_safe_text(issue.description, limit=80)]
            events.append(WebhookEvent(
                event=EVENT_ISSUE_CREATED, key=f"issue.created:{issue.pk}",
                title=_("New customer request: %(category)s") % {"category": issue.get_category_display()},
                lines=lines, url=reverse("visits:issue_detail", args=[issue.pk]), grid_id=issue.grid_id,
                station_id=issue.grid.station_id,
                data={"issue_id": issue.pk, "category": issue.category, "channel": issue.channel,
                      "grid_id": issue.grid_id, "village_id": issue.village_id, "due_at": issue.due_at.isoformat(),
                      "raised_at": issue.raised_at.isoformat()},
                occurred_at=issue.raised_at))
    return webhook_emit_many(events)


def connect() -> None:
    post_save.connect(_issue_created, sender=CustomerIssue, dispatch_uid="visits.webhooks.issue_created")


# --- The 18:00 reminder and the hazards that became overdue ----------------------------

@_never_raises
def reminder_webhooks(*, today: date | None = None) -> int:
    """The day's messages to the chats; returns how many deliveries were created. Never raises."""
    today = today or timezone.localdate()
    stations, grids = webhook_targets()
    if not stations and not grids:
        return 0
    tomorrow = today + timedelta(days=1)
    places = Q(grid_id__in=grids) | Q(grid__station_id__in=stations)
    grid_rows = {pk: (name, station_id) for pk, name, station_id in Grid.objects.filter(
        Q(pk__in=grids) | Q(station_id__in=stations)).values_list("pk", "name", "station_id")}
    visits = Counter(dict(Visit.objects.filter(places, planned_date=tomorrow, status=Visit.Status.PLANNED)
                          .values("grid_id").annotate(n=Count("pk")).values_list("grid_id", "n")))
    overdue_hazards = Counter(dict(Hazard.objects.filter(places, deadline__lt=today)
                                   .exclude(status=Hazard.Status.RECHECKED)
                                   .values("grid_id").annotate(n=Count("pk")).values_list("grid_id", "n")))
    overdue_issues = Counter(dict(CustomerIssue.objects.filter(places, due_at__lt=timezone.now(),
                                                               status__in=OPEN_ISSUE_STATUSES)
                                  .values("grid_id").annotate(n=Count("pk")).values_list("grid_id", "n")))
    newly_overdue = list(Hazard.objects.filter(places, deadline=today - timedelta(days=1))
                         .exclude(status=Hazard.Status.RECHECKED).select_related("grid").order_by("deadline", "pk"))

    def counts(grid_ids) -> tuple[int, int, int]:
        return (sum(visits[g] for g in grid_ids), sum(overdue_hazards[g] for g in grid_ids),
                sum(overdue_issues[g] for g in grid_ids))

    by_station: dict[int, list[int]] = defaultdict(list)
    for pk, (_name, station_id) in grid_rows.items():
        by_station[station_id].append(pk)
    hazards_by_grid: dict[int, list[Hazard]] = defaultdict(list)
    for hazard in newly_overdue:
        hazards_by_grid[hazard.grid_id].append(hazard)

    events = []
    hazard_url = reverse("visits:hazard_board") + "?overdue=true"
    with translation.override(settings.LANGUAGE_CODE):
        places_told = [("grid", pk, [pk]) for pk in sorted(grids) if pk in grid_rows]
        places_told += [("station", pk, sorted(by_station.get(pk, []))) for pk in sorted(stations)]
        for scope, pk, grid_ids in places_told:
            n_visits, n_hazards, n_issues = counts(grid_ids)
            target = {"grid_id": pk} if scope == "grid" else {"station_id": pk}
            events.append(WebhookEvent(
                event=EVENT_VISIT_REMINDER, key=f"visit.reminder:{today.isoformat()}:{scope}{pk}",
                title=_("Tomorrow: %(visits)d visits · overdue: %(hazards)d hazards, %(issues)d issues") % {
                    "visits": n_visits, "hazards": n_hazards, "issues": n_issues},
                lines=[_("Visits planned for %(day)s: %(count)d") % {"day": tomorrow.isoformat(), "count": n_visits},
                       _("Overdue hazards: %(count)d") % {"count": n_hazards},
                       _("Overdue customer issues: %(count)d") % {"count": n_issues}],
                url=reverse("visits:calendar"), **target,
                data={"day": tomorrow.isoformat(), "visits": n_visits, "overdue_hazards": n_hazards,
                      "overdue_issues": n_issues}))
            hazards = [h for g in grid_ids for h in hazards_by_grid.get(g, [])]
            if hazards:
                lines = [f"[{h.get_severity_display()}] {webhook_safe_text(h.description, limit=50)} · "
                         f"{h.grid.name} · {h.deadline.isoformat()}" for h in hazards[:HAZARD_LINES]]
                if len(hazards) > HAZARD_LINES:
                    lines.append(_("… and %(count)d more") % {"count": len(hazards) - HAZARD_LINES})
                events.append(WebhookEvent(
                    event=EVENT_HAZARDS_OVERDUE, key=f"hazard.overdue:{today.isoformat()}:{scope}{pk}",
                    title=_("Hazards overdue since today: %(count)d") % {"count": len(hazards)},
                    lines=lines, url=hazard_url, **target,
                    data={"hazard_ids": [h.pk for h in hazards], "deadline": (today - timedelta(days=1)).isoformat()}))
    return webhook_emit_many(events)
