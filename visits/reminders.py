"""The daily reminders: each grid manager gets their visits for tomorrow and the overdue
hazards and issues of their grids; station staff get the overdue list of their station.

In-app and by email, through `notification_send`. Idempotent per day: a recipient who
already has today's reminder gets nothing more (their rows are locked first, so two runs
at once cannot both send). The reads are set-based (one query per kind of record for all
recipients), then grouped in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.models import Notification
from zhoukou_grid.core.notifications import notification_send
from zhoukou_grid.territory.models import Role, RoleAssignment

from .models import CustomerIssue, Hazard, Visit
from .selectors import OPEN_ISSUE_STATUSES

KIND = "visit_reminder"
LINES_PER_SECTION = 20


@dataclass
class Digest:
    """What one recipient is told."""

    visits: list = field(default_factory=list)
    hazards: list = field(default_factory=list)
    issues: list = field(default_factory=list)
    station_names: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.visits or self.hazards or self.issues)


def _visit_line(visit: Visit) -> str:
    # No names of people in a mail: the village and the account number are enough to find them.
    if visit.household_id:
        household = visit.household
        return f"{household.village.name} · {_('account')} {household.account_no}"
    if visit.key_customer_id:
        return visit.key_customer.name
    return visit.village.name


def _hazard_line(hazard: Hazard) -> str:
    return _("[%(severity)s] %(description)s · rectify by %(deadline)s · %(grid)s") % {
        "severity": hazard.get_severity_display(), "description": hazard.description[:60],
        "deadline": hazard.deadline.isoformat(), "grid": hazard.grid.name}


def _issue_line(issue: CustomerIssue) -> str:
    return _("[%(category)s] %(description)s · resolve by %(due)s · %(grid)s") % {
        "category": issue.get_category_display(), "description": issue.description[:60],
        "due": timezone.localtime(issue.due_at).strftime("%Y-%m-%d %H:%M"), "grid": issue.grid.name}


def _section(heading: str, lines: list[str]) -> str:
    shown = lines[:LINES_PER_SECTION]
    rest = len(lines) - len(shown)
    text = [heading, *(f"- {line}" for line in shown)]
    if rest > 0:
        text.append(_("… and %(count)d more") % {"count": rest})
    return "\n".join(text)


def _message(digest: Digest, *, tomorrow: date, for_station: bool) -> tuple[str, str, str]:
    """(title, body, url) of one recipient's reminder, in the portal's language."""
    sections = []
    if not for_station:
        sections.append(_section(
            ngettext("%(count)d visit planned for tomorrow (%(day)s):", "%(count)d visits planned for tomorrow (%(day)s):",
                     len(digest.visits)) % {"count": len(digest.visits), "day": tomorrow.isoformat()},
            [_visit_line(visit) for visit in digest.visits]))
    if digest.hazards:
        sections.append(_section(_("Overdue hazards: %(count)d") % {"count": len(digest.hazards)},
                                 [_hazard_line(hazard) for hazard in digest.hazards]))
    if digest.issues:
        sections.append(_section(_("Overdue customer issues: %(count)d") % {"count": len(digest.issues)},
                                 [_issue_line(issue) for issue in digest.issues]))
    if for_station:
        title = _("%(station)s: %(hazards)d overdue hazards, %(issues)d overdue issues") % {
            "station": "、".join(digest.station_names), "hazards": len(digest.hazards), "issues": len(digest.issues)}
    else:
        title = _("Tomorrow: %(visits)d visits · overdue: %(hazards)d hazards, %(issues)d issues") % {
            "visits": len(digest.visits), "hazards": len(digest.hazards), "issues": len(digest.issues)}
    if digest.hazards:
        url = reverse("visits:hazard_board") + "?overdue=true"
    elif digest.issues:
        url = reverse("visits:issue_board") + "?overdue=true"
    else:
        url = reverse("home")
    return title, "\n\n".join(sections), url


def _digests(today: date) -> tuple[dict[int, Digest], dict[int, Digest]]:
    """The digests of every grid manager and every station staff member, keyed by user id."""
    tomorrow = today + timedelta(days=1)
    grids_of: dict[int, set[int]] = defaultdict(set)
    stations_of: dict[int, set[int]] = defaultdict(set)
    station_names: dict[int, str] = {}
    assignments = (RoleAssignment.objects.filter(role__in=[Role.GRID_MANAGER, Role.STATION_STAFF],
                                                 user__is_active=True)
                   .values_list("user_id", "role", "grid_id", "station_id", "station__name"))
    for user_id, role, grid_id, station_id, station_name in assignments:
        if role == Role.GRID_MANAGER and grid_id:
            grids_of[user_id].add(grid_id)
        elif role == Role.STATION_STAFF and station_id:
            stations_of[user_id].add(station_id)
            station_names[station_id] = station_name
    all_grids = set().union(*grids_of.values()) if grids_of else set()
    all_stations = set().union(*stations_of.values()) if stations_of else set()

    visits = (Visit.objects.filter(planned_date=tomorrow, status=Visit.Status.PLANNED, grid_manager_id__in=grids_of)
              .select_related("household__village", "key_customer", "village").order_by("grid_manager_id", "pk"))
    hazards = list(Hazard.objects.filter(deadline__lt=today).exclude(status=Hazard.Status.RECHECKED)
                   .filter(_in(all_grids, all_stations)).select_related("grid").order_by("deadline", "pk"))
    issues = list(CustomerIssue.objects.filter(due_at__lt=timezone.now(), status__in=OPEN_ISSUE_STATUSES)
                  .filter(_in(all_grids, all_stations)).select_related("grid").order_by("due_at", "pk"))

    managers: dict[int, Digest] = {user_id: Digest() for user_id in grids_of}
    for visit in visits:
        managers[visit.grid_manager_id].visits.append(visit)
    staff: dict[int, Digest] = {
        user_id: Digest(station_names=sorted(station_names[pk] for pk in stations)) for user_id, stations in stations_of.items()
    }
    managers_of_grid: dict[int, list[int]] = defaultdict(list)
    for user_id, grids in grids_of.items():
        for grid_id in grids:
            managers_of_grid[grid_id].append(user_id)
    staff_of_station: dict[int, list[int]] = defaultdict(list)
    for user_id, stations in stations_of.items():
        for station_id in stations:
            staff_of_station[station_id].append(user_id)
    for kind, rows in (("hazards", hazards), ("issues", issues)):
        for row in rows:
            for user_id in managers_of_grid.get(row.grid_id, ()):
                getattr(managers[user_id], kind).append(row)
            for user_id in staff_of_station.get(row.grid.station_id, ()):
                getattr(staff[user_id], kind).append(row)
    return managers, staff


def _in(grid_ids: set[int], station_ids: set[int]) -> Q:
    return Q(grid_id__in=grid_ids) | Q(grid__station_id__in=station_ids)


def _day_window(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


@transaction.atomic
def reminders_send(*, today: date | None = None) -> int:
    """Send today's reminders to everyone who has something to hear and has not had them
    yet today. Returns how many recipients were notified."""
    today = today or timezone.localdate()
    tomorrow = today + timedelta(days=1)
    managers, staff = _digests(today)
    wanted = {user_id for user_id, digest in managers.items() if not digest.empty}
    wanted |= {user_id for user_id, digest in staff.items() if digest.hazards or digest.issues}
    if not wanted:
        return 0
    # Lock the recipients, then look for today's reminders: a second run waits, then finds them.
    list(get_user_model().objects.filter(pk__in=wanted).order_by("pk").select_for_update().values_list("pk"))
    start, end = _day_window(today)
    already = set(Notification.objects.filter(kind=KIND, user_id__in=wanted, created_at__gte=start,
                                              created_at__lt=end).values_list("user_id", flat=True))
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for user_id in sorted(wanted - already):
            # A station staff member who also manages a grid hears both in one message.
            digest = managers.get(user_id)
            station_digest = staff.get(user_id)
            if digest is not None and station_digest is not None:
                digest = Digest(visits=digest.visits,
                                hazards=_union(digest.hazards, station_digest.hazards),
                                issues=_union(digest.issues, station_digest.issues))
            for_station = digest is None
            title, body, url = _message(digest or station_digest, tomorrow=tomorrow, for_station=for_station)
            notification_send(recipients=[user_id], kind=KIND, title=title, body=body, url=url)
            sent += 1
    audit_record(user=None, action="visits.reminders_sent", object_type="day", object_id=today.isoformat(),
                 detail={"recipients": sent, "skipped_already_sent": len(already & wanted)})
    return sent


def _union(first: list, second: list) -> list:
    seen = {row.pk for row in first}
    return first + [row for row in second if row.pk not in seen]
