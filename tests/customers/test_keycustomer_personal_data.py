"""Key customers' contact phones and plans' responsible phones are personal data
(docs/personal-data.md): stored encrypted with an HMAC and a masked form, masked on every
page, answer and export, in full only for a role holding `customers.view_personal_data`
and then audited. The `without_personal_data` role setup checks that a role without the
permission never receives a full number, wherever it looks."""

from __future__ import annotations

import csv
import io

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import KeyCustomer, ServicePlan, personal_index
from customers.services import plan_approve, plan_draft
from tests.factories import KeyCustomerFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

MOBILE, LANDLINE, RESPONSIBLE = "13812345678", "0394-5512345", "13700001111"
FULL = (MOBILE, LANDLINE, RESPONSIBLE, "5512345")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def assert_no_full_number(text: str) -> None:
    for number in FULL:
        assert number not in text, number


@pytest.fixture
def customer(world):
    a1 = world.grids["a1"]
    return KeyCustomerFactory(grid=a1.grid, village=a1.village, account_no="4127000001", name="朱口卫生院",
                              category="hospital", contact_name="李院长", contact_phone=MOBILE,
                              contact_24h_name="值班室", contact_24h_phone=LANDLINE)


@pytest.fixture
def plan(customer, grid_manager, station_staff):
    draft = plan_draft(user=grid_manager, customer_id=customer.pk, needs="春节值班", responsible_id=grid_manager.pk,
                       responsible_phone=RESPONSIBLE)
    return plan_approve(user=station_staff, plan_id=draft.pk)


def edit_post(customer, **fields):
    data = {"account_no": customer.account_no, "name": customer.name, "category": customer.category,
            "grid": customer.grid_id, "supply": "single", "contact_phone": "", "contact_24h_phone": ""}
    data.update(fields)
    return data


def plan_post(**fields):
    data = {"needs": "春节值班", "risks": "", "measures": "", "responsible": "", "responsible_phone": "",
            "cadence": "monthly", "festival_cadence": "weekly", "agenda": "", "change_note": "",
            "hazards-TOTAL_FORMS": "0", "hazards-INITIAL_FORMS": "0", "hazards-MIN_NUM_FORMS": "0",
            "hazards-MAX_NUM_FORMS": "50"}
    data.update(fields)
    return data


# --- At rest ------------------------------------------------------------------------------

def test_no_phone_is_stored_in_plaintext_in_any_column(customer, plan):
    for model in (KeyCustomer, ServicePlan):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")
            cells = [str(cell) for row in cursor.fetchall() for cell in row if cell is not None]
        assert cells
        assert not any(number in cell for cell in cells for number in FULL)
    customer.refresh_from_db()
    plan.refresh_from_db()
    assert (customer.contact_phone, customer.contact_24h_phone, plan.responsible_phone) == (
        MOBILE, LANDLINE, RESPONSIBLE)
    assert (customer.contact_phone_masked, customer.contact_24h_phone_masked, plan.responsible_phone_masked) == (
        "138****5678", "0394****345", "137****1111")
    # The HMAC is the residents' phone HMAC of the digits: one search finds both.
    assert customer.contact_phone_hmac == personal_index("phone", MOBILE)
    assert customer.contact_24h_phone_hmac == personal_index("phone", "03945512345")
    assert KeyCustomer.objects.filter(contact_phone_hmac=personal_index("phone", "138 1234 5678")).get() == customer


# --- A role without the permission ----------------------------------------------------------

