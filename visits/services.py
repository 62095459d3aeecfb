"""Writes with business rules for rounds, visits, visit logs, hazards, issues and photos.

Each function is keyword-only, runs in a transaction, checks the user's verb and
territory (outside it answers Http404, like a missing object), validates everything
before it writes, and writes its own audit row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from customers.models import Household, KeyCustomer, ReturningResident, ServicePlan
from customers.services import residents_mark_arrived
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.lunar_calendar import first_month_day, lunar_new_year, season_of
from zhoukou_grid.core.scoping import for_user, get_writable_or_404, require_perm
from zhoukou_grid.territory.models import County, Grid, Role, RoleAssignment, Station, Village

from . import scheduling
from .models import (
    ChecklistItem,
    ChecklistResult,
    CustomerIssue,
    Hazard,
    HazardEvent,
    IssueEvent,
    Photo,
    Round,
    RoundTarget,
    ServiceCardRecord,
    Visit,
    VisitLog,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Visits outside a round are held to this many per grid manager per day.
DEFAULT_DAILY_CAPACITY = 8
# How far ahead a missed visit outside a round is proposed again.
RESCHEDULE_HORIZON_DAYS = 14
PHOTO_MAX_BYTES = 8 * 1024 * 1024
# Visits that take a grid manager's time on their day.
LOADING_STATUSES = (Visit.Status.PLANNED, Visit.Status.DONE)
# The festival of the plans' "weekly during the festival" (docs/domain.md §3): from the
# 15th of the twelfth lunar month (half a month before New Year) to the 15th of the first.
FESTIVAL_DAYS_BEFORE = 15
FESTIVAL_LAST_LUNAR_DAY = 15


def festival_period(season: int) -> tuple[date, date]:
    """The festival period of `season` (a lunar year, `lunar_calendar.season_of`)."""
    return (lunar_new_year(season) - timedelta(days=FESTIVAL_DAYS_BEFORE),
            first_month_day(season, FESTIVAL_LAST_LUNAR_DAY))


def in_festival(day: date) -> bool:
    first, last = festival_period(season_of(day))
    return first <= day <= last


def round_in_festival(rnd: Round) -> bool:
    """Whether any day of the round's period lies in a festival period."""
    for season in {season_of(rnd.period_start), season_of(rnd.period_end)}:
        first, last = festival_period(season)
        if first <= rnd.period_end and rnd.period_start <= last:
            return True
    return False


def key_date_windows(key_date: date | None, margin: int) -> tuple[tuple[date, date], ...]:
    """The days before and the days after a plan's key date, each needing a visit."""
    if key_date is None or margin < 1:
        return ()
    return ((key_date - timedelta(days=margin), key_date - timedelta(days=1)),
            (key_date + timedelta(days=1), key_date + timedelta(days=margin)))


CADENCE_DAYS = {
    ServicePlan.Cadence.WEEKLY: 7,
    ServicePlan.Cadence.BIWEEKLY: 14,
    ServicePlan.Cadence.MONTHLY: 30,
    ServicePlan.Cadence.QUARTERLY: 91,
}


def _lock_users(user_ids: Iterable[int]) -> None:
    """Serialise capacity checks per grid manager: whoever plans their day holds their row."""
    list(get_user_model().objects.select_for_update().filter(pk__in=set(user_ids)).order_by("pk").values_list("pk"))


def grid_manager_ids(grid_ids: Iterable[int]) -> dict[int, set[int]]:
    """The grid managers of each grid: `Grid.manager` and grid-manager role assignments."""
    grid_ids = set(grid_ids)
    managers: dict[int, set[int]] = defaultdict(set)
    for grid_id, manager_id in Grid.objects.filter(pk__in=grid_ids, manager__isnull=False).values_list(
        "pk", "manager_id"
    ):
        managers[grid_id].add(manager_id)
    for grid_id, user_id in RoleAssignment.objects.filter(role=Role.GRID_MANAGER, grid_id__in=grid_ids).values_list(
        "grid_id", "user_id"
    ):
        managers[grid_id].add(user_id)
    return managers


def _capacity(visit: Visit) -> int:
    return visit.round.daily_capacity if visit.round_id else DEFAULT_DAILY_CAPACITY


def _load(manager_id: int, day: date, *, exclude_pk: int | None = None) -> int:
    queryset = Visit.objects.filter(grid_manager_id=manager_id, planned_date=day, status__in=LOADING_STATUSES)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.count()


def _check_day(visit: Visit, day: date) -> None:
    if day < timezone.localdate():
        raise ValidationError({"planned_date": _("A visit cannot be planned in the past.")})
    if visit.round_id:
        rnd = visit.round
        if not rnd.period_start <= day <= rnd.period_end:
            raise ValidationError({"planned_date": _("The day lies outside the round's period.")})
        if day in rnd.holiday_dates():
            raise ValidationError({"planned_date": _("The round plans no visits on that day.")})


def _check_capacity(visit: Visit, manager_id: int, day: date) -> None:
    if _load(manager_id, day, exclude_pk=visit.pk) >= _capacity(visit):
        raise ValidationError(_("The grid manager's day is full (%(capacity)d visits).") % {"capacity": _capacity(visit)})


def _target_fields(target_key: str) -> dict:
    kind, _sep, pk = target_key.partition(":")
    name = {"household": "household_id", "keycustomer": "key_customer_id", "village": "village_id"}[kind]
    return {name: int(pk)}


