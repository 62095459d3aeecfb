"""The calendar shows per visit the plan's agenda, open hazards and issues, and residents due."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from customers.models import ServicePlan
from tests.factories import KeyCustomerFactory, ReturningResidentFactory
from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory

TODAY = timezone.localdate


def test_each_visit_of_the_calendar_shows_what_to_look_at(client, world, grid_manager):
    a1 = world.grids["a1"]
    village_visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village,
                                 planned_date=TODAY() + timedelta(days=1))
    hazard = HazardFactory(grid=a1.grid, village=a1.village, description="村口表箱门脱落")
    issue = CustomerIssueFactory(grid=a1.grid, village=a1.village, description="路灯线路低压")
    resident = ReturningResidentFactory(village=a1.village, name="刘返乡", arrival_date=TODAY() + timedelta(days=3))
    closed = HazardFactory(grid=a1.grid, village=a1.village, description="已整改的隐患", status="rechecked",
                           closed_at=timezone.now())
    customer = KeyCustomerFactory(grid=a1.grid)
    ServicePlan.objects.create(customer=customer, version=1, status=ServicePlan.Status.APPROVED,
                               agenda="检查配电室和应急电源")
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, key_customer=customer, village=None,
                 planned_date=TODAY() + timedelta(days=1))
    client.force_login(grid_manager)
    response = client.get(reverse("visits:calendar"), {"view": "day", "day": village_visit.planned_date.isoformat()})
    body = response.content.decode()
    assert "检查配电室和应急电源" in body
    assert reverse("visits:hazard_detail", args=[hazard.pk]) in body
    assert reverse("visits:issue_detail", args=[issue.pk]) in body
    assert reverse("customers:resident_detail", args=[resident.pk]) in body
    assert closed.description not in body
    (_day, visits), = response.context["days"]
    by_pk = {visit.pk: visit for visit in visits}
    assert [h.pk for h in by_pk[village_visit.pk].open_hazards] == [hazard.pk]
