"""Scoped reads of visits: overdue lists and the progress report.

Every read starts from `for_user`. The progress report answers with a fixed number of
queries whatever the data: one aggregate with GROUP BY per kind of record, one for the
totals and one for the names of the groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.lookups import Exact
from django.utils import timezone

from zhoukou_grid.core.scoping import for_user, territory_of
from zhoukou_grid.territory.models import County, Grid, Station

from .models import CustomerIssue, Hazard, Round, RoundTarget, ServiceCardRecord, Visit, VisitLog

OPEN_ISSUE_STATUSES = (CustomerIssue.Status.OPEN, CustomerIssue.Status.IN_PROGRESS)
RESOLVED_ISSUE_STATUSES = (CustomerIssue.Status.RESOLVED, CustomerIssue.Status.CONFIRMED)


def overdue_hazards(user, *, today: date | None = None) -> QuerySet[Hazard]:
    """Open hazards of the user's territory whose deadline has passed, oldest deadline first."""
    today = today or timezone.localdate()
    return (
        for_user(user, Hazard)
        .filter(deadline__lt=today)
        .exclude(status=Hazard.Status.RECHECKED)
        .select_related("grid", "owner")
        .order_by("deadline", "pk")
    )


def overdue_issues(user, *, now=None) -> QuerySet[CustomerIssue]:
    """Issues of the user's territory not resolved by their target time, most overdue first."""
    now = now or timezone.now()
    return (
        for_user(user, CustomerIssue)
        .filter(due_at__lt=now, status__in=OPEN_ISSUE_STATUSES)
        .select_related("grid", "owner")
        .order_by("due_at", "pk")
    )


# For each grouping: the lookup from each record to the group's id.
_GROUP_PATHS = {
    "grid_manager": {"visit": "grid_manager_id", "target": None, "cards": "grid_manager_id",
                     "hazard": "found_by_id", "issue": "raised_by_id"},
    "grid": {"visit": "grid_id", "target": "grid_id", "cards": "grid_id", "hazard": "grid_id", "issue": "grid_id"},
    "station": {"visit": "grid__station_id", "target": "grid__station_id", "cards": "grid__station_id",
                "hazard": "grid__station_id", "issue": "grid__station_id"},
    "county": {"visit": "grid__station__county_id", "target": "grid__station__county_id",
               "cards": "grid__station__county_id", "hazard": "grid__station__county_id",
               "issue": "grid__station__county_id"},
}

COUNT_NAMES = (
    "rounds", "visits_planned", "visits_done", "visits_missed", "visits_cancelled", "targets", "targets_covered",
    "households_visited", "key_customers_visited", "villages_visited", "cards_handed_out", "cards_posted",
    *(f"guidance_{name.removeprefix('guided_')}" for name in VisitLog.GUIDANCE_FIELDS),
    "hazards_found", "hazards_rectified", "hazards_overdue", "issues_opened", "issues_resolved", "issues_overdue",
)


def progress_rounds_for(user) -> QuerySet[Round]:
    """The rounds a user may report on: those over their territory, and (for a grid
    manager, who sees no round directly) those with visits or targets in it."""
    territory = territory_of(user)
    if territory.everything or (territory.county_ids and not territory.station_ids and not territory.grid_ids):
        # Whole counties: rounds are scheduled inside their own county, so the rounds over the
        # territory are all there is; the searches below cost a scan of every visit and
        # target of the county (0.08 s of 0.3 s for a county's report at city scale).
        return for_user(user, Round).order_by("-period_start", "name")
    return Round.objects.filter(
        Q(pk__in=for_user(user, Round).values("pk"))
        | Q(pk__in=for_user(user, Visit).filter(round__isnull=False).values("round_id"))
        | Q(pk__in=for_user(user, RoundTarget).values("round_id"))
    ).order_by("-period_start", "name")


def _visit_aggregates() -> dict:
    done = Q(status=Visit.Status.DONE)
    aggregates = {
        "rounds": Count("round", distinct=True),
        "visits_planned": Count("pk", filter=Q(status=Visit.Status.PLANNED)),
        "visits_done": Count("pk", filter=done),
        "visits_missed": Count("pk", filter=Q(status=Visit.Status.MISSED)),
        "visits_cancelled": Count("pk", filter=Q(status=Visit.Status.CANCELLED)),
        "households_visited": Count("household", filter=done, distinct=True),
        "key_customers_visited": Count("key_customer", filter=done, distinct=True),
        "villages_visited": Count("village", filter=done, distinct=True),
    }
    # From the visit's copy of its log's flags: no join with the logs (a hash join reading every
    # log of the city, 616k rows, for one county's 93k visits).
    for bit, name in enumerate(VisitLog.GUIDANCE_FIELDS):
        aggregates[f"guidance_{name.removeprefix('guided_')}"] = Count(
            "pk", filter=Q(Exact(F("guidance").bitand(1 << bit), 1 << bit)))
    return aggregates