def test_without_the_permission_the_pages_show_masked_numbers_only(without_personal_data, grid_manager, customer,
                                                                    plan):
    client = client_for(grid_manager)
    pages = {
        "detail": reverse("customers:keycustomer_detail", args=[customer.pk]),
        "edit": reverse("customers:keycustomer_edit", args=[customer.pk]),
        "plan edit": reverse("customers:keycustomer_plan_edit", args=[customer.pk]),
        "plan": reverse("customers:serviceplan_detail", args=[plan.pk]),
        "history": reverse("customers:keycustomer_plan_history", args=[customer.pk]),
        "print": reverse("customers:keycustomer_plan_print", args=[customer.pk]),
        "cards": reverse("visits:service_cards"),
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert_no_full_number(response.content.decode())
    assert "138****5678" in client.get(pages["detail"]).content.decode()
    edit = client.get(pages["edit"]).content.decode()
    assert "Now 138****5678" in edit and "Now 0394****345" in edit and "Show number" not in edit
    assert "Now 137****1111" in client.get(pages["plan edit"]).content.decode()
    plan_page = client.get(pages["plan"]).content.decode()
    assert "137****1111" in plan_page and "Show number" not in plan_page
    assert "137****1111" in client.get(pages["print"]).content.decode()
    assert "137****1111" in client.get(pages["cards"]).content.decode()
    # Nothing was revealed, so nothing is audited as a reveal.
    assert not AuditLog.objects.filter(action__endswith=".revealed").exists()
    for action in ("plan.printed", "service_cards.printed"):
        assert {a.detail["personal_data"] for a in AuditLog.objects.filter(action=action)} == {False}


def test_without_the_permission_a_reveal_is_refused(without_personal_data, grid_manager, customer, plan):
    client = client_for(grid_manager)
    for field in ("contact_phone", "contact_24h_phone"):
        response = client.post(reverse("customers:keycustomer_detail", args=[customer.pk]), {"reveal": field})
        assert response.status_code == 403
    response = client.post(reverse("customers:serviceplan_detail", args=[plan.pk]), {"reveal": "responsible_phone"})
    assert response.status_code == 403
    assert not AuditLog.objects.filter(action__endswith=".revealed").exists()


def test_without_the_permission_an_empty_phone_field_keeps_the_number_and_the_box_removes_it(
        without_personal_data, grid_manager, customer):
    url = reverse("customers:keycustomer_edit", args=[customer.pk])
    client = client_for(grid_manager)
    assert client.post(url, edit_post(customer, backup_kw="40")).status_code == 302
    customer.refresh_from_db()
    assert (customer.contact_phone, customer.contact_24h_phone, customer.backup_kw) == (MOBILE, LANDLINE, 40)
    assert "contact_phone" not in AuditLog.objects.get(action="keycustomer.updated").detail["fields"]
    # A new number replaces the old one; the box removes the other.
    response = client.post(url, edit_post(customer, contact_phone="139 0000 1111", contact_24h_phone_remove="on"))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.contact_phone, customer.contact_24h_phone, customer.contact_24h_phone_masked) == (
        "13900001111", "", "")
    assert {"contact_24h_phone", "contact_phone"} <= set(
        AuditLog.objects.filter(action="keycustomer.updated").order_by("pk").last().detail["fields"])
    # The masked number typed back is refused, never stored.
    response = client.post(url, edit_post(customer, contact_24h_phone="0394****345"))
    assert response.status_code == 400 and "not the masked one" in response.content.decode()


def test_without_the_permission_the_plan_keeps_its_phone_when_left_empty(without_personal_data, grid_manager,
                                                                          customer, plan):
    url = reverse("customers:keycustomer_plan_edit", args=[customer.pk])
    response = client_for(grid_manager).post(url, plan_post(needs="节后复查", responsible=grid_manager.pk))
    assert response.status_code == 302
    draft = ServicePlan.objects.get(customer=customer, status="draft")
    assert draft.responsible_phone == RESPONSIBLE and draft.needs == "节后复查"