# --- Rounds ---------------------------------------------------------------------------

def _holiday_list(holidays: Iterable) -> list[str]:
    days = set()
    for day in holidays:
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError:
                raise ValidationError({"holidays": _("Holidays must be dates.")}) from None
        days.add(day.isoformat())
    return sorted(days)


@transaction.atomic
def round_create(*, user: User, name: str, period_start: date, period_end: date, daily_capacity: int,
                 county_id: int | None = None, station_id: int | None = None, holidays: Iterable = ()) -> Round:
    """Open a round over a station (or a whole county) of the user's own territory."""
    require_perm(user, "visits.add_round")
    if station_id is not None:
        station = get_writable_or_404(user, Station, pk=station_id)
        county_id = station.county_id
    elif county_id is not None:
        get_writable_or_404(user, County, pk=county_id)
    else:
        raise ValidationError(_("A round covers a station or a county."))
    rnd = Round(name=name, county_id=county_id, station_id=station_id, period_start=period_start,
                period_end=period_end, daily_capacity=daily_capacity, holidays=_holiday_list(holidays),
                created_by=user)
    rnd.full_clean()
    rnd.save()
    audit_record(user=user, action="round.created", object_type="round", object_id=rnd.pk,
                 detail={"county": county_id, "station": station_id})
    return rnd


def _round_scope(rnd: Round, grid_path: str) -> Q:
    """Rows in the round's station or county, through the lookup to their grid."""
    if rnd.station_id:
        return Q(**{f"{grid_path}__station_id": rnd.station_id})
    return Q(**{f"{grid_path}__station__county_id": rnd.county_id})


def _open_round(user: User, round_id: int) -> Round:
    rnd = get_writable_or_404(user, Round, pk=round_id, lock=True)
    if rnd.status == Round.Status.CLOSED:
        raise ValidationError(_("The round is closed."))
    return rnd


@transaction.atomic
def round_targets_build(*, user: User, round_id: int, source: str, village_ids: Iterable[int] = (),
                        household_ids: Iterable[int] = (), key_customer_ids: Iterable[int] = ()) -> int:
    """Add targets to a round's list from one source; those already listed stay as they are.

    - key_customers: every key customer in the round's scope, with the cadence of its
      approved plan during the festival;
    - returning: every household with residents arriving in the period, not before the
      first arrival;
    - villages: the chosen villages;
    - upload: the given households and key customers (an uploaded list).
    Returns the number of targets added.
    """
    require_perm(user, "visits.change_round")
    Source = RoundTarget.Source
    if source not in Source.values:
        raise ValidationError({"source": _("Unknown target source.")})
    if source == Source.UPLOAD and not household_ids and not key_customer_ids:
        raise ValidationError(_("The list is empty."))
    rnd = _open_round(user, round_id)
    rows: list[RoundTarget] = []
    if source == Source.KEY_CUSTOMERS or (source == Source.UPLOAD and key_customer_ids):
        customers = KeyCustomer.objects.filter(_round_scope(rnd, "grid"))
        if source == Source.UPLOAD:
            customers = _all_listed(customers, key_customer_ids, _("key customers"))
        # The plan's festival cadence for a round that reaches into the festival, its usual one otherwise.
        field_name = "festival_cadence" if round_in_festival(rnd) else "cadence"
        cadence = ServicePlan.objects.filter(customer=OuterRef("pk"), status=ServicePlan.Status.APPROVED)
        for customer_id, grid_id, plan_cadence in customers.annotate(
            cadence=Subquery(cadence.values(field_name)[:1])
        ).values_list("pk", "grid_id", "cadence"):
            rows.append(RoundTarget(round=rnd, key_customer_id=customer_id, grid_id=grid_id, source=source,
                                    cadence_days=CADENCE_DAYS.get(plan_cadence)))
    if source == Source.RETURNING or (source == Source.UPLOAD and household_ids):
        households = Household.objects.filter(_round_scope(rnd, "village__grid"))
        arriving = Q(residents__arrival_date__gte=rnd.period_start, residents__arrival_date__lte=rnd.period_end) & ~Q(
            residents__status=ReturningResident.Status.DEPARTED
        )
        if source == Source.UPLOAD:
            households = _all_listed(households, household_ids, _("households"))
            listed = households.annotate(first_arrival=Min("residents__arrival_date", filter=arriving))
        else:
            listed = households.filter(arriving).annotate(first_arrival=Min("residents__arrival_date"))
        for household_id, grid_id, first_arrival in listed.values_list("pk", "village__grid_id", "first_arrival"):
            rows.append(RoundTarget(round=rnd, household_id=household_id, grid_id=grid_id, source=source,
                                    earliest=first_arrival))
    if source == Source.VILLAGES:
        villages = _all_listed(Village.objects.filter(_round_scope(rnd, "grid")), village_ids, _("villages"))
        for village_id, grid_id in villages.values_list("pk", "grid_id"):
            rows.append(RoundTarget(round=rnd, village_id=village_id, grid_id=grid_id, source=source))
    existing = set()
    for household_id, customer_id, village_id in rnd.targets.values_list("household_id", "key_customer_id",
                                                                          "village_id"):
        existing.add((household_id, customer_id, village_id))
    new = [row for row in rows if (row.household_id, row.key_customer_id, row.village_id) not in existing]
    RoundTarget.objects.bulk_create(new)
    audit_record(user=user, action="round.targets_built", object_type="round", object_id=rnd.pk,
                 detail={"source": source, "added": len(new)})
    return len(new)


