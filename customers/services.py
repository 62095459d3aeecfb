"""Writes with business rules for residents and key-customer plans.

Each function is keyword-only, runs in a transaction, checks the user's territory and
verb, and writes its own audit row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.lunar_calendar import lunar_new_year, nearest_season, season_of
from zhoukou_grid.core.scoping import for_user, get_writable_or_404, require_perm, writable_for_user
from zhoukou_grid.territory.models import Village

from .models import (
    CONTACT_PHONE_MAX_LENGTH,
    RESIDENT_PERSONAL_FIELDS,
    Household,
    KeyCustomer,
    ResidentChange,
    ReturningResident,
    ServicePlan,
    personal_index,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _record_changes(user: User, kind: str, residents: Iterable[tuple[int, int]], fields=()) -> None:
    """One dated change per (resident id, village id): the grid manager's feed. Field names only."""
    acting = user if getattr(user, "is_authenticated", False) else None
    ResidentChange.objects.bulk_create([
        ResidentChange(resident_id=resident_id, village_id=village_id, kind=kind, fields=list(fields), user=acting)
        for resident_id, village_id in residents])


def _residents_in_territory(user: User, resident_ids: Iterable[int]):
    ids = set(resident_ids)
    queryset = writable_for_user(user, ReturningResident).filter(pk__in=ids)
    if queryset.count() != len(ids):
        # Outside the territory answers like missing.
        raise Http404
    return queryset


@transaction.atomic
def residents_mark_arrived(*, user: User, resident_ids: Iterable[int], at: datetime | None = None) -> int:
    """Mark residents as arrived (one or many); those already departed stay departed."""
    require_perm(user, "customers.change_returningresident")
    at = at or timezone.now()
    queryset = _residents_in_territory(user, resident_ids).exclude(status=ReturningResident.Status.DEPARTED)
    to_change = queryset.exclude(status=ReturningResident.Status.ARRIVED)
    rows = list(to_change.values_list("pk", "village_id"))
    changed = to_change.update(status=ReturningResident.Status.ARRIVED, arrived_at=at, updated_at=timezone.now())
    _record_changes(user, ResidentChange.Kind.ARRIVED, rows)
    audit_record(user=user, action="resident.arrived", object_type="returningresident",
                 detail={"count": changed, "ids": sorted(resident_ids)[:200]})
    return changed


@transaction.atomic
def residents_mark_departed(*, user: User, resident_ids: Iterable[int], at: datetime | None = None) -> int:
    """Mark residents as departed; an expected resident who never arrived can depart too."""
    require_perm(user, "customers.change_returningresident")
    at = at or timezone.now()
    to_change = _residents_in_territory(user, resident_ids).exclude(status=ReturningResident.Status.DEPARTED)
    rows = list(to_change.values_list("pk", "village_id"))
    changed = to_change.update(status=ReturningResident.Status.DEPARTED, departed_at=at, updated_at=timezone.now())
    _record_changes(user, ResidentChange.Kind.DEPARTED, rows)
    audit_record(user=user, action="resident.departed", object_type="returningresident",
                 detail={"count": changed, "ids": sorted(resident_ids)[:200]})
    return changed


@transaction.atomic
def resident_link_household(*, user: User, resident_id: int, household_id: int) -> ReturningResident:
    """Link a resident that matched no account to a household of the same village."""
    require_perm(user, "customers.change_returningresident")
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


# --- Returning residents: the rules of one entry, for the API, the pages and the import ---------

# A person is listed at most once per village and season (the database's unique key, the
# import's key): not city-wide, which would tell a user that a number is listed outside their
# territory (docs/security.md, "Existence oracles"), and not across seasons, since a village
# sends a list every year with mostly the same people (docs/domain.md §6.7).
RESIDENT_KEY_FIELDS = ("village_id", "season", "match_key")
# What a user writes; status, timestamps, source and the key are the service's.
RESIDENT_FIELDS = (
    "name", "village_id", "village_group", "household_id", "head_name", "phone", "id_number", "workplace",
    "persons", "arrival_date", "departure_date", "heating", "extra_load", "note",
)
# Dates further than this from the coming Lunar New Year are typing errors (a wrong year, mostly).
SANE_WINDOW_DAYS = 120