def _progress_querysets(user, *, round_id: int | None, start: date | None, end: date | None) -> tuple:
    """The user's visits, card records, hazards and issues within the round and the dates."""
    visits = for_user(user, Visit)
    cards = for_user(user, ServiceCardRecord)
    hazards = for_user(user, Hazard)
    issues = for_user(user, CustomerIssue)
    if round_id is not None:
        visits = visits.filter(round_id=round_id)
        cards = cards.filter(round_id=round_id)
        hazards = hazards.filter(visit_log__visit__round_id=round_id)
        issues = issues.filter(visit_log__visit__round_id=round_id)
    if start is not None:
        visits = visits.filter(planned_date__gte=start)
        cards = cards.filter(date__gte=start)
        hazards = hazards.filter(found_at__date__gte=start)
        issues = issues.filter(raised_at__date__gte=start)
    if end is not None:
        visits = visits.filter(planned_date__lte=end)
        cards = cards.filter(date__lte=end)
        hazards = hazards.filter(found_at__date__lte=end)
        issues = issues.filter(raised_at__date__lte=end)
    return visits, cards, hazards, issues


def progress_counts(*, user, round_id: int | None = None, start: date | None = None, end: date | None = None,
                    group_by: str = "grid_manager") -> dict:
    """What was done in the user's territory, per grid manager, grid, station or county.

    Filtered by a round (visits, targets, cards and hazards and issues of its visits) and
    by a date range (planned date, card date, found/raised day). Visits count by their
    planned date; coverage counts the round's targets with a done visit in the round (only
    with a round). Hazards count as rectified when re-checked; overdue ones as of now.

    Returns {"rows": [{"id", "label", <counts>}...], "totals": {<counts>}}; totals count
    distinct households, key customers and rounds once even when two groups share them.
    """
    if group_by not in _GROUP_PATHS:
        raise ValueError(f"unknown grouping: {group_by}")
    paths = _GROUP_PATHS[group_by]
    today, now = timezone.localdate(), timezone.now()
    visits, cards, hazards, issues = _progress_querysets(user, round_id=round_id, start=start, end=end)
    rows: dict = {}

    def merge(queryset, key: str, **aggregates) -> None:
        for row in queryset.values(group=F(key)).annotate(**aggregates).order_by():
            rows.setdefault(row.pop("group"), {}).update(row)

    merge(visits, paths["visit"], **_visit_aggregates())
    card_sums = {"cards_handed_out": Sum("handed_out"), "cards_posted": Sum("posted")}
    merge(cards, paths["cards"], **card_sums)
    hazard_counts = {
        "hazards_found": Count("pk"),
        "hazards_rectified": Count("pk", filter=Q(status=Hazard.Status.RECHECKED)),
        "hazards_overdue": Count("pk", filter=Q(deadline__lt=today) & ~Q(status=Hazard.Status.RECHECKED)),
    }
    merge(hazards, paths["hazard"], **hazard_counts)
    issue_counts = {
        "issues_opened": Count("pk"),
        "issues_resolved": Count("pk", filter=Q(status__in=RESOLVED_ISSUE_STATUSES)),
        "issues_overdue": Count("pk", filter=Q(due_at__lt=now, status__in=OPEN_ISSUE_STATUSES)),
    }
    merge(issues, paths["issue"], **issue_counts)
    coverage = None
    if round_id is not None:
        covered = Exists(
            Visit.objects.filter(round_id=round_id, status=Visit.Status.DONE).filter(
                Q(household_id=OuterRef("household_id"), household_id__isnull=False)
                | Q(key_customer_id=OuterRef("key_customer_id"), key_customer_id__isnull=False)
                | Q(village_id=OuterRef("village_id"), village_id__isnull=False)
            )
        )
        coverage = for_user(user, RoundTarget).filter(round_id=round_id)
        target_counts = {"targets": Count("pk"), "targets_covered": Count("pk", filter=covered)}
        if paths["target"] is not None:
            merge(coverage, paths["target"], **target_counts)

    totals = dict.fromkeys(COUNT_NAMES, 0)
    for values in rows.values():
        for name in COUNT_NAMES:
            values[name] = values.get(name) or 0
            totals[name] += values[name]
    # Distinct counts and the coverage of the whole list are counted once, not summed.
    visit_totals = visits.aggregate(**{name: _visit_aggregates()[name] for name in
                                       ("rounds", "households_visited", "key_customers_visited", "villages_visited")})
    totals.update(visit_totals)
    if coverage is not None:
        totals.update(coverage.aggregate(**target_counts))
    labels = _labels(group_by, [key for key in rows if key is not None])
    result_rows = [
        {"id": key, "label": labels.get(key, ""), **values}
        for key, values in sorted(rows.items(), key=lambda item: (labels.get(item[0], ""), item[0] or 0))
    ]
    return {"rows": result_rows, "totals": totals}