def _all_listed(queryset, ids: Iterable[int], what):
    ids = set(ids)
    if not ids:
        raise ValidationError(_("The list is empty."))
    found = set(queryset.filter(pk__in=ids).values_list("pk", flat=True))
    if found != ids:
        raise ValidationError(
            _("%(count)d of the listed %(what)s lie outside the round's territory or do not exist.")
            % {"count": len(ids - found), "what": what}
        )
    return queryset.filter(pk__in=ids)


UNPLACED_MESSAGES = {
    "no_manager": gettext_noop("The target's grid has no grid manager."),
    "no_capacity": gettext_noop("No grid manager of the grid has a free slot in the window."),
    "outside_period": gettext_noop("The target's earliest date lies after the round's period."),
}


@dataclass(frozen=True)
class UnplacedTarget:
    target: RoundTarget
    reason: str  # a code of `visits.scheduling`: no_manager, no_capacity, outside_period
    message: str
    window_start: date | None = None
    window_end: date | None = None


@dataclass
class RoundScheduleResult:
    created: list[Visit] = field(default_factory=list)
    unplaced: list[UnplacedTarget] = field(default_factory=list)
    already_planned: int = 0


@transaction.atomic
def round_schedule(*, user: User, round_id: int) -> RoundScheduleResult:
    """Plan the visits of a round's targets (see `visits.scheduling`), and say what did not fit.

    Visits already planned or done (in this round or any other) count against each grid
    manager's daily capacity; a target already planned in a cadence window is not planned
    again, so scheduling twice adds nothing.
    """
    require_perm(user, "visits.change_round")
    require_perm(user, "visits.add_visit")
    rnd = _open_round(user, round_id)
    targets = list(rnd.targets.all())
    if not targets:
        raise ValidationError(_("The round has no targets yet."))
    managers_by_grid = grid_manager_ids({t.grid_id for t in targets})
    manager_grids: dict[int, set[int]] = defaultdict(set)
    for grid_id, manager_ids in managers_by_grid.items():
        for manager_id in manager_ids:
            manager_grids[manager_id].add(grid_id)
    _lock_users(manager_grids)
    existing = [
        scheduling.Visit(visit.grid_manager_id, visit.planned_date, visit.target_key)
        for visit in Visit.objects.filter(
            grid_manager_id__in=manager_grids, planned_date__range=(rnd.period_start, rnd.period_end),
            status__in=LOADING_STATUSES,
        ).only("grid_manager_id", "planned_date", "household_id", "key_customer_id", "village_id")
    ]
    by_key = {t.target_key: t for t in targets}
    plans = {
        customer_id: (agenda, key_date_windows(key_date, margin))
        for customer_id, agenda, key_date, margin in ServicePlan.objects.filter(
            customer_id__in=[t.key_customer_id for t in targets if t.key_customer_id],
            status=ServicePlan.Status.APPROVED,
        ).values_list("customer_id", "agenda", "key_date", "key_date_margin_days")
    }
    plan = scheduling.schedule(
        targets=[
            scheduling.Target(key=t.target_key, grid_id=t.grid_id, is_key_customer=t.key_customer_id is not None,
                              earliest=t.earliest, cadence_days=t.cadence_days,
                              extra_windows=plans.get(t.key_customer_id, ("", ()))[1])
            for t in targets
        ],
        managers=[scheduling.Manager(user_id, frozenset(grids)) for user_id, grids in manager_grids.items()],
        start=rnd.period_start,
        end=rnd.period_end,
        daily_capacity=rnd.daily_capacity,
        holidays=rnd.holiday_dates(),
        existing=existing,
    )
    agendas = {customer_id: agenda for customer_id, (agenda, _windows) in plans.items()}
    visits = []
    for planned in plan.visits:
        target = by_key[planned.target_key]
        visits.append(Visit(round=rnd, grid_manager_id=planned.manager_id, grid_id=target.grid_id,
                            planned_date=planned.day, agenda=agendas.get(target.key_customer_id, ""),
                            **_target_fields(planned.target_key)))
    Visit.objects.bulk_create(visits)
    # What did not fit stays with the round as its list to act on, until a later scheduling places it.
    RoundTarget.objects.filter(round=rnd).exclude(unplaced_reason="").update(
        unplaced_reason="", unplaced_window_start=None, unplaced_window_end=None)
    unplaced_targets = []
    for u in plan.unplaced:
        target = by_key[u.target_key]
        target.unplaced_reason, target.unplaced_window_start, target.unplaced_window_end = (
            u.reason, u.window_start, u.window_end)
        unplaced_targets.append(target)
    RoundTarget.objects.bulk_update(unplaced_targets, ["unplaced_reason", "unplaced_window_start",
                                                       "unplaced_window_end"], batch_size=500)
    if visits and rnd.status == Round.Status.DRAFT:
        rnd.status = Round.Status.ACTIVE
        rnd.save(update_fields=["status"])
    unplaced = [
        UnplacedTarget(by_key[u.target_key], u.reason, _(UNPLACED_MESSAGES[u.reason]), u.window_start, u.window_end)
        for u in plan.unplaced
    ]
    audit_record(user=user, action="round.scheduled", object_type="round", object_id=rnd.pk,
                 detail={"created": len(visits), "unplaced": len(unplaced), "already_planned": plan.already_planned})
    return RoundScheduleResult(created=visits, unplaced=unplaced, already_planned=plan.already_planned)