def test_without_the_permission_the_api_and_the_export_are_masked(without_personal_data, grid_manager, customer,
                                                                   plan):
    client = api(grid_manager)
    detail = client.get(f"/api/v1/keycustomers/{customer.pk}/")
    assert detail.json()["contact_phone"] == "138****5678"
    plans = client.get(f"/api/v1/keycustomers/{customer.pk}/plans/")
    assert plans.json()[0]["responsible_phone"] == "137****1111"
    for response in (client.get("/api/v1/keycustomers/"), detail, plans):
        assert_no_full_number(response.content.decode())
    export = client_for(grid_manager).get(reverse("imports:export", args=["keycustomers"]), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    phone_at = rows[0].index("联系电话")
    assert rows[1][phone_at] == "138****5678"
    assert_no_full_number(str(rows))
    audit = AuditLog.objects.get(action="export")
    assert audit.detail["kind"] == "keycustomers" and "personal_data" not in audit.detail


# --- A role holding the permission ----------------------------------------------------------

def test_the_edit_form_holds_the_full_numbers_only_for_the_permission_and_audits_it(grid_manager, customer):
    response = client_for(grid_manager).get(reverse("customers:keycustomer_edit", args=[customer.pk]))
    text = response.content.decode()
    assert f'value="{MOBILE}"' in text and f'value="{LANDLINE}"' in text
    assert response["Cache-Control"] == "no-store"
    audits = AuditLog.objects.filter(action="keycustomer.revealed").order_by("pk")
    assert [a.detail for a in audits] == [{"field": "contact_phone", "on": "edit form"},
                                         {"field": "contact_24h_phone", "on": "edit form"}]
    assert all(a.user == grid_manager and a.object_id == str(customer.pk) for a in audits)


def test_the_plan_editor_holds_the_full_phone_only_for_the_permission_and_audits_it(grid_manager, customer, plan):
    response = client_for(grid_manager).get(reverse("customers:keycustomer_plan_edit", args=[customer.pk]))
    assert f'value="{RESPONSIBLE}"' in response.content.decode()
    audit = AuditLog.objects.get(action="serviceplan.revealed")
    assert audit.detail == {"field": "responsible_phone", "on": "edit form"} and audit.object_id == str(plan.pk)


def test_the_plan_phone_is_masked_until_revealed_and_the_reveal_is_audited(grid_manager, plan):
    url = reverse("customers:serviceplan_detail", args=[plan.pk])
    client = client_for(grid_manager)
    page = client.get(url).content.decode()
    assert "137****1111" in page and RESPONSIBLE not in page and "Show number" in page
    response = client.post(url, {"reveal": "responsible_phone"})
    assert response.status_code == 200 and RESPONSIBLE in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    audit = AuditLog.objects.get(action="serviceplan.revealed")
    assert audit.user == grid_manager and audit.detail == {"field": "responsible_phone"}


def test_the_plan_history_compares_phones_masked(grid_manager, customer, plan):
    plan_draft(user=grid_manager, customer_id=customer.pk, responsible_phone="13911112222")
    page = client_for(grid_manager).get(reverse("customers:keycustomer_plan_history", args=[customer.pk])).content
    text = page.decode()
    assert "137****1111" in text and "139****2222" in text
    assert RESPONSIBLE not in text and "13911112222" not in text


def test_the_export_holds_the_full_numbers_for_the_permission_and_says_so(grid_manager, customer):
    export = client_for(grid_manager).get(reverse("imports:export", args=["keycustomers"]), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[1][rows[0].index("联系电话")] == MOBILE
    audit = AuditLog.objects.get(action="export")
    assert audit.detail["personal_data"] is True and audit.detail["rows"] == 1


def test_the_api_answers_masked_even_with_the_permission_and_keeps_a_masked_number_sent_back(grid_manager, customer,
                                                                                              plan):
    client = api(grid_manager)
    url = f"/api/v1/keycustomers/{customer.pk}/"
    body = client.get(url).json()
    assert (body["contact_phone"], body["contact_24h_phone"]) == ("138****5678", "0394****345")
    assert client.get(f"{url}plans/").json()[0]["responsible_phone"] == "137****1111"
    response = client.put(url, {**body, "name": "朱口镇卫生院"}, format="json")
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.name, customer.contact_phone, customer.contact_24h_phone) == ("朱口镇卫生院", MOBILE, LANDLINE)
    draft = client.post(f"{url}plans/draft/", {"responsible_phone": "137****1111"}, format="json")
    assert draft.status_code == 400 and "responsible_phone" in draft.json()


def test_the_api_reveals_one_number_for_the_permission_audited(grid_manager, customer, outsider):
    url = f"/api/v1/keycustomers/{customer.pk}/reveal/"
    response = api(grid_manager).post(url, {"field": "contact_24h_phone"}, format="json")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json() == {"field": "contact_24h_phone", "value": LANDLINE, "tel": "tel:03945512345"}
    audit = AuditLog.objects.get(action="keycustomer.revealed")
    assert audit.detail == {"field": "contact_24h_phone"} and LANDLINE not in str(audit.detail)
    assert api(grid_manager).post(url, {"field": "name"}, format="json").status_code == 400
    assert api(outsider).post(url, {"field": "contact_phone"}, format="json").status_code == 404
    assert AuditLog.objects.filter(action="keycustomer.revealed").count() == 1


def test_without_the_permission_the_api_reveal_is_refused(without_personal_data, grid_manager, customer):
    url = f"/api/v1/keycustomers/{customer.pk}/reveal/"
    assert api(grid_manager).post(url, {"field": "contact_phone"}, format="json").status_code == 403
    assert not AuditLog.objects.filter(action="keycustomer.revealed").exists()