def _labels(group_by: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    if group_by == "grid_manager":
        users = get_user_model().objects.filter(pk__in=ids).only("pk", "username", "first_name", "last_name")
        return {user.pk: user.get_full_name() or user.get_username() for user in users}
    model = {"grid": Grid, "station": Station, "county": County}[group_by]
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))


# --- Home pages ---------------------------------------------------------------------------

HOME_ROWS = 20


def visits_of_day(user, day: date) -> QuerySet[Visit]:
    """A grid manager's own visits of `day` (cancelled ones left out), in the order of the day's list."""
    return (
        for_user(user, Visit).filter(grid_manager=user, planned_date=day)
        .exclude(status=Visit.Status.CANCELLED)
        .select_related("household__village", "key_customer", "village", "grid", "log")
        .order_by("pk")
    )


def week_visits_per_manager(user, *, start: date, end: date) -> list[dict]:
    """Per grid manager of the user's territory: visits planned from `start` to `end` (not
    cancelled) and how many of them are done. Two queries."""
    rows = list(
        for_user(user, Visit).filter(planned_date__gte=start, planned_date__lte=end)
        .exclude(status=Visit.Status.CANCELLED)
        .values("grid_manager_id")
        .annotate(planned=Count("pk"), done=Count("pk", filter=Q(status=Visit.Status.DONE)))
        .order_by()
    )
    labels = _labels("grid_manager", [row["grid_manager_id"] for row in rows])
    for row in rows:
        row["label"] = labels.get(row["grid_manager_id"], "")
    return sorted(rows, key=lambda row: (row["label"], row["grid_manager_id"]))


def progress_figures(user) -> dict:
    """The progress report's headline figures over the user's whole territory (every round,
    every date): rounds with visits, visits done, service cards (from visits and by village)
    and customer issues resolved. Three queries."""
    figures = for_user(user, Visit).aggregate(
        rounds=Count("round", distinct=True), visits_done=Count("pk", filter=Q(status=Visit.Status.DONE)))
    cards = for_user(user, ServiceCardRecord).aggregate(handed_out=Sum("handed_out"), posted=Sum("posted"))
    figures["cards"] = (cards["handed_out"] or 0) + (cards["posted"] or 0)
    figures["issues_resolved"] = for_user(user, CustomerIssue).filter(status__in=RESOLVED_ISSUE_STATUSES).count()
    return figures


@dataclass
class CadenceGap:
    """A key customer whose approved plan's cadence is not being kept."""

    plan: object
    cadence_days: int
    last_visit: date | None  # the last done visit, None when never visited since approval
    days_late: int


def plans_behind_cadence(user, *, today: date | None = None, limit: int = HOME_ROWS) -> tuple[int, list[CadenceGap]]:
    """Approved plans of the user's key customers whose last done visit (or, never visited,
    the approval) lies further back than the plan's cadence: the festival cadence during the
    festival (`services.in_festival`). Answers (how many, the most late first). One query."""
    from customers.models import ServicePlan

    from .services import CADENCE_DAYS, in_festival

    today = today or timezone.localdate()
    festival = in_festival(today)
    last_done = (Visit.objects.filter(key_customer_id=OuterRef("customer_id"), status=Visit.Status.DONE)
                 .order_by().values("key_customer_id").annotate(last=Max("done_at")).values("last"))
    plans = (for_user(user, ServicePlan).filter(status=ServicePlan.Status.APPROVED)
             .select_related("customer__grid").annotate(last_done=Subquery(last_done)))
    gaps = []
    for plan in plans:
        days = CADENCE_DAYS.get(plan.festival_cadence if festival else plan.cadence)
        if not days:
            continue
        last = timezone.localdate(plan.last_done) if plan.last_done else None
        since = last or (timezone.localdate(plan.approved_at) if plan.approved_at else None)
        if since is None:
            continue
        late = (today - since).days - days
        if late > 0:
            gaps.append(CadenceGap(plan=plan, cadence_days=days, last_visit=last, days_late=late))
    gaps.sort(key=lambda gap: (-gap.days_late, gap.plan.pk))
    return len(gaps), gaps[:limit]
