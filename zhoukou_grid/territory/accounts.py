"""Users and their roles, managed by administrators within their own territory.

A company admin manages every user. A county admin manages the users whose roles all lie in
their county (a user who also holds a role elsewhere, or a company admin, is only listed):
they create users, deactivate them, give and take station-staff and grid-manager roles over
their county's stations and grids, set the name and work phone customers see, and sign a
lost phone out everywhere. Every change writes one audit row (ids only, no phone number).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import roles_of, territory_of
from zhoukou_grid.core.security import user_sessions_end
from zhoukou_grid.territory.models import Grid, Role, RoleAssignment, Station, UserProfile

User = get_user_model()

# The roles a county admin gives within their county.
ASSIGNABLE_ROLES = (Role.STATION_STAFF, Role.GRID_MANAGER)


def may_manage_users(user) -> bool:
    roles = roles_of(user)
    return user.is_active and (Role.COMPANY_ADMIN in roles or Role.COUNTY_ADMIN in roles)


def _county_ids(actor) -> frozenset[int] | None:
    """The counties whose users `actor` manages; None for all (a company admin)."""
    territory = territory_of(actor)
    if territory.everything:
        return None
    return territory.county_ids


def _in_counties(county_ids) -> Q:
    """Role assignments lying in `county_ids`."""
    return (Q(county_id__in=county_ids) | Q(station__county_id__in=county_ids)
            | Q(grid__station__county_id__in=county_ids))


def users_for(actor) -> QuerySet:
    """The users `actor` sees on the users page: those holding a role in their counties."""
    if not may_manage_users(actor):
        return User.objects.none()
    county_ids = _county_ids(actor)
    users = User.objects.all()
    if county_ids is not None:
        users = users.filter(pk__in=RoleAssignment.objects.filter(_in_counties(county_ids)).values("user_id"))
    return users.order_by("username")


def can_change(actor, user) -> bool:
    """True when every role of `user` lies in `actor`'s counties (and `user` is not `actor`)."""
    if not may_manage_users(actor) or user.pk == actor.pk:
        return False
    county_ids = _county_ids(actor)
    if county_ids is None:
        return True
    if user.is_superuser:
        return False
    return not RoleAssignment.objects.filter(user=user).exclude(_in_counties(county_ids)).exists()


def _changeable(actor, user_id: int):
    user = users_for(actor).filter(pk=user_id).first()
    if user is None:
        # A user with no role left (created here, roles since taken) stays the creator's to manage.
        user = User.objects.filter(pk=user_id, role_assignments__isnull=True, is_superuser=False).first()
        if user is None or _county_ids(actor) is not None and not _created_by(actor, user):
            raise PermissionDenied
    if not can_change(actor, user):
        raise PermissionDenied
    return user


def _created_by(actor, user) -> bool:
    from zhoukou_grid.core.models import AuditLog

    return AuditLog.objects.filter(user=actor, action="user.created", object_id=str(user.pk)).exists()


def _check_territory(actor, role: str, station_id: int | None, grid_id: int | None) -> dict:
    """The assignment's territory, which must lie in `actor`'s counties."""
    county_ids = _county_ids(actor)
    if role not in ASSIGNABLE_ROLES:
        raise ValidationError({"role": _("Choose station staff or grid manager.")})
    if role == Role.STATION_STAFF:
        stations = Station.objects.filter(pk=station_id or 0)
        if county_ids is not None:
            stations = stations.filter(county_id__in=county_ids)
        if not stations.exists():
            raise ValidationError({"station": _("Choose a station of your county.")})
        return {"station_id": station_id}
    grids = Grid.objects.filter(pk=grid_id or 0)
    if county_ids is not None:
        grids = grids.filter(station__county_id__in=county_ids)
    if not grids.exists():
        raise ValidationError({"grid": _("Choose a grid of your county.")})
    return {"grid_id": grid_id}


@transaction.atomic
def user_create(*, actor, username: str, full_name: str, phone: str, password: str, role: str,
                station_id: int | None = None, grid_id: int | None = None):
    """A new user with one role in `actor`'s county."""
    if not may_manage_users(actor):
        raise PermissionDenied
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This login name is taken; choose another.")})
    territory = _check_territory(actor, role, station_id, grid_id)
    user = User(username=username, first_name=full_name.strip())
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    user.set_password(password)
    user.save()
    UserProfile.objects.create(user=user, phone=phone.strip())
    RoleAssignment.objects.create(user=user, role=role, **territory)
    audit_record(user=actor, action="user.created", object_type="user", object_id=user.pk,
                 detail={"role": role, **territory})
    return user


@transaction.atomic
def user_update(*, actor, user_id: int, full_name: str, phone: str):
    """The name and work phone customers see."""
    user = _changeable(actor, user_id)
    user.first_name, user.last_name = full_name.strip(), ""
    user.save(update_fields=["first_name", "last_name"])
    UserProfile.objects.update_or_create(user=user, defaults={"phone": phone.strip()})
    audit_record(user=actor, action="user.changed", object_type="user", object_id=user.pk,
                 detail={"fields": ["name", "phone"]})
    return user


@transaction.atomic
def user_set_active(*, actor, user_id: int, active: bool):
    """Deactivate (every session ends with it) or reactivate a user."""
    user = _changeable(actor, user_id)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit_record(user=actor, action="user.activated" if active else "user.deactivated", object_type="user",
                 object_id=user.pk)
    if not active:
        user_sessions_end(user=user, actor=actor, reason="deactivated")
    return user


@transaction.atomic
def user_role_assign(*, actor, user_id: int, role: str, station_id: int | None = None, grid_id: int | None = None):
    user = _changeable(actor, user_id)
    territory = _check_territory(actor, role, station_id, grid_id)
    assignment, created = RoleAssignment.objects.get_or_create(user=user, role=role, **territory)
    if created:
        audit_record(user=actor, action="role.assigned", object_type="user", object_id=user.pk,
                     detail={"role": role, **territory})
    return assignment


@transaction.atomic
def user_role_remove(*, actor, user_id: int, assignment_id: int) -> None:
    user = _changeable(actor, user_id)
    assignment = RoleAssignment.objects.filter(pk=assignment_id, user=user).first()
    if assignment is None:
        raise PermissionDenied
    detail = {"role": assignment.role, "station_id": assignment.station_id, "grid_id": assignment.grid_id}
    assignment.delete()
    audit_record(user=actor, action="role.removed", object_type="user", object_id=user.pk, detail=detail)


@transaction.atomic
def user_sign_out_everywhere(*, actor, user_id: int) -> int:
    """A lost phone: end every session of the user and delete their API token (audited)."""
    user = _changeable(actor, user_id)
    return user_sessions_end(user=user, actor=actor, reason="lost_phone")
