"""Demo visits for `seed_demo` (runs after the customers' steps): rounds, their target
lists, visits, visit logs, hazards, customer issues and service cards.

Scales: `demo` has 2 rounds over its county with 12 visits per grid and round (a few
hundred visits); `city` has 4 rounds per county with 100 visits per grid and round
(2,000 grids: 800,000 visits). Rounds lie back to back before today, the last one
around today, so a grid manager has visits today and the boards have open and overdue
items. A visit before today is done (about 88 %) or missed with a reason; from today on
it is planned. Every done visit has a log; a share of them found a hazard, raised an
issue or handed out service cards. Hazards and issues are spread over every status.

Every step re-walks the same plan (`_plan`), drawn from its own `random.Random` seeded
from the run's seed, so ids match across steps without holding 800,000 visits in memory
and a seed always gives the same data (for the same "today"). Rows are written by the
seeding engine: COPY on PostgreSQL, bulk_create elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from zhoukou_grid.territory.demo import Scale, SeedContext, TableStep

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROUND_DAYS = 20
ROUND_GAP_DAYS = 10


@dataclass(frozen=True)
class VisitVolume:
    rounds_per_county: int
    visits_per_grid_round: int
    key_customers_per_grid_round: int
    hazard_share: float = 0.06  # of done visits finding a hazard
    issue_share: float = 0.04  # of done visits raising an issue


# Small scales find more hazards and issues, so that the boards have something at each status.
VOLUMES = {"demo": VisitVolume(2, 12, 2, 0.15, 0.1), "city": VisitVolume(4, 100, 2)}
DEFAULT_VOLUME = VisitVolume(2, 6, 1, 0.4, 0.3)  # any other (test) scale

MISSED_REASONS = ("家中无人", "联系不上户主", "道路施工无法到达", "户主外出务工")
NEEDS = ("希望春节前检查表箱", "咨询峰谷电价", "想了解电费缴纳方式", "询问增容办理", "")
RECOMMENDATIONS = ("大功率电器错峰使用", "取暖器勿长时间无人使用", "定期试跳漏电保护器", "电动车不要飞线充电")
HAZARDS = ("表箱门损坏", "进户线老化破皮", "漏电保护器失灵", "私拉乱接电线", "配电室杂物堆放", "接地线松动")
ISSUE_CATEGORIES = ("no_power", "low_voltage", "meter", "billing", "new_connection", "app_help", "other")
ISSUES = ("电压偏低晚上灯暗", "电表读数有疑问", "网上国网绑定不上", "申请增容", "电费账单看不懂", "夜间停电")
HAZARD_STATUSES = ("found", "notified", "rectifying", "rechecked")
ISSUE_STATUSES = ("open", "in_progress", "resolved", "confirmed")
SEVERITIES = ("general", "general", "general", "serious", "critical")


def volume_of(scale: Scale) -> VisitVolume:
    return VOLUMES.get(scale.name, DEFAULT_VOLUME)


@dataclass(frozen=True)
class PlannedRound:
    id: int
    county_id: int
    number: int
    start: date
    end: date
    status: str


@dataclass
class PlannedVisit:
    """One visit with everything the later steps derive from it (ids assigned in plan order)."""

    id: int
    round: PlannedRound
    grid_id: int
    manager_id: int
    household_id: int | None
    key_customer_id: int | None
    planned_date: date
    status: str
    done_at: datetime | None = None
    missed_reason: str = ""
    log_id: int | None = None
    guidance: tuple[bool, ...] = (False,) * 5
    hazard: tuple | None = None  # (id, severity, status, description, deadline offset days)
    issue: tuple | None = None  # (id, category, status, description)
    cards: tuple[int, int] | None = None  # (card record id, handed out, posted)


def _territory(ctx: SeedContext) -> dict:
    """Grids with their manager, station and county; a sample of households and the key
    customers per grid. Read once per run (cached in ctx.extras)."""
    cached = ctx.extras.get("visits_territory")
    if cached is not None:
        return cached
    from customers.models import Household, KeyCustomer
    from zhoukou_grid.territory.models import Grid, Village

    volume = volume_of(ctx.scale)
    grids = list(Grid.objects.filter(manager__isnull=False).order_by("pk")
                 .values_list("pk", "manager_id", "station__county_id"))
    grid_of_village = dict(Village.objects.values_list("pk", "grid_id"))
    wanted = volume.visits_per_grid_round
    households: dict[int, list[int]] = {grid_id: [] for grid_id, _m, _c in grids}
    for pk, village_id in Household.objects.order_by("pk").values_list("pk", "village_id").iterator(chunk_size=20000):
        sample = households.get(grid_of_village.get(village_id))
        if sample is not None and len(sample) < wanted:
            sample.append(pk)
    key_customers: dict[int, list[int]] = {}
    for pk, grid_id in KeyCustomer.objects.order_by("pk").values_list("pk", "grid_id"):
        key_customers.setdefault(grid_id, []).append(pk)
    today = timezone.localdate()
    rounds: dict[int, list[PlannedRound]] = {}
    round_ids = ctx.id_counter("visit_round")
    counties = sorted({county_id for _g, _m, county_id in grids})
    for county_id in counties:
        for number in range(1, volume.rounds_per_county + 1):
            back = volume.rounds_per_county - number
            start = today - timedelta(days=ROUND_DAYS // 2 + back * (ROUND_DAYS + ROUND_GAP_DAYS))
            end = start + timedelta(days=ROUND_DAYS - 1)
            status = "closed" if end < today else "active"
            rounds.setdefault(county_id, []).append(PlannedRound(next(round_ids), county_id, number, start, end, status))
    cached = {"grids": grids, "households": households, "key_customers": key_customers, "rounds": rounds,
              "today": today}
    ctx.extras["visits_territory"] = cached
    return cached


def _plan(ctx: SeedContext, scale: Scale) -> Iterator[PlannedVisit]:
    """Every visit of the run, in id order, the same on every call."""
    territory = _territory(ctx)
    volume = volume_of(scale)
    today = territory["today"]
    rng = random.Random(f"{ctx.seed}:visits-plan")
    ids = {name: ctx.id_counter(name) for name in ("visit", "visit_log", "hazard", "customer_issue", "service_card")}
    for grid_id, manager_id, county_id in territory["grids"]:
        households = territory["households"].get(grid_id, [])
        customers = territory["key_customers"].get(grid_id, [])[: volume.key_customers_per_grid_round]
        for rnd in territory["rounds"].get(county_id, []):
            targets = [(None, pk) for pk in customers] + [(pk, None) for pk in households]
            targets = targets[: volume.visits_per_grid_round]
            for index, (household_id, customer_id) in enumerate(targets):
                # Key customers first, then households spread over the round's days.
                day = rnd.start + timedelta(days=(index * ROUND_DAYS) // max(len(targets), 1))
                visit = PlannedVisit(next(ids["visit"]), rnd, grid_id, manager_id, household_id, customer_id, day,
                                     "planned")
                draw = rng.random()
                if day < today:
                    if draw < 0.88:
                        visit.status = "done"
                        visit.done_at = datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60)),
                                                         SHANGHAI)
                    else:
                        visit.status = "missed"
                        visit.missed_reason = rng.choice(MISSED_REASONS)
                if visit.status == "done":
                    visit.log_id = next(ids["visit_log"])
                    visit.guidance = tuple(rng.random() < share for share in (0.5, 0.35, 0.08, 0.04, 0.3))
                    # Statuses in turn, so every status is there even at a tiny scale.
                    if rng.random() < volume.hazard_share:
                        hazard_id = next(ids["hazard"])
                        visit.hazard = (hazard_id, rng.choice(SEVERITIES), HAZARD_STATUSES[hazard_id % 4],
                                        rng.choice(HAZARDS), rng.randrange(3, 30))
                    if rng.random() < volume.issue_share:
                        issue_id = next(ids["customer_issue"])
                        visit.issue = (issue_id, rng.choice(ISSUE_CATEGORIES), ISSUE_STATUSES[issue_id % 4],
                                       rng.choice(ISSUES))
                    if rng.random() < 0.7:
                        visit.cards = (next(ids["service_card"]), 1 + (rng.random() < 0.3), int(rng.random() < 0.6))
                yield visit


# --- Steps -------------------------------------------------------------------------------

ROUND_FIELDS = ("id", "name", "county_id", "station_id", "period_start", "period_end", "daily_capacity", "holidays",
                "status", "created_at", "created_by_id")


def generate_rounds(ctx: SeedContext, rng: random.Random, scale: Scale):
    territory = _territory(ctx)
    for rounds in territory["rounds"].values():
        for rnd in rounds:
            name = f"第{rnd.number}轮走访（{rnd.start:%Y年%m月}）"
            created = datetime.combine(rnd.start - timedelta(days=5), time(9), SHANGHAI)
            yield (rnd.id, name, rnd.county_id, None, rnd.start, rnd.end, 10, [], rnd.status, created, None)


TARGET_FIELDS = ("round_id", "grid_id", "household_id", "key_customer_id", "village_id", "earliest", "cadence_days",
                 "source")


def generate_targets(ctx: SeedContext, rng: random.Random, scale: Scale):
    """The target list: every planned target of the round (coverage = its done visits)."""
    for visit in _plan(ctx, scale):
        source = "key_customers" if visit.key_customer_id else "upload"
        yield (visit.round.id, visit.grid_id, visit.household_id, visit.key_customer_id, None, None, None, source)


VISIT_FIELDS = ("id", "round_id", "grid_manager_id", "grid_id", "household_id", "key_customer_id", "village_id",
                "planned_date", "status", "done_at", "agenda", "missed_reason", "cancel_reason", "rescheduled_from_id",
                "created_at", "guidance")


def generate_visits(ctx: SeedContext, rng: random.Random, scale: Scale):
    for visit in _plan(ctx, scale):
        created = datetime.combine(visit.round.start - timedelta(days=3), time(10), SHANGHAI)
        yield (visit.id, visit.round.id, visit.manager_id, visit.grid_id, visit.household_id, visit.key_customer_id,
               None, visit.planned_date, visit.status, visit.done_at, "", visit.missed_reason, "", None, created,
               sum(1 << i for i, given in enumerate(visit.guidance) if given) if visit.log_id is not None else 0)


LOG_FIELDS = ("id", "visit_id", "client_key", "submitted_at", "submitted_by_id", "met_person", "needs", "concerns",
              "recommendations", "guided_payment", "guided_balance", "guided_service_change",
              "guided_account_transfer", "guided_find_electrician")


def generate_logs(ctx: SeedContext, rng: random.Random, scale: Scale):
    for visit in _plan(ctx, scale):
        if visit.log_id is None:
            continue
        yield (visit.log_id, visit.id, f"demo-{ctx.seed}-{visit.id}", visit.done_at + timedelta(minutes=20),
               visit.manager_id, "户主", NEEDS[visit.id % len(NEEDS)], "",
               RECOMMENDATIONS[visit.id % len(RECOMMENDATIONS)], *visit.guidance)


HAZARD_FIELDS = ("id", "grid_id", "household_id", "key_customer_id", "village_id", "visit_log_id", "severity",
                 "description", "deadline", "owner_id", "status", "found_at", "found_by_id", "closed_at")


def generate_hazards(ctx: SeedContext, rng: random.Random, scale: Scale):
    for visit in _plan(ctx, scale):
        if visit.hazard is None:
            continue
        hazard_id, severity, status, description, days = visit.hazard
        closed = visit.done_at + timedelta(days=days - 1) if status == "rechecked" else None
        yield (hazard_id, visit.grid_id, visit.household_id, visit.key_customer_id, None, visit.log_id, severity,
               description, visit.planned_date + timedelta(days=days), visit.manager_id, status, visit.done_at,
               visit.manager_id, closed)


ISSUE_FIELDS = ("id", "grid_id", "household_id", "key_customer_id", "village_id", "visit_log_id", "channel",
                "category", "description", "status", "owner_id", "raised_at", "raised_by_id", "due_at",
                "resolved_at", "confirmed_at")


def generate_issues(ctx: SeedContext, rng: random.Random, scale: Scale):
    for visit in _plan(ctx, scale):
        if visit.issue is None:
            continue
        issue_id, category, status, description = visit.issue
        due = visit.done_at + timedelta(hours=72)
        resolved = visit.done_at + timedelta(hours=30) if status in ("resolved", "confirmed") else None
        confirmed = visit.done_at + timedelta(hours=50) if status == "confirmed" else None
        yield (issue_id, visit.grid_id, visit.household_id, visit.key_customer_id, None, visit.log_id, "visit",
               category, description, status, visit.manager_id, visit.done_at, visit.manager_id, due, resolved,
               confirmed)


CARD_FIELDS = ("id", "grid_id", "grid_manager_id", "visit_id", "village_id", "round_id", "date", "handed_out",
               "posted", "created_at")


def generate_cards(ctx: SeedContext, rng: random.Random, scale: Scale):
    for visit in _plan(ctx, scale):
        if visit.cards is None:
            continue
        card_id, handed_out, posted = visit.cards
        yield (card_id, visit.grid_id, visit.manager_id, visit.id, None, visit.round.id, visit.planned_date,
               handed_out, posted, visit.done_at)


SEED_STEPS = [
    TableStep("visit_round", "visits.Round", ROUND_FIELDS, generate_rounds),
    TableStep("round_target", "visits.RoundTarget", TARGET_FIELDS, generate_targets),
    TableStep("visit", "visits.Visit", VISIT_FIELDS, generate_visits),
    TableStep("visit_log", "visits.VisitLog", LOG_FIELDS, generate_logs),
    TableStep("hazard", "visits.Hazard", HAZARD_FIELDS, generate_hazards),
    TableStep("customer_issue", "visits.CustomerIssue", ISSUE_FIELDS, generate_issues),
    TableStep("service_card", "visits.ServiceCardRecord", CARD_FIELDS, generate_cards),
]