def _reached_q(round_id: int) -> Exists:
    """A round target with a done visit of the round (the progress report's coverage)."""
    return Exists(
        Visit.objects.filter(round_id=round_id, status=Visit.Status.DONE).filter(
            Q(household_id=OuterRef("household_id"), household_id__isnull=False)
            | Q(key_customer_id=OuterRef("key_customer_id"), key_customer_id__isnull=False)
            | Q(village_id=OuterRef("village_id"), village_id__isnull=False)
        )
    )


ROUND_CLOSED_REASON = gettext_noop("The round was closed.")


@transaction.atomic
def round_close(*, user: User, round_id: int, next_round_id: int | None = None) -> Round:
    """Close a round with its summary: targets reached (a done visit in the round), missed,
    and moved to `next_round_id` (the missed ones, unless already on its list). The round's
    still-planned visits are cancelled so they hold no grid manager's day; a closed round
    takes no more targets, scheduling or visit logs."""
    require_perm(user, "visits.change_round")
    rnd = _open_round(user, round_id)
    next_round = None
    if next_round_id is not None:
        if next_round_id == rnd.pk:
            raise ValidationError({"next_round": _("Missed targets move to another round.")})
        next_round = _open_round(user, next_round_id)
        if next_round.county_id != rnd.county_id or (next_round.station_id not in (None, rnd.station_id)):
            raise ValidationError({"next_round": _("The next round must cover the closed round's grids.")})
    reached = _reached_q(rnd.pk)
    targets = RoundTarget.objects.filter(round=rnd)
    counts = targets.aggregate(targets=Count("pk"), reached=Count("pk", filter=Q(reached)))
    moved = 0
    if next_round is not None:
        taken = {t.target_key for t in next_round.targets.only("household_id", "key_customer_id", "village_id")}
        copies = [
            RoundTarget(round=next_round, grid_id=t.grid_id, household_id=t.household_id,
                        key_customer_id=t.key_customer_id, village_id=t.village_id, earliest=next_round.period_start,
                        cadence_days=t.cadence_days, source=t.source)
            for t in targets.filter(~Q(reached)) if t.target_key not in taken
        ]
        RoundTarget.objects.bulk_create(copies, batch_size=500)
        moved = len(copies)
    cancelled = Visit.objects.filter(round=rnd, status=Visit.Status.PLANNED).update(
        status=Visit.Status.CANCELLED, cancel_reason=_(ROUND_CLOSED_REASON))
    rnd.summary = {"targets": counts["targets"], "reached": counts["reached"],
                   "missed": counts["targets"] - counts["reached"], "moved": moved,
                   "next_round": next_round.pk if next_round else None, "visits_cancelled": cancelled}
    rnd.status, rnd.closed_at, rnd.closed_by = Round.Status.CLOSED, timezone.now(), user
    rnd.save(update_fields=["status", "closed_at", "closed_by", "summary"])
    audit_record(user=user, action="round.closed", object_type="round", object_id=rnd.pk, detail=rnd.summary)
    return rnd


# --- Visits ---------------------------------------------------------------------------

def _planned_visit(user: User, visit_id: int) -> Visit:
    visit = get_writable_or_404(user, Visit, pk=visit_id, lock=True)
    if visit.status != Visit.Status.PLANNED:
        raise ValidationError(_("Only a planned visit can be changed; this one is %(status)s.")
                              % {"status": visit.get_status_display()})
    return visit


@transaction.atomic
def visit_move(*, user: User, visit_id: int, planned_date: date) -> Visit:
    """Move a planned visit to another day: inside the round's period, not on its holidays,
    not in the past, and only to a day where the grid manager has capacity left."""
    require_perm(user, "visits.change_visit")
    visit = _planned_visit(user, visit_id)
    _check_day(visit, planned_date)
    _lock_users([visit.grid_manager_id])
    _check_capacity(visit, visit.grid_manager_id, planned_date)
    old = visit.planned_date
    visit.planned_date = planned_date
    visit.save(update_fields=["planned_date"])
    audit_record(user=user, action="visit.moved", object_type="visit", object_id=visit.pk,
                 detail={"from": old.isoformat(), "to": planned_date.isoformat()})
    return visit


@transaction.atomic
def visit_reassign(*, user: User, visit_id: int, grid_manager_id: int) -> Visit:
    """Give a planned visit to another grid manager of the same grid, who has capacity that day."""
    require_perm(user, "visits.change_visit")
    visit = _planned_visit(user, visit_id)
    if grid_manager_id not in grid_manager_ids([visit.grid_id]).get(visit.grid_id, set()):
        raise ValidationError({"grid_manager": _("Only a grid manager of the visit's grid can take it.")})
    _lock_users([grid_manager_id])
    _check_capacity(visit, grid_manager_id, visit.planned_date)
    old = visit.grid_manager_id
    visit.grid_manager_id = grid_manager_id
    visit.save(update_fields=["grid_manager"])
    audit_record(user=user, action="visit.reassigned", object_type="visit", object_id=visit.pk,
                 detail={"from": old, "to": grid_manager_id})
    return visit


