"""Residents' status, household links and the versioned one-household-one-policy plan."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from customers.models import ReturningResident, ServicePlan
from customers.services import (
    plan_approve,
    plan_diff,
    plan_draft,
    resident_link_household,
    residents_mark_arrived,
    residents_mark_departed,
)
from tests.factories import KeyCustomerFactory, ReturningResidentFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def residents(world):
    mine = [ReturningResidentFactory(village=world.grids["a1"].village) for _ in range(3)]
    theirs = ReturningResidentFactory(village=world.grids["b1"].village)
    return mine, theirs


def test_grid_manager_marks_residents_arrived_in_bulk(grid_manager, residents):
    mine, _ = residents
    assert residents_mark_arrived(user=grid_manager, resident_ids=[r.pk for r in mine]) == 3
    assert set(ReturningResident.objects.filter(pk__in=[r.pk for r in mine]).values_list("status", flat=True)) == {
        "arrived"}
    assert ReturningResident.objects.get(pk=mine[0].pk).arrived_at is not None
    assert AuditLog.objects.filter(action="resident.arrived", user=grid_manager).count() == 1


def test_marking_twice_changes_nothing_more(grid_manager, residents):
    mine, _ = residents
    residents_mark_arrived(user=grid_manager, resident_ids=[mine[0].pk])
    assert residents_mark_arrived(user=grid_manager, resident_ids=[mine[0].pk]) == 0


def test_departed_residents_do_not_come_back_as_arrived(grid_manager, residents):
    mine, _ = residents
    residents_mark_departed(user=grid_manager, resident_ids=[mine[0].pk])
    assert residents_mark_arrived(user=grid_manager, resident_ids=[mine[0].pk]) == 0
    assert ReturningResident.objects.get(pk=mine[0].pk).status == "departed"


def test_a_resident_of_another_territory_is_missing_and_nothing_changes(grid_manager, residents):
    mine, theirs = residents
    with pytest.raises(Http404):
        residents_mark_arrived(user=grid_manager, resident_ids=[mine[0].pk, theirs.pk])
    assert ReturningResident.objects.filter(status="arrived").count() == 0


def test_linking_a_household_of_the_same_village(grid_manager, world, residents):
    mine, _ = residents
    household = world.grids["a1"].households[0]
    resident = resident_link_household(user=grid_manager, resident_id=mine[0].pk, household_id=household.pk)
    assert resident.household == household
    assert resident.account_no == household.account_no


def test_linking_a_household_of_another_village_is_refused(county_admin, world, residents):
    mine, _ = residents
    other_village_household = world.grids["a2"].households[0]
    with pytest.raises(ValidationError):
        resident_link_household(user=county_admin, resident_id=mine[0].pk, household_id=other_village_household.pk)


def test_linking_a_household_outside_the_territory_is_missing(grid_manager, world, residents):
    mine, _ = residents
    with pytest.raises(Http404):
        resident_link_household(user=grid_manager, resident_id=mine[0].pk,
                                household_id=world.grids["b1"].households[0].pk)


class TestPlans:
    @pytest.fixture
    def customer(self, world):
        return KeyCustomerFactory(grid=world.grids["a1"].grid)

    def test_a_plan_is_drafted_approved_and_revised_with_every_version_kept(
        self, grid_manager, station_staff, customer
    ):
        first = plan_draft(user=grid_manager, customer_id=customer.pk, needs="双电源切换测试", cadence="monthly")
        assert (first.version, first.status) == (1, "draft")
        # Revising an open draft edits it in place.
        assert plan_draft(user=grid_manager, customer_id=customer.pk, risks="备用发电机老化").pk == first.pk
        plan_approve(user=station_staff, plan_id=first.pk)
        second = plan_draft(user=grid_manager, customer_id=customer.pk, cadence="weekly")
        assert (second.version, second.needs, second.risks) == (2, "双电源切换测试", "备用发电机老化")
        plan_approve(user=station_staff, plan_id=second.pk)
        statuses = dict(ServicePlan.objects.filter(customer=customer).values_list("version", "status"))
        assert statuses == {1: "superseded", 2: "approved"}
        first.refresh_from_db()
        assert plan_diff(first, second) == [("cadence", "monthly", "weekly")]

    def test_a_grid_manager_cannot_approve(self, grid_manager, customer):
        plan = plan_draft(user=grid_manager, customer_id=customer.pk, needs="x")
        with pytest.raises(PermissionDenied):
            plan_approve(user=grid_manager, plan_id=plan.pk)

    def test_an_approved_plan_cannot_be_approved_again(self, grid_manager, station_staff, customer):
        plan = plan_draft(user=grid_manager, customer_id=customer.pk, needs="x")
        plan_approve(user=station_staff, plan_id=plan.pk)
        with pytest.raises(ValidationError):
            plan_approve(user=station_staff, plan_id=plan.pk)

    def test_an_outsider_cannot_draft_for_the_customer(self, outsider, customer):
        with pytest.raises(Http404):
            plan_draft(user=outsider, customer_id=customer.pk, needs="x")
