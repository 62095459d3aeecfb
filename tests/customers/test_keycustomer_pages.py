"""Key-customer pages per persona: the file, the plan editor, approval, history with diff, the sheet."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from customers.models import KeyCustomer, ServicePlan
from customers.services import plan_approve, plan_draft
from tests.factories import KeyCustomerFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    """A logged-in client reading English pages (the assertions name English msgids)."""
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def customer(world):
    a1 = world.grids["a1"]
    return KeyCustomerFactory(
        grid=a1.grid, village=a1.village, transformer=a1.transformer, name="朱口镇中心小学",
        account_no="4127000001", category="school", importance="second", contact_name="李校长",
        contact_phone="13812345678", contact_24h_name="门卫王师傅", contact_24h_phone="13987654321",
        supply="dual", feeder="10kV朱口线", backup_kw=60, main_loads="教学楼照明、食堂电炊具",
        seasonal_needs="寒假值班取暖",
    )


@pytest.fixture
def approved_plan(customer, grid_manager, station_staff):
    plan = plan_draft(
        user=grid_manager, customer_id=customer.pk, needs="寒假期间食堂停用", measures="节前检查双电源切换",
        hazards=[{"hazard": "配电室门锁损坏", "remedy": "更换门锁"}, {"hazard": "电缆沟积水", "remedy": "清理排水"}],
        responsible_id=grid_manager.pk, responsible_phone="13700001111", cadence="monthly",
        festival_cadence="weekly", agenda="1月20日检查发电机",
    )
    return plan_approve(user=station_staff, plan_id=plan.pk)


def hazards_post(items, *, initial=0):
    data = {"hazards-TOTAL_FORMS": str(len(items)), "hazards-INITIAL_FORMS": str(initial),
            "hazards-MIN_NUM_FORMS": "0", "hazards-MAX_NUM_FORMS": "50"}
    for index, item in enumerate(items):
        for key, value in item.items():
            data[f"hazards-{index}-{key}"] = value
    return data


def plan_post(**fields):
    data = {"needs": "", "risks": "", "measures": "", "responsible": "", "responsible_phone": "",
            "cadence": "monthly", "festival_cadence": "weekly", "agenda": "", "change_note": ""}
    data.update(fields)
    return data


class TestList:
    def test_a_grid_manager_sees_their_customers_with_the_plan_state(self, grid_manager, customer, approved_plan, world):
        KeyCustomerFactory(grid=world.grids["b1"].grid, name="乙县水厂", account_no="4128000001")
        response = client_for(grid_manager).get(reverse("customers:keycustomer_list"))
        text = response.content.decode()
        assert response.status_code == 200
        assert "朱口镇中心小学" in text and "乙县水厂" not in text
        assert "v1 approved" in text or "v1" in text

    def test_filters_and_search(self, county_admin, customer, world):
        KeyCustomerFactory(grid=world.grids["a2"].grid, name="甲二网格养老院", category="nursing_home",
                           account_no="4127000002")
        client = client_for(county_admin)
        url = reverse("customers:keycustomer_list")
        by_category = client.get(url, {"category": "nursing_home"}).content.decode()
        assert "甲二网格养老院" in by_category and "朱口镇中心小学" not in by_category
        by_account = client.get(url, {"q": "4127000001"}).content.decode()
        assert "朱口镇中心小学" in by_account and "甲二网格养老院" not in by_account
        by_grid = client.get(url, {"grid": world.grids["a2"].grid.pk}).content.decode()
        assert "甲二网格养老院" in by_grid and "朱口镇中心小学" not in by_grid
        by_supply = client.get(url, {"supply": "dual"}).content.decode()
        assert "朱口镇中心小学" in by_supply and "甲二网格养老院" not in by_supply

    def test_the_list_costs_the_same_queries_for_1_or_20_customers(self, county_admin, world,
                                                                   django_assert_num_queries, station_staff):
        client = client_for(county_admin)
        url = reverse("customers:keycustomer_list")
        KeyCustomerFactory(grid=world.grids["a1"].grid)
        client.get(url)  # sessions, content types warmed

        def count():
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            return len(queries)

        one = count()
        for index in range(19):
            customer = KeyCustomerFactory(grid=world.grids["a1" if index % 2 else "a3"].grid)
            if index % 3 == 0:
                ServicePlan.objects.create(customer=customer, version=1, status="approved")
        assert count() == one
        assert one <= 12


class TestFile:
    def test_the_detail_shows_the_file_with_masked_phones(self, grid_manager, customer, approved_plan):
        response = client_for(grid_manager).get(reverse("customers:keycustomer_detail", args=[customer.pk]))
        text = response.content.decode()
        assert response.status_code == 200
        for expected in ("4127000001", "10kV朱口线", "60", "教学楼照明", "寒假值班取暖", "门卫王师傅",
                         "138****5678", "139****4321", "更换门锁"):
            assert expected in text, expected
        assert "13812345678" not in text and "13987654321" not in text

    def test_a_grid_manager_reveals_one_phone_and_the_reveal_is_audited(self, grid_manager, customer):
        url = reverse("customers:keycustomer_detail", args=[customer.pk])
        response = client_for(grid_manager).post(url, {"reveal": "contact_24h_phone"})
        text = response.content.decode()
        assert response.status_code == 200
        assert "13987654321" in text and "13812345678" not in text and "138****5678" in text
        audit = AuditLog.objects.get(action="keycustomer.revealed")
        assert audit.user == grid_manager and audit.detail == {"field": "contact_24h_phone"}
        assert "13987654321" not in str(audit.detail)

    def test_a_user_without_the_permission_cannot_reveal(self, grid_manager, customer, monkeypatch):
        from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
        from zhoukou_grid.territory.models import Role

        monkeypatch.setitem(ROLE_PERMISSIONS, Role.GRID_MANAGER,
                            ROLE_PERMISSIONS[Role.GRID_MANAGER] - {"customers.view_personal_data"})
        url = reverse("customers:keycustomer_detail", args=[customer.pk])
        client = client_for(grid_manager)
        assert "Show number" not in client.get(url).content.decode()
        assert client.post(url, {"reveal": "contact_phone"}).status_code == 403
        assert not AuditLog.objects.filter(action="keycustomer.revealed").exists()

    def test_an_outsider_gets_404_for_every_page_of_the_customer(self, outsider, customer, approved_plan):
        client = client_for(outsider)
        for name in ("keycustomer_detail", "keycustomer_edit", "keycustomer_plan_edit", "keycustomer_plan_print",
                     "keycustomer_plan_history"):
            assert client.get(reverse(f"customers:{name}", args=[customer.pk])).status_code == 404, name
        assert client.get(reverse("customers:serviceplan_detail", args=[approved_plan.pk])).status_code == 404
        assert client.post(reverse("customers:keycustomer_detail", args=[customer.pk]),
                           {"reveal": "contact_phone"}).status_code == 404
        assert client.post(reverse("customers:keycustomer_plan_edit", args=[customer.pk]),
                           {**plan_post(needs="x"), **hazards_post([])}).status_code == 404

    def test_a_grid_manager_creates_a_customer_in_their_grid(self, grid_manager, world):
        a1 = world.grids["a1"]
        response = client_for(grid_manager).post(reverse("customers:keycustomer_create"), {
            "account_no": "4127000099", "name": "朱口自来水厂", "category": "water", "importance": "first",
            "grid": a1.grid.pk, "village": a1.village.pk, "transformer": a1.transformer.pk,
            "contact_phone": "+86 138-1234-0000", "supply": "single", "backup_kw": "30",
        })
        customer = KeyCustomer.objects.get(account_no="4127000099")
        assert response.status_code == 302 and response["Location"].endswith(f"/{customer.pk}/")
        assert customer.contact_phone == "13812340000" and customer.backup_kw == 30
        assert AuditLog.objects.filter(action="keycustomer.created", object_id=str(customer.pk)).exists()

    def test_a_grid_manager_cannot_create_in_another_grid(self, grid_manager, world):
        response = client_for(grid_manager).post(reverse("customers:keycustomer_create"), {
            "account_no": "4127000098", "name": "别的网格客户", "category": "business",
            "grid": world.grids["a2"].grid.pk, "supply": "single",
        })
        assert response.status_code == 400
        assert not KeyCustomer.objects.filter(account_no="4127000098").exists()

    def test_a_village_of_another_grid_is_refused(self, county_admin, world):
        response = client_for(county_admin).post(reverse("customers:keycustomer_create"), {
            "account_no": "4127000097", "name": "错村客户", "category": "business",
            "grid": world.grids["a1"].grid.pk, "village": world.grids["a2"].village.pk, "supply": "single",
        })
        assert response.status_code == 400
        assert "another grid" in response.content.decode()

    def test_a_grid_manager_edits_their_customer(self, grid_manager, customer):
        url = reverse("customers:keycustomer_edit", args=[customer.pk])
        client = client_for(grid_manager)
        assert client.get(url).status_code == 200
        response = client.post(url, {
            "account_no": customer.account_no, "name": customer.name, "category": "school", "importance": "first",
            "grid": customer.grid_id, "supply": "dual", "backup_kw": "80", "contact_phone": "13812345678",
        })
        assert response.status_code == 302
        customer.refresh_from_db()
        assert (customer.importance, customer.backup_kw) == ("first", 80)
        audit = AuditLog.objects.get(action="keycustomer.updated")
        assert "backup_kw" in audit.detail["fields"] and "13812345678" not in str(audit.detail)


class TestPlans:
    def test_a_grid_manager_drafts_with_hazards_and_cannot_approve(self, grid_manager, customer):
        client = client_for(grid_manager)
        url = reverse("customers:keycustomer_plan_edit", args=[customer.pk])
        assert client.get(url).status_code == 200
        response = client.post(url, {
            **plan_post(needs="寒假停课", measures="节前巡视", responsible=grid_manager.pk, cadence="monthly"),
            **hazards_post([{"hazard": "配电箱锈蚀", "remedy": "更换配电箱", "deadline": "2027-01-25"},
                            {"hazard": "", "remedy": ""}]),
        })
        plan = ServicePlan.objects.get(customer=customer)
        assert response.status_code == 302
        assert plan.status == "draft" and plan.hazards == [
            {"hazard": "配电箱锈蚀", "remedy": "更换配电箱", "deadline": "2027-01-25"}]
        page = client.get(reverse("customers:serviceplan_detail", args=[plan.pk])).content.decode()
        assert "Approve this version" not in page
        response = client.post(reverse("customers:serviceplan_detail", args=[plan.pk]), {"action": "approve"})
        assert response.status_code == 403
        plan.refresh_from_db()
        assert plan.status == "draft"

    def test_a_hazard_without_its_remedy_is_refused(self, grid_manager, customer):
        response = client_for(grid_manager).post(
            reverse("customers:keycustomer_plan_edit", args=[customer.pk]),
            {**plan_post(needs="x"), **hazards_post([{"hazard": "线路老化", "remedy": ""}])},
        )
        assert response.status_code == 400
        assert "Each hazard needs its own remedy" in response.content.decode()
        assert not ServicePlan.objects.exists()

    def test_station_staff_approve_a_draft(self, grid_manager, station_staff, customer):
        plan = plan_draft(user=grid_manager, customer_id=customer.pk, needs="x")
        client = client_for(station_staff)
        url = reverse("customers:serviceplan_detail", args=[plan.pk])
        assert "Approve this version" in client.get(url).content.decode()
        assert client.post(url, {"action": "approve"}).status_code == 302
        plan.refresh_from_db()
        assert plan.status == "approved" and plan.approved_by == station_staff

    def test_revising_starts_a_new_draft_from_the_approved_version(self, grid_manager, customer, approved_plan):
        client = client_for(grid_manager)
        url = reverse("customers:keycustomer_plan_edit", args=[customer.pk])
        page = client.get(url).content.decode()
        assert "节前检查双电源切换" in page and "配电室门锁损坏" in page
        client.post(url, {
            **plan_post(needs="寒假期间食堂停用", measures="节前检查双电源切换；春节值班", cadence="monthly",
                        festival_cadence="weekly", responsible=grid_manager.pk, responsible_phone="13700001111",
                        agenda="1月20日检查发电机", change_note="1月12日走访后"),
            **hazards_post([{"hazard": "配电室门锁损坏", "remedy": "更换防盗门锁"},
                            {"hazard": "电缆沟积水", "remedy": "清理排水", "DELETE": "on"},
                            {"hazard": "发电机电瓶亏电", "remedy": "更换电瓶"}], initial=2),
        })
        versions = dict(ServicePlan.objects.filter(customer=customer).values_list("version", "status"))
        assert versions == {1: "approved", 2: "draft"}

        history = client.get(reverse("customers:keycustomer_plan_history", args=[customer.pk]),
                             {"a": 1, "b": 2}).content.decode()
        section = history[history.index("What changed from version 1 to version 2"):]
        assert "春节值班" in section
        # Hazards item by item: changed remedy, removed, added.
        assert re.search(r"kc-diff-changed.*?配电室门锁损坏.*?更换门锁.*?更换防盗门锁", section, re.S)
        assert re.search(r"kc-diff-removed.*?电缆沟积水", section, re.S)
        assert re.search(r"kc-diff-added.*?发电机电瓶亏电", section, re.S)
        # Fields that did not change are not listed.
        assert "1月20日检查发电机" not in section

    def test_the_printable_sheet_shows_the_current_approved_plan(self, grid_manager, station_staff, customer,
                                                                 approved_plan):
        plan_draft(user=grid_manager, customer_id=customer.pk, measures="草稿中的新措施")
        response = client_for(grid_manager).get(reverse("customers:keycustomer_plan_print", args=[customer.pk]))
        text = response.content.decode()
        assert response.status_code == 200
        for expected in ("朱口镇中心小学", "节前检查双电源切换", "配电室门锁损坏", "更换门锁", "95598",
                         "13700001111", "Version 1", "Dual supply", "10kV朱口线"):
            assert expected in text, expected
        assert "草稿中的新措施" not in text
        # The grid manager may see personal data: the customer's phones in full on the sheet, audited.
        assert "13812345678" in text
        assert AuditLog.objects.filter(action="plan.printed", object_id=str(approved_plan.pk)).exists()

    def test_the_sheet_without_an_approved_plan_says_so(self, grid_manager, customer):
        response = client_for(grid_manager).get(reverse("customers:keycustomer_plan_print", args=[customer.pk]))
        assert response.status_code == 200
        assert "no approved plan yet" in response.content.decode()

    def test_the_navigation_offers_key_customers(self, grid_manager, world):
        text = client_for(grid_manager).get(reverse("home")).content.decode()
        assert reverse("customers:keycustomer_list") in text


def test_hazards_are_compared_item_by_item():
    from customers.services import hazards_compare

    older = [{"hazard": "配电室 门锁损坏", "remedy": "更换门锁"}, {"hazard": "电缆沟积水", "remedy": "清理"},
             {"hazard": "接地电阻偏大", "remedy": "补打接地极"}]
    newer = [{"hazard": "配电室 门锁损坏", "remedy": "更换门锁", "deadline": "2027-01-20"},
             {"hazard": "接地电阻偏大", "remedy": "补打接地极"}, {"hazard": "私拉乱接", "remedy": "拆除"}]
    result = [(change.state, change.hazard) for change in hazards_compare(older, newer)]
    assert result == [("changed", "配电室 门锁损坏"), ("unchanged", "接地电阻偏大"), ("added", "私拉乱接"),
                      ("removed", "电缆沟积水")]