@transaction.atomic
def visit_cancel(*, user: User, visit_id: int, reason: str = "") -> Visit:
    """Cancel a planned visit."""
    require_perm(user, "visits.change_visit")
    visit = _planned_visit(user, visit_id)
    visit.status = Visit.Status.CANCELLED
    visit.cancel_reason = reason.strip()
    visit.full_clean()
    visit.save(update_fields=["status", "cancel_reason"])
    audit_record(user=user, action="visit.cancelled", object_type="visit", object_id=visit.pk)
    return visit


@transaction.atomic
def visit_mark_missed(*, user: User, visit_id: int, reason: str) -> tuple[Visit, Visit | None]:
    """Mark a planned visit missed, with its reason, and plan it again.

    The new visit goes to the first working day after the missed one (and not before
    tomorrow) on which its grid manager, else another grid manager of the grid, has
    capacity; inside the round's period. Returns the missed visit and the new one, or
    None when no day is left.
    """
    require_perm(user, "visits.change_visit")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"missed_reason": _("Say why the visit did not take place.")})
    visit = _planned_visit(user, visit_id)
    visit.status = Visit.Status.MISSED
    visit.missed_reason = reason
    visit.full_clean()
    visit.save(update_fields=["status", "missed_reason"])

    first = max(visit.planned_date, timezone.localdate()) + timedelta(days=1)
    if visit.round_id:
        last, holidays = visit.round.period_end, visit.round.holiday_dates()
    else:
        last, holidays = first + timedelta(days=RESCHEDULE_HORIZON_DAYS), set()
    others = sorted(grid_manager_ids([visit.grid_id]).get(visit.grid_id, set()) - {visit.grid_manager_id})
    candidates = [visit.grid_manager_id, *others]
    _lock_users(candidates)
    load = defaultdict(int)
    for manager_id, day, count in (
        Visit.objects.filter(grid_manager_id__in=candidates, planned_date__range=(first, last),
                             status__in=LOADING_STATUSES)
        .values_list("grid_manager_id", "planned_date").annotate(count=Count("pk")).order_by()
    ):
        load[(manager_id, day)] = count
    proposed = None
    day = first
    while day <= last and proposed is None:
        if day not in holidays:
            for manager_id in candidates:
                if load[(manager_id, day)] < _capacity(visit):
                    proposed = Visit.objects.create(
                        round_id=visit.round_id, grid_manager_id=manager_id, grid_id=visit.grid_id,
                        planned_date=day, agenda=visit.agenda, rescheduled_from=visit, household_id=visit.household_id,
                        key_customer_id=visit.key_customer_id, village_id=visit.village_id,
                    )
                    break
        day += timedelta(days=1)
    audit_record(user=user, action="visit.missed", object_type="visit", object_id=visit.pk,
                 detail={"rescheduled_as": proposed.pk if proposed else None})
    return visit, proposed


# --- Visit logs -----------------------------------------------------------------------

def _choice(value, choices, field_name: str):
    if value not in choices.values:
        raise ValidationError({field_name: _("Unknown value: %(value)s.") % {"value": value}})
    return value


def _clean_hazard(item: dict, *, today: date) -> dict:
    description = str(item.get("description", "")).strip()
    if not description:
        raise ValidationError({"hazards": _("Each hazard needs a description.")})
    deadline = item.get("deadline")
    if isinstance(deadline, str):
        deadline = date.fromisoformat(deadline)
    if not isinstance(deadline, date):
        raise ValidationError({"hazards": _("Each hazard needs a deadline.")})
    if deadline < today:
        raise ValidationError({"hazards": _("A hazard's deadline cannot be in the past.")})
    return {"severity": _choice(item.get("severity"), Hazard.Severity, "hazards"), "description": description,
            "deadline": deadline}


def _clean_issue(item: dict) -> dict:
    description = str(item.get("description", "")).strip()
    if not description:
        raise ValidationError({"issues": _("Each issue needs a description.")})
    return {"category": _choice(item.get("category"), CustomerIssue.Category, "issues"), "description": description}


def issue_due_at(category: str, raised_at: datetime) -> datetime:
    """When an issue of `category` raised at `raised_at` must be resolved (settings.ISSUE_SLA_HOURS)."""
    return raised_at + timedelta(hours=settings.ISSUE_SLA_HOURS[category])


def _visit_to_log(user: User, visit_id: int, client_key: str) -> tuple[Visit, VisitLog | None]:
    """The visit to log, locked, and the log already written under `client_key` (a retry)."""
    if not client_key or len(client_key) > 64:
        raise ValidationError({"client_key": _("A submission key of 1 to 64 characters is required.")})
    visit = get_writable_or_404(user, Visit, pk=visit_id, lock=True)
    previous = VisitLog.objects.filter(client_key=client_key).first()
    if previous is not None:
        if previous.visit_id != visit.pk:
            raise ValidationError({"client_key": _("This submission key belongs to another visit.")})
        return visit, previous
    if visit.status == Visit.Status.DONE:
        raise ValidationError(_("This visit has already been logged."))
    if visit.round_id is not None and Round.objects.filter(pk=visit.round_id, status=Round.Status.CLOSED).exists():
        raise ValidationError(_("The round of this visit is closed; it takes no more visit logs."))
    if visit.status != Visit.Status.PLANNED:
        raise ValidationError(_("A %(status)s visit cannot be logged.") % {"status": visit.get_status_display()})
    return visit, None


