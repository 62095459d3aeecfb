"""/api/v1/keycustomers/: scoped like the pages, phones masked, plans drafted and approved."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers.models import KeyCustomer, ServicePlan
from customers.services import plan_approve, plan_draft
from tests.factories import KeyCustomerFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

LIST = "/api/v1/keycustomers/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def customer(world):
    return KeyCustomerFactory(grid=world.grids["a1"].grid, account_no="4127000001", name="朱口卫生院",
                              category="hospital", contact_phone="13812345678", contact_24h_phone="0394-5512345")


def test_the_list_is_scoped_and_phones_are_masked(grid_manager, customer, world):
    KeyCustomerFactory(grid=world.grids["b1"].grid, account_no="4128000001")
    body = api(grid_manager).get(LIST).json()
    assert [row["account_no"] for row in body["results"]] == ["4127000001"]
    row = body["results"][0]
    assert row["contact_phone"] == "138****5678" and row["contact_24h_phone"] == "0394****345"
    assert row["grid"] == world.grids["a1"].grid.code


def test_filters_by_category_and_search(county_admin, customer, world):
    KeyCustomerFactory(grid=world.grids["a2"].grid, account_no="4127000002", category="water", name="水厂")
    client = api(county_admin)
    assert [r["account_no"] for r in client.get(LIST, {"category": "water"}).json()["results"]] == ["4127000002"]
    assert [r["account_no"] for r in client.get(LIST, {"q": "卫生院"}).json()["results"]] == ["4127000001"]


def test_the_list_costs_the_same_queries_for_any_number_of_customers(county_admin, world):
    client = api(county_admin)
    KeyCustomerFactory(grid=world.grids["a1"].grid)
    client.get(LIST)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return len(queries)

    one = count()
    for index in range(15):
        KeyCustomerFactory(grid=world.grids["a1" if index % 2 else "a3"].grid, village=world.grids["a3"].village
                           if index % 2 == 0 else None)
    assert count() == one


def test_an_outsider_gets_404(outsider, customer):
    client = api(outsider)
    assert client.get(f"{LIST}{customer.pk}/").status_code == 404
    assert client.get(f"{LIST}{customer.pk}/plans/").status_code == 404
    assert client.post(f"{LIST}{customer.pk}/plans/draft/", {"needs": "x"}, format="json").status_code == 404
    assert client.patch(f"{LIST}{customer.pk}/", {"name": "x"}, format="json").status_code == 404


def test_a_grid_manager_creates_and_updates_in_their_grid(grid_manager, world):
    client = api(grid_manager)
    a1 = world.grids["a1"]
    response = client.post(LIST, {
        "account_no": "4127000050", "name": "朱口养老院", "category": "nursing_home", "grid": a1.grid.code,
        "village": a1.village.code, "contact_phone": "138 1234 5678", "supply": "single", "backup_kw": 20,
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["contact_phone"] == "138****5678"
    customer = KeyCustomer.objects.get(account_no="4127000050")
    assert customer.contact_phone == "13812345678"
    assert AuditLog.objects.filter(action="keycustomer.created", object_id=str(customer.pk)).exists()
    response = client.patch(f"{LIST}{customer.pk}/", {"backup_kw": 45}, format="json")
    assert response.status_code == 200 and response.json()["backup_kw"] == 45


def test_a_grid_manager_cannot_create_in_another_grid(grid_manager, world):
    response = api(grid_manager).post(LIST, {
        "account_no": "4127000051", "name": "别处", "category": "business", "grid": world.grids["a2"].grid.code,
    }, format="json")
    assert response.status_code == 400 and "grid" in response.json()
    assert not KeyCustomer.objects.filter(account_no="4127000051").exists()


def test_deleting_is_not_offered(county_admin, customer):
    assert api(county_admin).delete(f"{LIST}{customer.pk}/").status_code == 405


def test_draft_then_approve_by_station_staff_not_by_the_grid_manager(grid_manager, station_staff, customer):
    gm = api(grid_manager)
    response = gm.post(f"{LIST}{customer.pk}/plans/draft/", {
        "needs": "发热门诊不能停电", "hazards": [{"hazard": "UPS电池老化", "remedy": "更换电池", "deadline": "2027-01-20"}],
        "responsible": grid_manager.pk, "cadence": "monthly", "festival_cadence": "weekly",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1 and response.json()["hazards"][0]["deadline"] == "2027-01-20"
    assert gm.post(f"{LIST}{customer.pk}/plans/approve/", {"version": 1}, format="json").status_code == 403
    staff = api(station_staff)
    assert staff.post(f"{LIST}{customer.pk}/plans/approve/", {"version": 9}, format="json").status_code == 400
    response = staff.post(f"{LIST}{customer.pk}/plans/approve/", {"version": 1}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert response.json()["approved_by"] == station_staff.username


def test_a_hazard_without_remedy_is_refused(grid_manager, customer):
    response = api(grid_manager).post(f"{LIST}{customer.pk}/plans/draft/",
                                      {"hazards": [{"hazard": "线路老化"}]}, format="json")
    assert response.status_code == 400
    assert not ServicePlan.objects.exists()


def test_the_versions_are_listed_newest_first(grid_manager, station_staff, customer):
    first = plan_draft(user=grid_manager, customer_id=customer.pk, needs="a")
    plan_approve(user=station_staff, plan_id=first.pk)
    plan_draft(user=grid_manager, customer_id=customer.pk, needs="b", change_note="走访后修订")
    body = api(grid_manager).get(f"{LIST}{customer.pk}/plans/").json()
    assert [(p["version"], p["status"], p["needs"]) for p in body] == [(2, "draft", "b"), (1, "approved", "a")]
    assert body[0]["change_note"] == "走访后修订"


def test_sending_back_the_masked_phones_keeps_the_numbers(grid_manager, customer):
    client = api(grid_manager)
    body = client.get(f"{LIST}{customer.pk}/").json()
    body["name"] = "朱口中心卫生院"
    response = client.put(f"{LIST}{customer.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.name, customer.contact_phone, customer.contact_24h_phone) == (
        "朱口中心卫生院", "13812345678", "0394-5512345")
    response = client.patch(f"{LIST}{customer.pk}/", {"contact_24h_phone": "0394****999"}, format="json")
    assert response.status_code == 400