def resident_date_problems(*, arrival: date | None, departure: date | None,
                           import_day: date | None = None) -> list[tuple[str, str]]:
    """(field, message) for each date rule a resident breaks. With `import_day` (a list's
    import) dates far from the coming Lunar New Year are refused too (docs/domain.md section 2)."""
    problems = []
    if import_day is not None:
        new_year = lunar_new_year(season_of(import_day))
        for name, value in (("arrival_date", arrival), ("departure_date", departure)):
            if value is not None and abs((value - new_year).days) > SANE_WINDOW_DAYS:
                problems.append((name, _(
                    "This date is %(days)d days from the coming Lunar New Year (%(new_year)s); dates more than "
                    "%(limit)d days before or after it are refused. Check the year and the date.") % {
                    "days": abs((value - new_year).days), "new_year": new_year.isoformat(),
                    "limit": SANE_WINDOW_DAYS}))
    if arrival is not None and departure is not None and departure <= arrival:
        problems.append(("departure_date", _("The departure date must be after the arrival date. Check both "
                                             "dates.")))
    return problems


def resident_match_key(*, name: str, id_hmac: str, phone_hmac: str, village_id: int | None,
                       account_no: str) -> str:
    """The key of an entry within its village (`ReturningResident.build_match_key`)."""
    return ReturningResident.build_match_key(name=name, id_hmac=id_hmac, phone_hmac=phone_hmac,
                                             village_id=village_id, account_no=account_no)


def resident_is_listed(*, village_id: int, season: int, match_key: str, id_hmac: str = "",
                       exclude_pk: int | None = None) -> bool:
    """Whether the village's list of `season` already has this person (same key, or same ID
    number). Only the village is asked: entries of other villages never change the answer."""
    same = ReturningResident.objects.filter(Q(match_key=match_key) | Q(id_number_hmac=id_hmac) if id_hmac
                                            else Q(match_key=match_key), village_id=village_id, season=season)
    if exclude_pk is not None:
        same = same.exclude(pk=exclude_pk)
    return same.exists()


