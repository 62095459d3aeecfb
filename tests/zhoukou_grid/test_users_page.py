"""County admins manage the users of their own county on a page outside the Django admin:
list, create, deactivate, roles within the county, sign a lost phone out; every change audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.factories import RoleAssignmentFactory
from zhoukou_grid.core.models import AuditLog, LoginSession
from zhoukou_grid.territory.models import Role, RoleAssignment, UserProfile

User = get_user_model()


def login(client, user):
    client.force_login(user)
    return client


def test_a_county_admin_lists_the_users_of_their_county_only(client, world, county_admin, station_staff, grid_manager,
                                                             outsider):
    page = login(client, county_admin).get(reverse("users:list"))
    assert page.status_code == 200
    names = {row["user"].username for row in page.context["rows"]}
    assert {"station_staff", "grid_manager"} <= names and "outsider" not in names
    assert client.get(reverse("users:detail", args=[outsider.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["station_staff", "grid_manager", "nobody"])
def test_only_administrators_reach_the_users_page(client, personas, persona):
    assert login(client, getattr(personas, persona)).get(reverse("users:list")).status_code == 403


def test_a_county_admin_creates_a_grid_manager_of_their_county(client, world, county_admin):
    response = login(client, county_admin).post(reverse("users:create"), {
        "username": "zhangwei", "full_name": "张伟", "phone": "13912345678", "password": "Zk-grid-2027!x",
        "role": Role.GRID_MANAGER, "grid": world.grids["a2"].grid.pk})
    user = User.objects.get(username="zhangwei")
    assert response.status_code == 302
    assert RoleAssignment.objects.get(user=user).grid_id == world.grids["a2"].grid.pk
    assert UserProfile.objects.get(user=user).phone == "13912345678"
    assert AuditLog.objects.filter(action="user.created", object_id=str(user.pk), user=county_admin).exists()


def test_roles_are_given_only_within_the_county(client, world, county_admin):
    response = login(client, county_admin).post(reverse("users:create"), {
        "username": "lisi", "full_name": "李四", "phone": "", "password": "Zk-grid-2027!x",
        "role": Role.GRID_MANAGER, "grid": world.grids["b1"].grid.pk})
    assert response.status_code == 400 and not User.objects.filter(username="lisi").exists()


def test_deactivate_assign_remove_and_sign_out_everywhere_are_audited(client, world, county_admin, grid_manager):
    phone = login(Client(), grid_manager)
    assert phone.get(reverse("home")).status_code == 200
    assert LoginSession.objects.filter(user=grid_manager).exists()
    url = reverse("users:detail", args=[grid_manager.pk])
    login(client, county_admin)
    client.post(url, {"action": "sign_out"})
    assert not LoginSession.objects.filter(user=grid_manager).exists()
    assert phone.get(reverse("home")).status_code == 302  # the lost phone is signed out
    client.post(url, {"action": "role_add", "role": Role.STATION_STAFF, "station": world.station_a2.pk})
    added = RoleAssignment.objects.get(user=grid_manager, role=Role.STATION_STAFF)
    client.post(url, {"action": "role_remove", "assignment": added.pk})
    assert not RoleAssignment.objects.filter(pk=added.pk).exists()
    client.post(url, {"action": "profile", "full_name": "张伟", "phone": "13800000001"})
    assert UserProfile.objects.get(user=grid_manager).phone == "13800000001"
    client.post(url, {"action": "deactivate"})
    grid_manager.refresh_from_db()
    assert not grid_manager.is_active
    actions = set(AuditLog.objects.filter(user=county_admin, object_id=str(grid_manager.pk))
                  .values_list("action", flat=True))
    assert {"sessions.ended", "role.assigned", "role.removed", "user.changed", "user.deactivated"} <= actions
    assert Session.objects.count() >= 1  # the admin's own session stays


def test_a_user_with_a_role_in_another_county_is_listed_but_not_changed(client, world, county_admin, grid_manager):
    RoleAssignmentFactory(user=grid_manager, role=Role.GRID_MANAGER, grid=world.grids["b1"].grid)
    login(client, county_admin)
    url = reverse("users:detail", args=[grid_manager.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"action": "deactivate"}).status_code == 403
    grid_manager.refresh_from_db()
    assert grid_manager.is_active


def test_the_navigation_of_a_county_admin_leads_to_the_users_page(client, county_admin):
    assert reverse("users:list") in login(client, county_admin).get(reverse("home")).content.decode()
