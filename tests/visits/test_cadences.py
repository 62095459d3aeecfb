"""Key-customer cadences as data: the plan's usual and festival cadence and a key date to
visit before and after; the round planner turns them into visits, and a plan whose cadence
is not kept shows on the station home."""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from customers.models import ServicePlan
from tests.factories import KeyCustomerFactory
from tests.visits.factories import VisitFactory
from visits import scheduling, services
from visits.models import RoundTarget, Visit
from visits.selectors import plans_behind_cadence
from zhoukou_grid.core.lunar_calendar import lunar_new_year


def _plan(customer, **fields):
    """An approved plan, drafted the day before its approval (the database refuses the other order)."""
    approved_at = fields.pop("approved_at", timezone.now() - timedelta(days=60))
    plan = ServicePlan.objects.create(customer=customer, version=1, status=ServicePlan.Status.APPROVED,
                                      approved_at=timezone.now() + timedelta(minutes=1), **fields)
    ServicePlan.objects.filter(pk=plan.pk).update(created_at=approved_at - timedelta(days=1), approved_at=approved_at)
    plan.refresh_from_db()
    return plan


def test_the_festival_period_surrounds_new_year():
    first, last = services.festival_period(2027)
    assert first == lunar_new_year(2027) - timedelta(days=15) and last > lunar_new_year(2027)
    assert services.in_festival(lunar_new_year(2027)) and not services.in_festival(date(2027, 6, 1))


def test_a_key_date_needs_a_visit_before_and_one_after():
    key = date(2027, 3, 10)
    target = scheduling.Target(key="keycustomer:1", grid_id=1, is_key_customer=True, cadence_days=30,
                               extra_windows=services.key_date_windows(key, 3))
    plan = scheduling.schedule(targets=[target], managers=[scheduling.Manager(7, frozenset({1}))],
                               start=date(2027, 3, 1), end=date(2027, 3, 30), daily_capacity=5)
    days = sorted(visit.day for visit in plan.visits)
    assert len(days) == 2  # the visit before the key date also keeps the month's cadence
    assert date(2027, 3, 7) <= days[0] <= date(2027, 3, 9) and date(2027, 3, 11) <= days[1] <= date(2027, 3, 13)


def test_the_round_planner_uses_the_festival_cadence_in_the_festival_and_the_usual_one_otherwise(
        world, station_staff, grid_manager):
    customer = KeyCustomerFactory(grid=world.grids["a1"].grid)
    _plan(customer, cadence=ServicePlan.Cadence.MONTHLY, festival_cadence=ServicePlan.Cadence.WEEKLY)
    new_year = lunar_new_year(2027)
    festival = services.round_create(user=station_staff, name="春节", station_id=world.station_a1.pk,
                                     period_start=new_year - timedelta(days=10), period_end=new_year + timedelta(days=10),
                                     daily_capacity=5)
    summer = services.round_create(user=station_staff, name="夏季", station_id=world.station_a1.pk,
                                   period_start=date(2027, 6, 1), period_end=date(2027, 7, 30), daily_capacity=5)
    for rnd in (festival, summer):
        services.round_targets_build(user=station_staff, round_id=rnd.pk, source="key_customers")
    assert RoundTarget.objects.get(round=festival).cadence_days == 7
    assert RoundTarget.objects.get(round=summer).cadence_days == 30
    services.round_schedule(user=station_staff, round_id=summer.pk)
    assert Visit.objects.filter(round=summer, key_customer=customer).count() == 2  # one per month of the period


def test_the_planner_places_visits_around_the_plans_key_date(world, station_staff, grid_manager):
    customer = KeyCustomerFactory(grid=world.grids["a1"].grid)
    key = date(2027, 6, 15)
    _plan(customer, cadence=ServicePlan.Cadence.QUARTERLY, key_date=key, key_date_margin_days=2)
    rnd = services.round_create(user=station_staff, name="检修停电前后", station_id=world.station_a1.pk,
                                period_start=date(2027, 6, 1), period_end=date(2027, 6, 30), daily_capacity=5)
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="key_customers")
    services.round_schedule(user=station_staff, round_id=rnd.pk)
    days = sorted(Visit.objects.filter(round=rnd, key_customer=customer).values_list("planned_date", flat=True))
    assert len(days) == 2
    assert key - timedelta(days=2) <= days[0] < key < days[1] <= key + timedelta(days=2)


def test_a_plan_behind_its_cadence_shows_on_the_station_home(client, world, station_staff, grid_manager):
    late = KeyCustomerFactory(grid=world.grids["a1"].grid, name="县医院")
    kept = KeyCustomerFactory(grid=world.grids["a2"].grid, name="自来水厂")
    other_station = KeyCustomerFactory(grid=world.grids["a3"].grid, name="甲二所的工厂")
    today = date(2027, 6, 20)  # outside the festival: the monthly cadence
    for customer in (late, kept, other_station):
        _plan(customer, cadence=ServicePlan.Cadence.MONTHLY, approved_at=timezone.now() - timedelta(days=400))
    VisitFactory(grid=late.grid, grid_manager=grid_manager, key_customer=late, village=None, status=Visit.Status.DONE,
                 planned_date=date(2027, 5, 1), done_at=timezone.make_aware(timezone.datetime(2027, 5, 1, 10)))
    VisitFactory(grid=kept.grid, grid_manager=grid_manager, key_customer=kept, village=None, status=Visit.Status.DONE,
                 planned_date=date(2027, 6, 10), done_at=timezone.make_aware(timezone.datetime(2027, 6, 10, 10)))
    count, gaps = plans_behind_cadence(station_staff, today=today)
    assert count == 1
    assert [(g.plan.customer.name, g.last_visit, g.days_late) for g in gaps] == [("县医院", date(2027, 5, 1), 20)]
    # The home asks for today: a plan approved 400 days ago and never visited since is late.
    never = KeyCustomerFactory(grid=world.grids["a2"].grid, name="敬老院")
    _plan(never, cadence=ServicePlan.Cadence.MONTHLY, festival_cadence=ServicePlan.Cadence.MONTHLY,
          approved_at=timezone.now() - timedelta(days=400))
    client.force_login(station_staff)
    body = client.get(reverse("home")).content.decode()
    assert 'data-section="cadence"' in body
    assert reverse("customers:keycustomer_detail", args=[never.pk]) in body
    assert reverse("customers:keycustomer_detail", args=[other_station.pk]) not in body


def test_the_key_date_is_written_through_the_plan_api_and_carried_to_the_next_version(world, grid_manager):
    from rest_framework.test import APIClient

    customer = KeyCustomerFactory(grid=world.grids["a1"].grid)
    client = APIClient()
    client.force_authenticate(grid_manager)
    url = f"/api/v1/keycustomers/{customer.pk}/plans/draft/"
    response = client.post(url, {"key_date": "2027-06-15", "key_date_margin_days": 2}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["key_date"], response.json()["key_date_margin_days"]) == ("2027-06-15", 2)
    assert client.post(url, {"key_date_margin_days": 0}, format="json").status_code == 400
    plan = ServicePlan.objects.get(customer=customer)
    assert (plan.key_date, plan.key_date_margin_days) == (date(2027, 6, 15), 2)


def test_the_plan_form_offers_the_key_date(client, world, grid_manager):
    customer = KeyCustomerFactory(grid=world.grids["a1"].grid)
    client.force_login(grid_manager)
    url = reverse("customers:keycustomer_plan_edit", args=[customer.pk])
    form = client.get(url).context["form"]
    assert {"key_date", "key_date_margin_days"} <= set(form.fields)