def _visit_log_parts(user: User, visit: Visit, *, guidance: Iterable[str], checklist: Iterable[dict],
                     hazards: Iterable[dict], issues: Iterable[dict], cards_handed_out: int, cards_posted: int,
                     resident_ids: Iterable[int]) -> tuple[set[str], list[dict], list[dict], list[dict], set[int]]:
    """The log's parts checked and cleaned, before anything is written."""
    today = timezone.localdate()
    guidance = set(guidance)
    if guidance - set(VisitLog.GUIDANCE_FIELDS):
        raise ValidationError({"guidance": _("Unknown guidance.")})
    checklist = [
        {"item": _choice(row.get("item"), ChecklistItem, "checklist"),
         "result": _choice(row.get("result"), ChecklistResult.Result, "checklist"),
         "note": str(row.get("note", "")).strip()[:300]}
        for row in checklist
    ]
    if len({row["item"] for row in checklist}) != len(checklist):
        raise ValidationError({"checklist": _("Each checklist item is recorded once.")})
    hazards = [_clean_hazard(item, today=today) for item in hazards]
    issues = [_clean_issue(item) for item in issues]
    if cards_handed_out < 0 or cards_posted < 0:
        raise ValidationError({"cards": _("Card counts cannot be negative.")})
    resident_ids = set(resident_ids)
    if resident_ids:
        in_grid = for_user(user, ReturningResident).filter(pk__in=resident_ids, village__grid_id=visit.grid_id)
        if in_grid.count() != len(resident_ids):
            raise Http404
    return guidance, checklist, hazards, issues, resident_ids


def _visit_log_findings(user: User, visit: Visit, log: VisitLog, *, hazards: list[dict], issues: list[dict],
                        now: datetime) -> None:
    """The hazards found and the issues raised on the visit, each with its first event."""
    target = {"household_id": visit.household_id, "key_customer_id": visit.key_customer_id,
              "village_id": visit.village_id}
    for item in hazards:
        hazard = Hazard.objects.create(grid_id=visit.grid_id, visit_log=log, owner_id=visit.grid_manager_id,
                                       found_at=now, found_by=user, **target, **item)
        HazardEvent.objects.create(hazard=hazard, to_status=Hazard.Status.FOUND, by=user)
    for item in issues:
        issue = CustomerIssue.objects.create(
            grid_id=visit.grid_id, visit_log=log, channel=CustomerIssue.Channel.VISIT, owner_id=visit.grid_manager_id,
            raised_at=now, raised_by=user, due_at=issue_due_at(item["category"], now), **target, **item,
        )
        IssueEvent.objects.create(issue=issue, to_status=CustomerIssue.Status.OPEN, by=user)


@transaction.atomic
def visit_log_submit(
    *, user: User, visit_id: int, client_key: str, met_person: str = "", needs: str = "", concerns: str = "",
    recommendations: str = "", guidance: Iterable[str] = (), checklist: Iterable[dict] = (),
    hazards: Iterable[dict] = (), issues: Iterable[dict] = (), cards_handed_out: int = 0, cards_posted: int = 0,
    resident_ids: Iterable[int] = (), done_at: datetime | None = None,
) -> VisitLog:
    """Record a whole visit: the log, its checklist, hazards found, issues raised, service
    cards and returning residents confirmed as arrived; the visit becomes done.

    Idempotent by `client_key`: a retried submit returns the first log and writes nothing.
    `guidance` names `VisitLog.GUIDANCE_FIELDS`; `checklist` items are {item, result, note};
    `hazards` {severity, description, deadline}; `issues` {category, description}.
    """
    require_perm(user, "visits.add_visitlog")
    client_key = (client_key or "").strip()
    visit, previous = _visit_to_log(user, visit_id, client_key)
    if previous is not None:
        return previous
    # Everything is checked before anything is written.
    now = timezone.now()
    guidance, checklist, hazards, issues, resident_ids = _visit_log_parts(
        user, visit, guidance=guidance, checklist=checklist, hazards=hazards, issues=issues,
        cards_handed_out=cards_handed_out, cards_posted=cards_posted, resident_ids=resident_ids)

    try:
        with transaction.atomic():
            log = VisitLog.objects.create(
                visit=visit, client_key=client_key, submitted_by=user, met_person=met_person.strip(),
                needs=needs.strip(), concerns=concerns.strip(), recommendations=recommendations.strip(),
                **{name: name in guidance for name in VisitLog.GUIDANCE_FIELDS},
            )
    except IntegrityError:
        # The same key on another visit, written between our check and our insert.
        raise ValidationError({"client_key": _("This submission key belongs to another visit.")}) from None
    ChecklistResult.objects.bulk_create(ChecklistResult(log=log, **row) for row in checklist)
    _visit_log_findings(user, visit, log, hazards=hazards, issues=issues, now=now)
    if cards_handed_out or cards_posted:
        ServiceCardRecord.objects.create(
            grid_id=visit.grid_id, grid_manager_id=visit.grid_manager_id, visit=visit, round_id=visit.round_id,
            village_id=visit.village_id, date=timezone.localdate(done_at or now), handed_out=cards_handed_out,
            posted=cards_posted,
        )
    if resident_ids:
        log.residents_confirmed.set(resident_ids)
        residents_mark_arrived(user=user, resident_ids=resident_ids, at=done_at or now)
    visit.status = Visit.Status.DONE
    visit.done_at = done_at or now
    visit.guidance = log.guidance_bits
    visit.save(update_fields=["status", "done_at", "guidance"])
    audit_record(user=user, action="visitlog.submitted", object_type="visitlog", object_id=log.pk,
                 detail={"visit": visit.pk, "hazards": len(hazards), "issues": len(issues),
                         "cards": cards_handed_out + cards_posted, "residents": len(resident_ids)})
    return log


