"""The one place that decides which rows a user may see.

Every page, export, import and API call starts from `for_user(user, Model)`. A role
assignment gives full access to one territory (a county, a station, a grid or a village)
and everything below it. A village clerk's territory is one village: only models that
declare a `village` path (the village itself, its households and residents) show them
anything; grids, assets, alerts and visits declare none and stay empty for them. Models above the user's territory (the station and county that
contain a grid manager's grid) are visible as context, never their other children.

Roles and their verbs (Django permissions) are in `ROLE_PERMISSIONS`, granted by
`RolePermissionBackend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from zhoukou_grid.territory.models import County, Grid, Role, RoleAssignment, Station


@dataclass(frozen=True)
class Territory:
    """What one user may see, as sets of primary keys."""

    everything: bool = False
    county_ids: frozenset[int] = field(default_factory=frozenset)
    station_ids: frozenset[int] = field(default_factory=frozenset)
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    village_ids: frozenset[int] = field(default_factory=frozenset)
    # Ancestors of the territory, visible for context only.
    context_county_ids: frozenset[int] = field(default_factory=frozenset)
    context_station_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.county_ids or self.station_ids or self.grid_ids or self.village_ids)


_CACHE_ATTR = "_zg_territory"
_ASSIGNMENTS_ATTR = "_zg_assignments"


def _assignments_of(user) -> list[tuple]:
    """The user's role assignments as (role, county_id, station_id, grid_id, village_id):
    one query per request, shared by `territory_of` and `roles_of` (cached on the user)."""
    cached = getattr(user, _ASSIGNMENTS_ATTR, None)
    if cached is None:
        cached = list(RoleAssignment.objects.filter(user=user).values_list(
            "role", "county_id", "station_id", "grid_id", "village_id"))
        setattr(user, _ASSIGNMENTS_ATTR, cached)
    return cached


def territory_of(user) -> Territory:
    """The territory of a user, computed once per request (cached on the user object)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Territory()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user.is_superuser:
        result = Territory(everything=True)
    else:
        assignments = _assignments_of(user)
        if any(role == Role.COMPANY_ADMIN for role, *_ in assignments):
            result = Territory(everything=True)
        else:
            county_ids = frozenset(c for role, c, s, g, v in assignments if role == Role.COUNTY_ADMIN and c)
            station_ids = frozenset(s for role, c, s, g, v in assignments if role == Role.STATION_STAFF and s)
            grid_ids = frozenset(g for role, c, s, g, v in assignments if role == Role.GRID_MANAGER and g)
            # No context for a clerk: a village committee sees its village, not the network above it.
            village_ids = frozenset(v for role, c, s, g, v in assignments if role == Role.VILLAGE_CLERK and v)
            context_station_ids = set(station_ids)
            context_county_ids = set(county_ids)
            if grid_ids:
                for station_id, county_id in Grid.objects.filter(pk__in=grid_ids).values_list(
                    "station_id", "station__county_id"
                ):
                    context_station_ids.add(station_id)
                    context_county_ids.add(county_id)
            if station_ids:
                context_county_ids.update(Station.objects.filter(pk__in=station_ids).values_list("county_id", flat=True))
            result = Territory(
                county_ids=county_ids,
                station_ids=station_ids,
                grid_ids=grid_ids,
                village_ids=village_ids,
                context_county_ids=frozenset(context_county_ids),
                context_station_ids=frozenset(context_station_ids),
            )
    setattr(user, _CACHE_ATTR, result)
    return result


def territory_q(model: type[Model], territory: Territory, *, include_context: bool = True) -> Q | None:
    """The filter for `model` within `territory`; None means no filter (everything)."""
    if territory.everything:
        return None
    paths: dict[str, str] = getattr(model, "territory_paths", None) or {}
    if not paths:
        raise TypeError(f"{model.__name__} declares no territory_paths and cannot be scoped")
    q = Q(pk__in=[])
    if territory.county_ids and "county" in paths:
        q |= Q(**{f"{paths['county']}__in": territory.county_ids})
    if territory.station_ids and "station" in paths:
        q |= Q(**{f"{paths['station']}__in": territory.station_ids})
    if territory.grid_ids and "grid" in paths:
        q |= Q(**{f"{paths['grid']}__in": territory.grid_ids})
    if territory.village_ids and "village" in paths:
        q |= Q(**{f"{paths['village']}__in": territory.village_ids})
    if include_context:
        if model is County and territory.context_county_ids:
            q |= Q(pk__in=territory.context_county_ids)
        if model is Station and territory.context_station_ids:
            q |= Q(pk__in=territory.context_station_ids)
    return q


def for_user(user, model_or_queryset: type[Model] | QuerySet, *, include_context: bool = True) -> QuerySet:
    """The rows of a model (or a queryset of it) that `user` may see."""
    if isinstance(model_or_queryset, QuerySet):
        queryset, model = model_or_queryset, model_or_queryset.model
    else:
        model = model_or_queryset
        queryset = model._default_manager.all()
    territory = territory_of(user)
    if territory.is_empty:
        return queryset.none()
    q = territory_q(model, territory, include_context=include_context)
    return queryset if q is None else queryset.filter(q)


