"""The one place that decides what a user may see, branch by branch."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from customers.models import Household
from tests.factories import RoleAssignmentFactory, UserFactory
from zhoukou_grid.core.scoping import (
    for_user,
    get_for_user_or_404,
    get_writable_or_404,
    require_perm,
    writable_for_user,
)
from zhoukou_grid.territory.models import County, Grid, LVLine, Role, Station, Transformer, Village

pytestmark = pytest.mark.django_db


def codes(qs):
    return set(qs.values_list("code", flat=True))


def test_company_admin_sees_everything(personas, world):
    assert codes(for_user(personas.company_admin, Grid)) == {"JA-WG-01", "JA-WG-02", "JA-WG-03", "YI-WG-01"}
    assert for_user(personas.company_admin, Household).count() == 8


def test_superuser_without_roles_sees_everything(world):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    assert for_user(root, Transformer).count() == 4


def test_county_admin_sees_their_county_only(personas, world):
    user = personas.county_admin
    assert codes(for_user(user, County)) == {"411601"}
    assert codes(for_user(user, Station)) == {"JA-GDS-01", "JA-GDS-02"}
    assert codes(for_user(user, Grid)) == {"JA-WG-01", "JA-WG-02", "JA-WG-03"}
    assert for_user(user, Household).count() == 6
    assert world.grids["b1"].transformer not in for_user(user, Transformer)


def test_station_staff_see_their_station_and_its_county_as_context(personas, world):
    user = personas.station_staff
    assert codes(for_user(user, Station)) == {"JA-GDS-01"}
    assert codes(for_user(user, County)) == {"411601"}
    assert codes(for_user(user, Grid)) == {"JA-WG-01", "JA-WG-02"}
    assert for_user(user, LVLine).count() == 2
    assert codes(writable_for_user(user, County)) == set()


def test_grid_manager_sees_only_their_grid(personas, world):
    user = personas.grid_manager
    assert codes(for_user(user, Grid)) == {"JA-WG-01"}
    assert codes(for_user(user, Village)) == {world.grids["a1"].village.code}
    assert codes(for_user(user, Transformer)) == {world.grids["a1"].transformer.code}
    assert set(for_user(user, Household).values_list("pk", flat=True)) == {h.pk for h in world.grids["a1"].households}
    # The station and county of their grid are visible as context, not as territory.
    assert codes(for_user(user, Station)) == {"JA-GDS-01"}
    assert codes(writable_for_user(user, Station)) == set()


def test_user_with_several_territories_sees_their_union(world):
    user = UserFactory(username="two_grids")
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["b1"].grid)
    assert codes(for_user(user, Grid)) == {"JA-WG-01", "YI-WG-01"}


def test_user_without_role_sees_nothing(personas):
    for model in (County, Station, Grid, Village, Transformer, LVLine, Household):
        assert not for_user(personas.nobody, model).exists()


def test_inactive_user_sees_nothing(personas):
    personas.grid_manager.is_active = False
    assert not for_user(personas.grid_manager, Grid).exists()


def test_object_outside_territory_is_a_404_like_a_missing_one(personas, world):
    other = world.grids["b1"].transformer
    with pytest.raises(Http404):
        get_for_user_or_404(personas.grid_manager, Transformer, pk=other.pk)
    with pytest.raises(Http404):
        get_for_user_or_404(personas.grid_manager, Transformer, pk=10**9)
    mine = world.grids["a1"].transformer
    assert get_for_user_or_404(personas.grid_manager, Transformer, pk=mine.pk) == mine


# --- get_writable_or_404: the object a service is about to change -----------------------
def test_writable_object_inside_the_territory_is_returned(personas, world):
    mine = world.grids["a1"].transformer
    assert get_writable_or_404(personas.grid_manager, Transformer, pk=mine.pk) == mine
    assert get_writable_or_404(personas.station_staff, Station, pk=world.station_a1.pk) == world.station_a1
    # A queryset narrows further and keeps its own shape.
    village = get_writable_or_404(personas.grid_manager, Village.objects.only("grid"), pk=world.grids["a1"].village.pk)
    assert village.grid_id == world.grids["a1"].grid.pk


def test_a_context_ancestor_is_visible_but_not_writable(personas, world):
    # The grid manager sees their grid's station and county, but may change neither.
    assert get_for_user_or_404(personas.grid_manager, Station, pk=world.station_a1.pk) == world.station_a1
    with pytest.raises(Http404):
        get_writable_or_404(personas.grid_manager, Station, pk=world.station_a1.pk)
    with pytest.raises(Http404):
        get_writable_or_404(personas.station_staff, County, pk=world.county_a.pk)


def test_writable_object_outside_the_territory_is_a_404_like_a_missing_one(personas, world):
    with pytest.raises(Http404):
        get_writable_or_404(personas.grid_manager, Transformer, pk=world.grids["b1"].transformer.pk)
    with pytest.raises(Http404):
        get_writable_or_404(personas.grid_manager, Transformer, pk=10**9)
    with pytest.raises(Http404):
        get_writable_or_404(personas.nobody, Transformer, pk=world.grids["a1"].transformer.pk)


def test_writable_object_is_locked_only_when_asked(personas, world):
    pk = world.grids["a1"].transformer.pk
    with CaptureQueriesContext(connection) as plain:
        get_writable_or_404(personas.grid_manager, Transformer, pk=pk)
    with CaptureQueriesContext(connection) as locked:
        get_writable_or_404(personas.grid_manager, Transformer, pk=pk, lock=True)
    assert not any("FOR UPDATE" in q["sql"] for q in plain.captured_queries)
    if connection.features.has_select_for_update:
        assert any("FOR UPDATE" in q["sql"] for q in locked.captured_queries)


def test_require_perm_refuses_a_missing_verb_and_no_user(personas):
    require_perm(personas.county_admin, "zhoukou_grid.change_transformer")
    with pytest.raises(PermissionDenied):
        require_perm(personas.grid_manager, "zhoukou_grid.change_transformer")
    with pytest.raises(PermissionDenied):
        require_perm(None, "zhoukou_grid.view_grid")


def test_verbs_follow_roles(personas):
    assert personas.county_admin.has_perm("zhoukou_grid.change_transformer")
    assert personas.county_admin.has_perm("zhoukou_grid.add_importjob")
    assert personas.grid_manager.has_perm("zhoukou_grid.view_transformer")
    assert not personas.grid_manager.has_perm("zhoukou_grid.change_transformer")
    assert not personas.station_staff.has_perm("zhoukou_grid.add_importjob")
    assert not personas.nobody.has_perm("zhoukou_grid.view_grid")
    assert personas.company_admin.has_perm("zhoukou_grid.add_county")
    assert not personas.county_admin.has_perm("zhoukou_grid.add_county")


# --- The village clerk: one village ------------------------------------------------------
def test_village_clerk_sees_their_village_and_its_residents_only(world, village_clerk, clerk_village):
    from customers.models import ReturningResident
    from tests.factories import HouseholdFactory, ReturningResidentFactory

    own_household = HouseholdFactory(village=clerk_village, transformer=world.grids["a1"].transformer)
    own = ReturningResidentFactory(village=clerk_village)
    ReturningResidentFactory(village=world.grids["a1"].village)  # same grid, another village
    assert codes(for_user(village_clerk, Village)) == {clerk_village.code}
    assert set(for_user(village_clerk, Household)) == {own_household}
    assert set(for_user(village_clerk, ReturningResident)) == {own}
    assert set(writable_for_user(village_clerk, ReturningResident)) == {own}


def test_village_clerk_sees_no_model_without_a_village_path(world, village_clerk):
    """No context above the village: not its grid, station or county, nor the network."""
    for model in (County, Station, Grid, Transformer, LVLine):
        assert not for_user(village_clerk, model).exists(), model


def test_village_clerk_territory_is_not_empty_and_counts_for_the_audit_county(world, village_clerk, clerk_village):
    from zhoukou_grid.core.audit import county_of
    from zhoukou_grid.core.scoping import primary_role, territory_of

    territory = territory_of(village_clerk)
    assert territory.village_ids == frozenset({clerk_village.pk}) and not territory.is_empty
    assert territory.grid_ids == territory.context_station_ids == frozenset()
    assert primary_role(village_clerk) == Role.VILLAGE_CLERK
    assert county_of(village_clerk) == world.county_a.pk


def test_village_clerk_outside_the_village_is_a_404(world, village_clerk):
    with pytest.raises(Http404):
        get_for_user_or_404(village_clerk, Village, pk=world.grids["a1"].village.pk)


def test_a_village_role_assignment_must_name_a_village_and_only_that(world):
    from django.db import IntegrityError, transaction

    user = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignmentFactory(user=user, role=Role.VILLAGE_CLERK, grid=world.grids["a1"].grid)
    with pytest.raises(IntegrityError), transaction.atomic():
        RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid,
                              village=world.grids["a1"].village)
    RoleAssignmentFactory(user=user, role=Role.VILLAGE_CLERK, village=world.grids["a1"].village)


def test_village_clerk_verbs_are_the_list_only(village_clerk):
    assert village_clerk.has_perm("customers.add_returningresident")
    assert village_clerk.has_perm("customers.change_returningresident")
    for perm in ("customers.view_household", "customers.view_personal_data", "zhoukou_grid.view_grid",
                 "zhoukou_grid.view_village", "customers.view_returningresident",
                 "customers.delete_returningresident", "customers.view_keycustomer"):
        assert not village_clerk.has_perm(perm), perm