@transaction.atomic
def service_cards_record(*, user: User, grid_manager_id: int, village_id: int, date: date, handed_out: int = 0,
                         posted: int = 0, round_id: int | None = None) -> ServiceCardRecord:
    """A bulk record of the cards a grid manager handed out or posted in a village on a day."""
    require_perm(user, "visits.add_servicecardrecord")
    village = get_writable_or_404(user, Village, pk=village_id)
    if grid_manager_id not in grid_manager_ids([village.grid_id]).get(village.grid_id, set()):
        raise ValidationError({"grid_manager": _("Only a grid manager of the village's grid hands out its cards.")})
    if round_id is not None:
        # Grid managers see no Round rows; the round need only cover the village.
        covering = Q(station_id=village.grid.station_id) | Q(station__isnull=True, county_id=village.grid.station.county_id)
        if not Round.objects.filter(covering, pk=round_id).exists():
            raise Http404
    record = ServiceCardRecord(grid_id=village.grid_id, grid_manager_id=grid_manager_id, village=village,
                               round_id=round_id, date=date, handed_out=handed_out, posted=posted)
    record.full_clean()
    record.save()
    audit_record(user=user, action="cards.recorded", object_type="servicecardrecord", object_id=record.pk,
                 detail={"handed_out": handed_out, "posted": posted})
    return record


# --- Hazards --------------------------------------------------------------------------

def _target_in_grid(grid_id: int, household_id, key_customer_id, village_id) -> None:
    ok = True
    if household_id:
        ok = Household.objects.filter(pk=household_id, village__grid_id=grid_id).exists()
    elif key_customer_id:
        ok = KeyCustomer.objects.filter(pk=key_customer_id, grid_id=grid_id).exists()
    elif village_id:
        ok = Village.objects.filter(pk=village_id, grid_id=grid_id).exists()
    if not ok:
        raise ValidationError(_("The customer or village lies outside the grid."))


@transaction.atomic
def hazard_report(*, user: User, grid_id: int, severity: str, description: str, deadline: date,
                  household_id: int | None = None, key_customer_id: int | None = None,
                  village_id: int | None = None, owner_id: int | None = None) -> Hazard:
    """Record a hazard found outside a visit (a patrol, a call)."""
    require_perm(user, "visits.add_hazard")
    grid = get_writable_or_404(user, Grid, pk=grid_id)
    item = _clean_hazard({"severity": severity, "description": description, "deadline": deadline},
                         today=timezone.localdate())
    _target_in_grid(grid.pk, household_id, key_customer_id, village_id)
    hazard = Hazard(grid=grid, found_at=timezone.now(), found_by=user, owner_id=owner_id or grid.manager_id,
                    household_id=household_id, key_customer_id=key_customer_id, village_id=village_id, **item)
    hazard.full_clean()
    hazard.save()
    HazardEvent.objects.create(hazard=hazard, to_status=Hazard.Status.FOUND, by=user)
    audit_record(user=user, action="hazard.reported", object_type="hazard", object_id=hazard.pk)
    return hazard


def _hazard_step(user: User, hazard_id: int, *, before: str, after: str, note: str) -> Hazard:
    require_perm(user, "visits.change_hazard")
    hazard = get_writable_or_404(user, Hazard, pk=hazard_id, lock=True)
    if hazard.status != before:
        raise ValidationError(
            _("The hazard is %(status)s; this step needs it to be %(needed)s.")
            % {"status": hazard.get_status_display(), "needed": Hazard.Status(before).label}
        )
    hazard.status = after
    if after == Hazard.Status.RECHECKED:
        hazard.closed_at = timezone.now()
    hazard.save(update_fields=["status", "closed_at"])
    HazardEvent.objects.create(hazard=hazard, from_status=before, to_status=after, by=user, note=note.strip()[:500])
    audit_record(user=user, action=f"hazard.{after}", object_type="hazard", object_id=hazard.pk)
    return hazard


@transaction.atomic
def hazard_notify(*, user: User, hazard_id: int, note: str = "") -> Hazard:
    """The customer has been told of the hazard (告知)."""
    return _hazard_step(user, hazard_id, before=Hazard.Status.FOUND, after=Hazard.Status.NOTIFIED, note=note)


@transaction.atomic
def hazard_rectify(*, user: User, hazard_id: int, note: str = "") -> Hazard:
    """Rectification is under way (整改)."""
    return _hazard_step(user, hazard_id, before=Hazard.Status.NOTIFIED, after=Hazard.Status.RECTIFYING, note=note)


@transaction.atomic
def hazard_recheck(*, user: User, hazard_id: int, note: str = "") -> Hazard:
    """The rectification was checked on site (复核): the hazard is closed."""
    return _hazard_step(user, hazard_id, before=Hazard.Status.RECTIFYING, after=Hazard.Status.RECHECKED, note=note)