def _resident_apply(user, resident: ReturningResident, changes: dict) -> list[str]:
    """Check `changes` against the rules and set them on `resident`; the changed field names."""
    unknown = set(changes) - set(RESIDENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown resident fields: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    if "village_id" in changes and not writable_for_user(user, Village).filter(pk=changes["village_id"]).exists():
        raise Http404
    household = None
    if changes.get("household_id") is not None:
        household = writable_for_user(user, Household).filter(pk=changes["household_id"]).first()
        if household is None:
            raise Http404
    changed = sorted(name for name, value in changes.items() if (
        personal_index(name, value or "") != getattr(resident, f"{name}_hmac") if name in RESIDENT_PERSONAL_FIELDS
        else getattr(resident, name) != value))
    for name, value in changes.items():
        setattr(resident, name, value)
    if "household_id" in changes:
        resident.account_no = household.account_no if household is not None else ""
    if resident.household_id is not None and (household or resident.household).village_id != resident.village_id:
        errors.setdefault("household", []).append(_("The household is in another village than the resident."))
    for name, message in resident_date_problems(arrival=resident.arrival_date, departure=resident.departure_date):
        errors.setdefault(name, []).append(message)
    resident.match_key = resident_match_key(
        name=resident.name, id_hmac=resident.id_number_hmac, phone_hmac=resident.phone_hmac,
        village_id=resident.village_id, account_no=resident.account_no)
    # An entry typed in or edited belongs to the season of its arrival (docs/domain.md §6.7).
    if resident.arrival_date is not None:
        resident.season = nearest_season(resident.arrival_date)
    if not errors and resident.season is not None and resident_is_listed(
            village_id=resident.village_id, season=resident.season, match_key=resident.match_key,
            id_hmac=resident.id_number_hmac, exclude_pk=resident.pk):
        errors["non_field_errors"] = [_(
            "This person is already on this village's list (same ID number, or same name and phone).")]
    if errors:
        raise ValidationError(errors)
    return changed


@transaction.atomic
def resident_create(*, user: User, village_id: int, name: str, arrival_date: date, household_id: int | None = None,
                    village_group: str = "", head_name: str = "", phone: str = "", id_number: str = "",
                    workplace: str = "", persons: int = 1, departure_date: date | None = None, heating: str = "",
                    extra_load: str = "", note: str = "",
                    source: str = ReturningResident.Source.MANUAL,
                    audit_action: str = "resident.created") -> ReturningResident:
    """List a returning resident in a village of the user's territory.

    The same person may be on another village's list: a duplicate is one within the village
    (docs/security.md, "Existence oracles").
    `audit_action` names the channel in the audit row (the API writes `api.create`).
    """
    require_perm(user, "customers.add_returningresident")
    changes = {"village_id": village_id, "name": name, "arrival_date": arrival_date, "household_id": household_id,
               "village_group": village_group, "head_name": head_name, "phone": phone, "id_number": id_number,
               "workplace": workplace, "persons": persons, "departure_date": departure_date, "heating": heating,
               "extra_load": extra_load, "note": note}
    resident = ReturningResident(source=source)
    changed = _resident_apply(user, resident, changes)
    resident.save()
    audit_record(user=user, action=audit_action, object_type="returningresident", object_id=resident.pk,
                 detail={"fields": changed})
    _record_changes(user, ResidentChange.Kind.CREATED, [(resident.pk, resident.village_id)])
    return resident


@transaction.atomic
def resident_update(*, user: User, resident_id: int, audit_action: str = "resident.updated",
                    **changes) -> ReturningResident:
    """Change a resident's entry (fields of RESIDENT_FIELDS; status changes have their own
    functions). Moving it to another village needs that village to be the user's too."""
    require_perm(user, "customers.change_returningresident")
    resident = _residents_in_territory(user, [resident_id]).select_for_update().get()
    changed = _resident_apply(user, resident, changes)
    resident.save()
    # Field names only: ID and phone numbers are personal data.
    audit_record(user=user, action=audit_action, object_type="returningresident", object_id=resident.pk,
                 detail={"fields": changed})
    if changed:
        _record_changes(user, ResidentChange.Kind.UPDATED, [(resident.pk, resident.village_id)], changed)
    return resident


PLAN_FIELDS = ("needs", "risks", "measures", "hazards", "cadence", "festival_cadence", "key_date",
               "key_date_margin_days", "agenda", "responsible_id", "responsible_phone")
# Set per version, never carried over to the next one.
PLAN_VERSION_FIELDS = ("change_note",)


@transaction.atomic
def plan_draft(*, user: User, customer_id: int, **changes) -> ServicePlan:
    """Start a new draft version of a customer's plan from the latest version, with `changes`.

    An existing draft is revised in place instead: there is at most one open draft.
    """
    require_perm(user, "customers.change_serviceplan")
    unknown = set(changes) - set(PLAN_FIELDS) - set(PLAN_VERSION_FIELDS)
    if unknown:
        raise TypeError(f"unknown plan fields: {sorted(unknown)}")
    customer = get_writable_or_404(user, KeyCustomer, pk=customer_id, lock=True)
    latest = customer.plans.order_by("-version").first()
    if latest is not None and latest.status == ServicePlan.Status.DRAFT:
        plan = latest
    else:
        plan = ServicePlan(customer=customer, created_by=user)
        plan.version = (customer.plans.aggregate(v=Max("version"))["v"] or 0) + 1
        if latest is not None:
            for name in PLAN_FIELDS:
                if name in PHONE_FIELDS:  # the stored columns, without decrypting
                    for column in _phone_columns(name):
                        setattr(plan, column, getattr(latest, column))
                else:
                    setattr(plan, name, getattr(latest, name))
    _check_phones(changes)
    for name, value in changes.items():
        setattr(plan, name, value)
    if "responsible_id" in changes and plan.responsible_id is not None:
        _check_responsible(customer, plan.responsible_id)
    plan.full_clean()
    plan.save()
    audit_record(user=user, action="plan.drafted", object_type="serviceplan", object_id=plan.pk,
                 detail={"customer": customer.pk, "version": plan.version})
    return plan


@transaction.atomic
def plan_approve(*, user: User, plan_id: int) -> ServicePlan:
    """Approve a draft: the previously approved version becomes superseded."""
    require_perm(user, "customers.approve_serviceplan")
    plan = get_writable_or_404(user, ServicePlan, pk=plan_id, lock=True)
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
    """The fields that differ between two versions: (field name, older value, newer value).
    A phone is compared by its HMAC and given masked (the history shows no full number)."""
    diff = []
    for name in PLAN_FIELDS:
        if name in PHONE_FIELDS:
            if getattr(older, f"{name}_hmac") != getattr(newer, f"{name}_hmac"):
                diff.append((name, getattr(older, f"{name}_masked"), getattr(newer, f"{name}_masked")))
        elif getattr(older, name) != getattr(newer, name):
            diff.append((name, getattr(older, name), getattr(newer, name)))
    return diff


def _check_responsible(customer: KeyCustomer, user_id: int) -> None:
    """The person responsible for a plan works in the customer's grid or its station."""
    from zhoukou_grid.territory.models import Role, RoleAssignment

    works_there = RoleAssignment.objects.filter(user_id=user_id).filter(
        Q(role=Role.GRID_MANAGER, grid_id=customer.grid_id)
        | Q(role=Role.STATION_STAFF, station_id=customer.grid.station_id)
    ).exists()
    if not works_there:
        raise ValidationError({"responsible": _("The responsible person must work in the customer's grid or station.")})


# --- Phones (docs/personal-data.md) --------------------------------------------------------

# Phones of key customers' contacts and of a plan's responsible person: stored encrypted, each
# as three columns (`models.contact_phone_columns`).
PHONE_FIELDS = ("contact_phone", "contact_24h_phone", "responsible_phone")


def _phone_columns(field: str) -> tuple[str, str, str]:
    return (f"{field}_enc", f"{field}_hmac", f"{field}_masked")


def _check_phones(changes: dict) -> None:
    """What the model's column length checked when the number was stored in plain text."""
    errors = {name: _("At most %(max)d characters.") % {"max": CONTACT_PHONE_MAX_LENGTH}
              for name in PHONE_FIELDS if len((changes.get(name) or "").strip()) > CONTACT_PHONE_MAX_LENGTH}
    errors |= {name: _("Enter the full number, not the masked one.")
               for name in PHONE_FIELDS if "*" in (changes.get(name) or "")}
    if errors:
        raise ValidationError(errors)


def _phones_changed(instance, changes: dict) -> list[str]:
    """The phone fields whose number changes (by HMAC: nothing decrypted)."""
    from .models import personal_index

    return [name for name in PHONE_FIELDS if name in changes
            and getattr(instance, f"{name}_hmac") != personal_index("phone", changes[name] or "")]


# --- Key customers ---------------------------------------------------------------------

KEYCUSTOMER_FIELDS = (
    "account_no", "name", "category", "importance", "grid_id", "village_id", "transformer_id", "address",
    "contact_name", "contact_phone", "contact_24h_name", "contact_24h_phone", "supply", "feeder", "backup_kw",
    "main_loads", "seasonal_needs", "last_inspection",
)


def _check_keycustomer_places(user: User, customer: KeyCustomer) -> None:
    """The grid must be the user's to change; village and transformer must lie in that grid."""
    from zhoukou_grid.territory.models import Grid

    if not writable_for_user(user, Grid).filter(pk=customer.grid_id).exists():
        raise Http404
    errors = {}
    if customer.village_id and customer.village.grid_id != customer.grid_id:
        errors["village"] = _("The village lies in another grid.")
    if customer.transformer_id and customer.transformer.grid_id != customer.grid_id:
        errors["transformer"] = _("The transformer lies in another grid.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def keycustomer_create(*, user: User, **fields) -> KeyCustomer:
    """Open a key customer's file (一户一档) in a grid of the user's own territory."""
    require_perm(user, "customers.add_keycustomer")
    unknown = set(fields) - set(KEYCUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"unknown key customer fields: {sorted(unknown)}")
    _check_phones(fields)
    customer = KeyCustomer(**fields)
    _check_keycustomer_places(user, customer)
    customer.full_clean()
    customer.save()
    audit_record(user=user, action="keycustomer.created", object_type="keycustomer", object_id=customer.pk,
                 detail={"grid": customer.grid_id})
    return customer


@transaction.atomic
def keycustomer_update(*, user: User, customer_id: int, **changes) -> KeyCustomer:
    """Change a key customer's file; moving it to another grid needs that grid to be the user's too."""
    require_perm(user, "customers.change_keycustomer")
    unknown = set(changes) - set(KEYCUSTOMER_FIELDS)
    if unknown:
        raise TypeError(f"unknown key customer fields: {sorted(unknown)}")
    customer = get_writable_or_404(user, KeyCustomer, pk=customer_id, lock=True)
    _check_phones(changes)
    changed = sorted({*_phones_changed(customer, changes), *(
        name for name, value in changes.items() if name not in PHONE_FIELDS and getattr(customer, name) != value)})
    for name, value in changes.items():
        setattr(customer, name, value)
    _check_keycustomer_places(user, customer)
    customer.full_clean()
    customer.save()
    # Field names only: contact names and phones are personal data.
    audit_record(user=user, action="keycustomer.updated", object_type="keycustomer", object_id=customer.pk,
                 detail={"fields": changed})
    return customer


# --- Comparing plan versions -------------------------------------------------------------

@dataclass(frozen=True)
class HazardChange:
    """One hazard compared between two versions: added, removed, changed (remedy or deadline) or unchanged."""

    state: str
    hazard: str
    old: dict | None
    new: dict | None


@dataclass(frozen=True)
class PlanFieldChange:
    name: str
    old: object
    new: object
    hazards: list[HazardChange] | None = None  # item by item, for the hazards field


def _hazard_key(item: dict) -> str:
    return " ".join(str(item.get("hazard", "")).split())


def hazards_compare(older: list[dict], newer: list[dict]) -> list[HazardChange]:
    """Hazards matched by their description (whitespace folded), in the newer version's order,
    then the removed ones in the older version's order."""
    old_by_key = {_hazard_key(item): item for item in older or []}
    new_keys = set()
    result = []
    for item in newer or []:
        key = _hazard_key(item)
        new_keys.add(key)
        previous = old_by_key.get(key)
        if previous is None:
            result.append(HazardChange("added", key, None, item))
        elif (previous.get("remedy"), previous.get("deadline", "")) != (item.get("remedy"), item.get("deadline", "")):
            result.append(HazardChange("changed", key, previous, item))
        else:
            result.append(HazardChange("unchanged", key, previous, item))
    result += [HazardChange("removed", key, item, None) for key, item in old_by_key.items() if key not in new_keys]
    return result


def plan_changes(older: ServicePlan, newer: ServicePlan) -> list[PlanFieldChange]:
    """What changed between two versions, field by field (the hazards item by item)."""
    changes = []
    for name, old, new in plan_diff(older, newer):
        hazards = hazards_compare(old, new) if name == "hazards" else None
        changes.append(PlanFieldChange(name, old, new, hazards))
    return changes


KEYCUSTOMER_PERSONAL_FIELDS = ("contact_phone", "contact_24h_phone")


@transaction.atomic
def keycustomer_reveal(*, user: User, customer_id: int, field: str) -> str:
    """One contact phone of a key customer in full, for a user allowed to see personal data.

    The permission is checked before the lookup (no probing of ids); the audit row names
    who, which customer and which field, never the value.
    """
    if field not in KEYCUSTOMER_PERSONAL_FIELDS:
        raise ValueError(f"not a personal field: {field}")
    require_perm(user, "customers.view_personal_data")
    try:
        customer = for_user(user, KeyCustomer).only("pk", f"{field}_enc").get(pk=customer_id)
    except KeyCustomer.DoesNotExist:
        raise Http404 from None
    audit_record(user=user, action="keycustomer.revealed", object_type="keycustomer", object_id=customer.pk,
                 detail={"field": field})
    return getattr(customer, field)


@transaction.atomic
def plan_reveal_phone(*, user: User, plan_id: int) -> str:
    """The responsible person's phone of one plan version in full, audited like `keycustomer_reveal`."""
    require_perm(user, "customers.view_personal_data")
    try:
        plan = for_user(user, ServicePlan).only("pk", "responsible_phone_enc").get(pk=plan_id)
    except ServicePlan.DoesNotExist:
        raise Http404 from None
    audit_record(user=user, action="serviceplan.revealed", object_type="serviceplan", object_id=plan.pk,
                 detail={"field": "responsible_phone"})
    return plan.responsible_phone