def get_for_user_or_404(user, model_or_queryset, **lookup):
    """One object inside the user's territory; outside it answers exactly like a missing one."""
    try:
        return for_user(user, model_or_queryset).get(**lookup)
    except (model_or_queryset if isinstance(model_or_queryset, type) else model_or_queryset.model).DoesNotExist:
        raise Http404 from None


def writable_for_user(user, model_or_queryset: type[Model] | QuerySet) -> QuerySet:
    """Rows the user may change: their own territory, never the ancestors seen as context."""
    return for_user(user, model_or_queryset, include_context=False)


def get_writable_or_404(user, model_or_queryset: type[Model] | QuerySet, *, lock: bool = False, **lookup):
    """One object the user may change, for a service about to change it.

    Outside the user's own territory, including an ancestor they only see as context (the
    station of a grid manager's grid), answers Http404 exactly like a missing object, so
    ids cannot be probed. `lock` takes the row lock (select_for_update) for the rest of the
    transaction.
    """
    queryset = writable_for_user(user, model_or_queryset)
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def require_perm(user, perm: str) -> None:
    """PermissionDenied unless `user` holds the verb `perm` (checked before any lookup)."""
    if user is None or not user.has_perm(perm):
        raise PermissionDenied


def roles_of(user) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    cached = getattr(user, "_zg_roles", None)
    if cached is None:
        cached = {role for role, *_territory in _assignments_of(user)}
        if user.is_superuser:
            cached.add(Role.COMPANY_ADMIN)
        user._zg_roles = cached
    return cached


# Roles that work in the web pages only: a village clerk keeps one list on a phone, and the
# API's answers name the grid and station above the village (serializers are shared by all roles).
WEB_ONLY_ROLES = frozenset({Role.VILLAGE_CLERK})


def may_use_api(user) -> bool:
    """Whether `user` holds a role that may call the API (not only web-only roles)."""
    return bool(user is not None and user.is_authenticated
                and (user.is_superuser or roles_of(user) - WEB_ONLY_ROLES))


def primary_role(user) -> str | None:
    """The broadest role a user holds: it chooses their home page and navigation."""
    roles = roles_of(user)
    for role in (Role.COMPANY_ADMIN, Role.COUNTY_ADMIN, Role.STATION_STAFF, Role.GRID_MANAGER, Role.VILLAGE_CLERK):
        if role in roles:
            return role
    return None


# --- Verbs --------------------------------------------------------------------------
_TERRITORY = ["county", "station", "grid", "village"]
_ASSETS = ["transformer", "lvline"]


def _perms(app: str, models: list[str], verbs: list[str]) -> set[str]:
    return {f"{app}.{verb}_{model}" for model in models for verb in verbs}


_VIEW_ALL = _perms("zhoukou_grid", _TERRITORY + _ASSETS, ["view"])
_MANAGE_ASSETS = (
    _perms("zhoukou_grid", ["station", "grid", "village"] + _ASSETS, ["add", "change", "delete"])
    | {"zhoukou_grid.view_importjob", "zhoukou_grid.add_importjob", "zhoukou_grid.view_auditlog"}
    # Webhooks of the stations' and grids' group chats (zhoukou_grid/core/webhooks.py).
    | {"zhoukou_grid.view_webhook", "zhoukou_grid.add_webhook", "zhoukou_grid.change_webhook"}
    | {"zhoukou_grid.view_roleassignment", "zhoukou_grid.add_roleassignment", "zhoukou_grid.change_roleassignment",
       "zhoukou_grid.delete_roleassignment"}
)

# Each app adds its own verbs to these sets from its AppConfig.ready().
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.GRID_MANAGER: set(_VIEW_ALL),
    # The village's returning list only (customers adds its verbs); no territory or network
    # pages, which would name the grid and station above the village.
    Role.VILLAGE_CLERK: set(),
    Role.STATION_STAFF: set(_VIEW_ALL),
    Role.COUNTY_ADMIN: _VIEW_ALL | _MANAGE_ASSETS,
    Role.COMPANY_ADMIN: _VIEW_ALL
    | _MANAGE_ASSETS
    | _perms("zhoukou_grid", ["county"], ["add", "change", "delete"])
    | {"auth.view_user", "auth.add_user", "auth.change_user"},
}


class RolePermissionBackend(BaseBackend):
    """Grants each user the verbs of the roles they hold (no per-user permission rows)."""

    def get_user(self, user_id):
        # Listed before ModelBackend, this backend is the one `Client.force_login` and the
        # like record in a session: it loads the user as ModelBackend does.
        return ModelBackend().get_user(user_id)

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cached = getattr(user_obj, "_zg_role_perms", None)
        if cached is None:
            cached = set()
            for role in roles_of(user_obj):
                cached |= ROLE_PERMISSIONS.get(role, set())
            user_obj._zg_role_perms = cached
        return cached

    # A verb the roles do not grant is refused here: raising PermissionDenied ends Django's
    # walk through the backends, so ModelBackend (listed after this one, for the password
    # login) never reads its permission tables: two queries a page saved, and no permission
    # can come from user or group rows the portal does not use.
    def has_perm(self, user_obj, perm, obj=None):
        if perm in self.get_all_permissions(user_obj, obj):
            return True
        raise PermissionDenied

    def has_module_perms(self, user_obj, app_label):
        if any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj)):
            return True
        raise PermissionDenied