# --- Customer issues ------------------------------------------------------------------

@transaction.atomic
def issue_open(*, user: User, grid_id: int, channel: str, category: str, description: str,
               household_id: int | None = None, key_customer_id: int | None = None, village_id: int | None = None,
               owner_id: int | None = None) -> CustomerIssue:
    """Record an issue that came by phone or the hotline (those from visits come with the log)."""
    require_perm(user, "visits.add_customerissue")
    grid = get_writable_or_404(user, Grid, pk=grid_id)
    _choice(channel, CustomerIssue.Channel, "channel")
    if channel == CustomerIssue.Channel.SERVICE_CARD:
        raise ValidationError({"channel": _("Only customers leave requests through a service card.")})
    item = _clean_issue({"category": category, "description": description})
    _target_in_grid(grid.pk, household_id, key_customer_id, village_id)
    now = timezone.now()
    issue = CustomerIssue(grid=grid, channel=channel, raised_at=now, raised_by=user,
                          due_at=issue_due_at(item["category"], now), owner_id=owner_id or grid.manager_id,
                          household_id=household_id, key_customer_id=key_customer_id, village_id=village_id, **item)
    issue.full_clean()
    issue.save()
    IssueEvent.objects.create(issue=issue, to_status=CustomerIssue.Status.OPEN, by=user)
    audit_record(user=user, action="issue.opened", object_type="customerissue", object_id=issue.pk,
                 detail={"category": category, "channel": channel})
    return issue


def _issue_step(user: User, issue_id: int, *, before: str, after: str, note: str) -> CustomerIssue:
    require_perm(user, "visits.change_customerissue")
    issue = get_writable_or_404(user, CustomerIssue, pk=issue_id, lock=True)
    if issue.status != before:
        raise ValidationError(
            _("The issue is %(status)s; this step needs it to be %(needed)s.")
            % {"status": issue.get_status_display(), "needed": CustomerIssue.Status(before).label}
        )
    issue.status = after
    if after == CustomerIssue.Status.RESOLVED:
        issue.resolved_at = timezone.now()
    if after == CustomerIssue.Status.CONFIRMED:
        issue.confirmed_at = timezone.now()
    issue.save(update_fields=["status", "resolved_at", "confirmed_at"])
    IssueEvent.objects.create(issue=issue, from_status=before, to_status=after, by=user, note=note.strip()[:500])
    audit_record(user=user, action=f"issue.{after}", object_type="customerissue", object_id=issue.pk)
    return issue


@transaction.atomic
def issue_start(*, user: User, issue_id: int, note: str = "") -> CustomerIssue:
    return _issue_step(user, issue_id, before=CustomerIssue.Status.OPEN, after=CustomerIssue.Status.IN_PROGRESS,
                       note=note)


@transaction.atomic
def issue_resolve(*, user: User, issue_id: int, note: str = "") -> CustomerIssue:
    return _issue_step(user, issue_id, before=CustomerIssue.Status.IN_PROGRESS, after=CustomerIssue.Status.RESOLVED,
                       note=note)


@transaction.atomic
def issue_confirm(*, user: User, issue_id: int, note: str = "") -> CustomerIssue:
    """The customer confirmed the resolution: the issue is closed."""
    return _issue_step(user, issue_id, before=CustomerIssue.Status.RESOLVED, after=CustomerIssue.Status.CONFIRMED,
                       note=note)


# --- Photos ---------------------------------------------------------------------------

_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _sniff_image(head: bytes) -> str | None:
    for signature, content_type in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@transaction.atomic
def photo_add(*, user: User, file, kind: str = Photo.Kind.VISIT, visit_log_id: int | None = None,
              hazard_id: int | None = None) -> Photo:
    """Store a photo of a visit log or a hazard: a JPEG, PNG or WebP (by its bytes, not its
    name) of at most PHOTO_MAX_BYTES."""
    require_perm(user, "visits.add_photo")
    _choice(kind, Photo.Kind, "kind")
    log = get_writable_or_404(user, VisitLog, pk=visit_log_id) if visit_log_id else None
    hazard = get_writable_or_404(user, Hazard, pk=hazard_id) if hazard_id else None
    if log is None and hazard is None:
        raise ValidationError(_("A photo belongs to a visit or a hazard."))
    if kind != Photo.Kind.VISIT and hazard is None:
        raise ValidationError({"kind": _("Before and after photos belong to a hazard.")})
    if file.size > PHOTO_MAX_BYTES:
        raise ValidationError({"image": _("The photo is larger than %(mb)d MB.") % {"mb": PHOTO_MAX_BYTES // 2**20}})
    file.seek(0)
    content_type = _sniff_image(file.read(16))
    file.seek(0)
    if content_type is None:
        raise ValidationError({"image": _("The file is not a JPEG, PNG or WebP image.")})
    grid_id = hazard.grid_id if hazard else log.visit.grid_id
    photo = Photo(grid_id=grid_id, visit_log=log, hazard=hazard, kind=kind, size_bytes=file.size,
                  content_type=content_type, uploaded_by=user)
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[content_type]
    photo.image.save(f"photo.{extension}", file, save=False)
    photo.save()
    audit_record(user=user, action="photo.added", object_type="photo", object_id=photo.pk,
                 detail={"visit_log": visit_log_id, "hazard": hazard_id, "kind": kind})
    return photo
