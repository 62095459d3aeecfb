"""Permissions come from the roles alone and cost no query once the roles are known; the
password login (ModelBackend) still works; roles and territory share one query."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhoukou_grid.core.scoping import primary_role, roles_of, territory_of


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def test_granted_and_refused_permissions_cost_no_query_after_the_roles(personas):
    user = _fresh(personas.grid_manager)
    roles_of(user)
    with CaptureQueriesContext(connection) as captured:
        assert user.has_perm("visits.view_visit")
        assert not user.has_perm("zhoukou_grid.change_transformer")
        assert not user.has_perm("auth.add_user")
        assert user.has_module_perms("visits")
        assert not user.has_module_perms("auth")
    assert len(captured) == 0, [query["sql"] for query in captured.captured_queries]


def test_a_permission_row_of_the_user_grants_nothing(personas):
    user = personas.grid_manager
    user.user_permissions.add(Permission.objects.get(codename="change_transformer"))
    assert not _fresh(user).has_perm("zhoukou_grid.change_transformer")


def test_roles_and_territory_take_one_query(personas):
    user = _fresh(personas.station_staff)
    with CaptureQueriesContext(connection) as captured:
        primary_role(user)
        territory = territory_of(user)
    # The role assignments once, then the station's county (context of the territory).
    assert len(captured) == 2, [query["sql"] for query in captured.captured_queries]
    assert territory.station_ids


def test_the_password_login_still_works(personas, rf):
    user = personas.grid_manager
    user.set_password("a-long-test-password-1")
    user.save()
    request = rf.post("/accounts/login/")
    assert authenticate(request, username=user.username, password="a-long-test-password-1") == user
    assert authenticate(rf.post("/accounts/login/"), username=user.username, password="wrong") is None
