"""Writes with business rules for residents and key-customer plans.

Each function is keyword-only, runs in a transaction, checks the user's territory and
verb, and writes its own audit row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.audit import audit_record
from zhoukou_grid.scoping import for_user, writable_for_user

from .models import Household, KeyCustomer, ReturningResident, ServicePlan


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _residents_in_territory(user, resident_ids: Iterable[int]):
    ids = set(resident_ids)
    queryset = writable_for_user(user, ReturningResident).filter(pk__in=ids)
    if queryset.count() != len(ids):
        # Outside the territory answers like missing.
        raise Http404
    return queryset


@transaction.atomic
def residents_mark_arrived(*, user, resident_ids: Iterable[int], at: datetime | None = None) -> int:
    """Mark residents as arrived (one or many); those already departed stay departed."""
    _require(user, "customers.change_returningresident")
    at = at or timezone.now()
    queryset = _residents_in_territory(user, resident_ids).exclude(status=ReturningResident.Status.DEPARTED)
    changed = queryset.exclude(status=ReturningResident.Status.ARRIVED).update(
        status=ReturningResident.Status.ARRIVED, arrived_at=at, updated_at=timezone.now()
    )
    audit_record(user=user, action="resident.arrived", object_type="returningresident",
                 detail={"count": changed, "ids": sorted(resident_ids)[:200]})
    return changed


@transaction.atomic
def residents_mark_departed(*, user, resident_ids: Iterable[int], at: datetime | None = None) -> int:
    """Mark residents as departed; an expected resident who never arrived can depart too."""
    _require(user, "customers.change_returningresident")
    at = at or timezone.now()
    queryset = _residents_in_territory(user, resident_ids)
    changed = queryset.exclude(status=ReturningResident.Status.DEPARTED).update(
        status=ReturningResident.Status.DEPARTED, departed_at=at, updated_at=timezone.now()
    )
    audit_record(user=user, action="resident.departed", object_type="returningresident",
                 detail={"count": changed, "ids": sorted(resident_ids)[:200]})
    return changed


@transaction.atomic
def resident_link_household(*, user, resident_id: int, household_id: int) -> ReturningResident:
    """Link a resident that matched no account to a household of the same village."""
    _require(user, "customers.change_returningresident")
    resident = _residents_in_territory(user, [resident_id]).select_for_update().get()
    try:
        household = for_user(user, Household).get(pk=household_id)
    except Household.DoesNotExist:
        raise Http404 from None
    if household.village_id != resident.village_id:
        raise ValidationError(_("The household is in another village than the resident."))
    resident.household = household
    resident.account_no = household.account_no
    resident.save(update_fields=["household", "account_no", "updated_at"])
    audit_record(user=user, action="resident.linked", object_type="returningresident", object_id=resident.pk,
                 detail={"household": household.pk})
    return resident


PLAN_FIELDS = ("needs", "risks", "measures", "hazards", "cadence", "festival_cadence", "agenda", "responsible_id")


@transaction.atomic
def plan_draft(*, user, customer_id: int, **changes) -> ServicePlan:
    """Start a new draft version of a customer's plan from the latest version, with `changes`.

    An existing draft is revised in place instead: there is at most one open draft.
    """
    _require(user, "customers.change_serviceplan")
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"unknown plan fields: {sorted(unknown)}")
    try:
        customer = writable_for_user(user, KeyCustomer).select_for_update().get(pk=customer_id)
    except KeyCustomer.DoesNotExist:
        raise Http404 from None
    latest = customer.plans.order_by("-version").first()
    if latest is not None and latest.status == ServicePlan.Status.DRAFT:
        plan = latest
    else:
        plan = ServicePlan(customer=customer, created_by=user)
        plan.version = (customer.plans.aggregate(v=Max("version"))["v"] or 0) + 1
        if latest is not None:
            for name in PLAN_FIELDS:
                setattr(plan, name, getattr(latest, name))
    for name, value in changes.items():
        setattr(plan, name, value)
    plan.full_clean()
    plan.save()
    audit_record(user=user, action="plan.drafted", object_type="serviceplan", object_id=plan.pk,
                 detail={"customer": customer.pk, "version": plan.version})
    return plan


@transaction.atomic
def plan_approve(*, user, plan_id: int) -> ServicePlan:
    """Approve a draft: the previously approved version becomes superseded."""
    _require(user, "customers.approve_serviceplan")
    try:
        plan = writable_for_user(user, ServicePlan).select_for_update().get(pk=plan_id)
    except ServicePlan.DoesNotExist:
        raise Http404 from None
    if plan.status != ServicePlan.Status.DRAFT:
        raise ValidationError(_("Only a draft can be approved."))
    ServicePlan.objects.filter(customer_id=plan.customer_id, status=ServicePlan.Status.APPROVED).update(
        status=ServicePlan.Status.SUPERSEDED
    )
    plan.status = ServicePlan.Status.APPROVED
    plan.approved_by = user
    plan.approved_at = timezone.now()
    plan.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(user=user, action="plan.approved", object_type="serviceplan", object_id=plan.pk,
                 detail={"customer": plan.customer_id, "version": plan.version})
    return plan


def plan_diff(older: ServicePlan, newer: ServicePlan) -> list[tuple[str, object, object]]:
    """The fields that differ between two versions: (field name, older value, newer value)."""
    return [
        (name, getattr(older, name), getattr(newer, name))
        for name in PLAN_FIELDS
        if getattr(older, name) != getattr(newer, name)
    ]
