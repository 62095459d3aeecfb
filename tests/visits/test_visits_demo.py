"""seed_demo's visits steps at the tiny scale: counts, consistency with the models' rules, determinism."""

from __future__ import annotations

import hashlib
import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from customers.models import KeyCustomer
from visits import demo as visits_demo
from visits.models import CustomerIssue, Hazard, Round, RoundTarget, ServiceCardRecord, Visit, VisitLog
from zhoukou_grid.territory import demo, seeding
from zhoukou_grid.territory.models import County, Grid

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def visits_digest() -> str:
    digest = hashlib.sha256()
    parts = [
        Round.objects.values_list("name", "county__code", "period_start", "period_end", "status"),
        Visit.objects.values_list("round__name", "grid__code", "grid_manager__username", "household__account_no",
                                  "key_customer__account_no", "planned_date", "status", "done_at", "missed_reason"),
        VisitLog.objects.values_list("visit__household__account_no", "visit__planned_date", "guided_payment",
                                     "guided_balance", "guided_find_electrician", "needs"),
        Hazard.objects.values_list("grid__code", "severity", "status", "description", "deadline"),
        CustomerIssue.objects.values_list("grid__code", "category", "status", "due_at"),
        ServiceCardRecord.objects.values_list("grid__code", "date", "handed_out", "posted"),
    ]
    for queryset in parts:
        for row in sorted(queryset, key=repr):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def tiny_world():
    seed("--scale", "tiny")


def test_the_counts_follow_the_volume(tiny_world):
    volume = visits_demo.volume_of(demo.SCALES["tiny"])
    counties = County.objects.count()
    assert Round.objects.count() == counties * volume.rounds_per_county
    grids = Grid.objects.filter(manager__isnull=False).count()
    assert Visit.objects.count() == grids * volume.rounds_per_county * volume.visits_per_grid_round
    # One target per planned visit: a round's list is what it plans.
    assert RoundTarget.objects.count() == Visit.objects.count()
    assert VisitLog.objects.count() == Visit.objects.filter(status="done").count() > 0
    statuses = Counter(Visit.objects.values_list("status", flat=True))
    assert statuses["done"] and statuses["missed"] and statuses["planned"]


def test_the_demo_and_city_volumes_are_the_issues_figures():
    city = demo.SCALES["city"]
    volume = visits_demo.volume_of(city)
    assert city.grids * volume.rounds_per_county * volume.visits_per_grid_round == 800_000
    demo_volume = visits_demo.volume_of(demo.SCALES["demo"])
    visits = demo.SCALES["demo"].grids * demo_volume.rounds_per_county * demo_volume.visits_per_grid_round
    assert demo_volume.rounds_per_county == 2 and 200 <= visits <= 500


def test_the_rows_obey_the_models_rules(tiny_world):
    today = timezone.localdate()
    assert not Visit.objects.filter(status__in=["done", "missed"], planned_date__gte=today).exists()
    assert not Visit.objects.filter(status="planned", planned_date__lt=today).exists()
    for visit in Visit.objects.select_related("grid")[:50]:
        visit.full_clean()
        assert visit.grid.manager_id == visit.grid_manager_id
    for model in (Hazard, CustomerIssue, ServiceCardRecord, VisitLog, RoundTarget):
        for row in model.objects.all()[:30]:
            row.full_clean()
    # Key customers are visited in their own grid.
    grid_of_customer = dict(KeyCustomer.objects.values_list("pk", "grid_id"))
    for customer_id, grid_id in Visit.objects.filter(key_customer__isnull=False).values_list("key_customer_id",
                                                                                             "grid_id"):
        assert grid_of_customer[customer_id] == grid_id
    # Hazards and issues come from done visits' logs, in the visit's grid.
    assert not Hazard.objects.exclude(grid_id=F("visit_log__visit__grid_id")).exists()
    assert not ServiceCardRecord.objects.exclude(visit__status="done").exists()


def test_hazards_and_issues_cover_every_status(tiny_world):
    assert set(Hazard.objects.values_list("status", flat=True)) == set(visits_demo.HAZARD_STATUSES)
    assert set(CustomerIssue.objects.values_list("status", flat=True)) == set(visits_demo.ISSUE_STATUSES)


def test_the_same_seed_gives_the_same_visits():
    seed("--scale", "tiny")
    first = visits_digest()
    seed("--scale", "tiny", "--reset")
    assert visits_digest() == first
    seed("--scale", "tiny", "--reset", "--seed", "7")
    assert visits_digest() != first


def test_the_steps_run_after_the_customers_steps():
    names = [step.name for step in seeding.seed_steps()]
    assert names.index("visit") > names.index("key_customer")
    assert names.index("visit_log") > names.index("visit") < names.index("service_card")
