"""Villages whose returning list went stale: shown to the grid manager, reminded to the clerks.

A village counts once it has a clerk (the list is then the village committee's to keep).
Its list is stale when its last dated change (`ResidentChange`) is older than
`settings.VILLAGE_LIST_STALE_DAYS`, or when it has none since the clerk's account was opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.core.models import Notification
from zhoukou_grid.core.notifications import notification_send
from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import Role, RoleAssignment, Village

from .models import ResidentChange

REMINDER_KIND = "village_list_stale"


@dataclass(frozen=True)
class StaleVillage:
    village: Village
    last_change: datetime | None


def _stale(villages, *, now: datetime) -> list[StaleVillage]:
    cutoff = now - timedelta(days=settings.VILLAGE_LIST_STALE_DAYS)
    last = ResidentChange.objects.filter(village_id=OuterRef("pk")).values("village_id").annotate(
        last=Max("at")).values("last")
    with_clerk = RoleAssignment.objects.filter(role=Role.VILLAGE_CLERK, user__is_active=True).values("village_id")
    rows = (villages.filter(pk__in=with_clerk).annotate(last_change=Subquery(last)).select_related("grid")
            .order_by("grid__code", "name"))
    return [StaleVillage(village=v, last_change=v.last_change) for v in rows
            if v.last_change is None or v.last_change < cutoff]


def stale_villages_for(user, *, now: datetime | None = None) -> list[StaleVillage]:
    """The stale village lists of the user's territory."""
    return _stale(for_user(user, Village), now=now or timezone.now())


def village_lists_remind(*, now: datetime | None = None) -> int:
    """One in-app reminder a day to the clerks of each stale village; how many were sent."""
    now = now or timezone.now()
    sent = 0
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    for stale in _stale(Village.objects.all(), now=now):
        clerks = set(RoleAssignment.objects.filter(role=Role.VILLAGE_CLERK, village=stale.village)
                     .values_list("user_id", flat=True))
        already = set(Notification.objects.filter(user_id__in=clerks, kind=REMINDER_KIND,
                                                  url=_list_url(), created_at__gte=today_start,
                                                  title__contains=stale.village.name)
                      .values_list("user_id", flat=True))
        recipients = clerks - already
        if recipients:
            notification_send(
                recipients=recipients, kind=REMINDER_KIND, email=False, url=_list_url(),
                title=_("Please update the returning list of %(village)s") % {"village": stale.village.name},
                body=_("The list has not changed for %(days)d days. Add who is coming home and mark who "
                       "has arrived.") % {"days": settings.VILLAGE_LIST_STALE_DAYS})
            sent += len(recipients)
    return sent


def _list_url() -> str:
    return reverse("customers:village_list")
