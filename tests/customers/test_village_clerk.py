"""The village's returning list on a phone: a clerk adds, edits, marks and searches their
village's residents through the same services and masking as everyone else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

LIST = reverse("customers:village_list")
ADD = reverse("customers:village_add")
Status = ReturningResident.Status


def edit(resident):
    return reverse("customers:village_edit", args=[resident.pk])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def entry(**changes) -> dict:
    data = {"name": "张三", "phone": "13812345678", "id_number": "", "head_name": "张大山", "workplace": "郑州",
            "persons": "3", "arrival_date": "2027-01-30", "departure_date": "2027-02-12", "heating": "coal",
            "note": ""}
    data.update(changes)
    return data


def test_the_clerk_home_is_the_village_list(village_clerk):
    response = client_for(village_clerk).get(reverse("home"))
    assert response.status_code == 302 and response.url == LIST


def test_the_clerk_adds_a_resident_as_a_village_entry_audited(village_clerk, clerk_village):
    response = client_for(village_clerk).post(ADD, entry(village=clerk_village.pk))
    assert response.status_code == 302 and response.url == LIST
    resident = ReturningResident.objects.get()
    assert (resident.village, resident.source, resident.persons) == (clerk_village, "village", 3)
    assert resident.phone == "13812345678" and resident.phone_masked == "138****5678"
    row = AuditLog.objects.get(action="resident.created")
    assert row.user == village_clerk and row.object_id == str(resident.pk)
    assert "13812345678" not in str(row.detail)


def test_the_village_is_fixed_for_a_clerk_of_one_village(village_clerk, clerk_village):
    page = client_for(village_clerk).get(ADD)
    assert page.status_code == 200
    assert page.context["form"].fields["village"].widget.input_type == "hidden"


def test_another_village_in_the_form_answers_as_an_invalid_choice(world, village_clerk):
    response = client_for(village_clerk).post(ADD, entry(village=world.grids["a1"].village.pk))
    assert response.status_code == 200 and "village" in response.context["form"].errors
    assert not ReturningResident.objects.exists()


def test_the_import_rules_apply_duplicate_bad_phone_and_dates(village_clerk, clerk_village):
    client = client_for(village_clerk)
    client.post(ADD, entry(village=clerk_village.pk))
    duplicate = client.post(ADD, entry(village=clerk_village.pk))
    assert duplicate.status_code == 200
    assert duplicate.context["form"].non_field_errors()
    bad_phone = client.post(ADD, entry(village=clerk_village.pk, name="李四", phone="12345"))
    assert "phone" in bad_phone.context["form"].errors
    bad_dates = client.post(ADD, entry(village=clerk_village.pk, name="王五", phone="13900001111",
                                       departure_date="2027-01-20"))
    assert "departure_date" in bad_dates.context["form"].errors
    assert ReturningResident.objects.count() == 1


def test_a_script_in_a_field_is_shown_escaped(village_clerk, clerk_village):
    client_for(village_clerk).post(ADD, entry(village=clerk_village.pk, name="<script>x()</script>"))
    page = client_for(village_clerk).get(LIST).content.decode()
    assert "<script>x()" not in page and "&lt;script&gt;x()" in page


def test_the_list_shows_the_village_only_and_searches_by_name_or_last_4_digits(world, village_clerk,
                                                                               clerk_village):
    mine = ReturningResidentFactory(village=clerk_village, name="赵一", phone="13800004321")
    ReturningResidentFactory(village=clerk_village, name="钱二", phone="13800005555")
    ReturningResidentFactory(village=world.grids["a1"].village, name="孙三", phone="13800004321")
    client = client_for(village_clerk)
    everyone = client.get(LIST)
    assert {r.name for r in everyone.context["page"]} == {"赵一", "钱二"}
    assert {r.name for r in client.get(LIST, {"q": "4321"}).context["page"]} == {mine.name}
    assert {r.name for r in client.get(LIST, {"q": "钱"}).context["page"]} == {"钱二"}
    assert "13800004321" not in everyone.content.decode()


def test_the_clerk_marks_arrived_then_departed(village_clerk, clerk_village):
    resident = ReturningResidentFactory(village=clerk_village)
    client = client_for(village_clerk)
    client.post(LIST, {"resident": resident.pk, "action": "arrived"})
    resident.refresh_from_db()
    assert resident.status == Status.ARRIVED and resident.arrived_at is not None
    client.post(LIST, {"resident": resident.pk, "action": "departed"})
    resident.refresh_from_db()
    assert resident.status == Status.DEPARTED
    assert set(AuditLog.objects.values_list("action", flat=True)) >= {"resident.arrived", "resident.departed"}


def test_marking_a_resident_of_another_village_answers_404(world, village_clerk):
    other = ReturningResidentFactory(village=world.grids["a1"].village)
    response = client_for(village_clerk).post(LIST, {"resident": other.pk, "action": "arrived"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == Status.EXPECTED


def test_the_clerk_edits_and_an_empty_number_keeps_the_one_on_file(village_clerk, clerk_village):
    resident = ReturningResidentFactory(village=clerk_village, phone="13800001234", source="village")
    response = client_for(village_clerk).post(edit(resident), entry(village=clerk_village.pk, name=resident.name,
                                                                    phone="", persons="5"))
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.persons == 5 and resident.phone == "13800001234"
    assert AuditLog.objects.filter(action="resident.updated", object_id=str(resident.pk)).exists()


def test_editing_outside_the_village_answers_404(world, village_clerk):
    other = ReturningResidentFactory(village=world.grids["a1"].village)
    client = client_for(village_clerk)
    assert client.get(edit(other)).status_code == 404
    assert client.post(edit(other), entry(village=other.village_id)).status_code == 404


def test_the_clerk_reveals_only_what_the_village_entered_and_each_reveal_is_audited(village_clerk, clerk_village):
    entered = ReturningResidentFactory(village=clerk_village, phone="13800001234", source="village")
    imported = ReturningResidentFactory(village=clerk_village, phone="13800005678", source="import")
    client = client_for(village_clerk)
    page = client.get(edit(entered))
    assert page.context["can_reveal"] and "13800001234" not in page.content.decode()
    shown = client.post(edit(entered), {"action": "reveal", "field": "phone"})
    assert "13800001234" in shown.content.decode() and shown["Cache-Control"] == "no-store"
    assert AuditLog.objects.filter(action="resident.revealed", object_id=str(entered.pk)).count() == 1
    assert not client.get(edit(imported)).context["can_reveal"]
    refused = client.post(edit(imported), {"action": "reveal", "field": "phone"})
    assert refused.status_code == 403 and "13800005678" not in refused.content.decode()
    assert not AuditLog.objects.filter(action="resident.revealed", object_id=str(imported.pk)).exists()


def test_the_grid_manager_keeps_the_same_pages_over_their_grid(personas, world, clerk_village):
    """The pages serve anyone who may add residents, within their own villages."""
    client = client_for(personas.grid_manager)
    assert client.post(ADD, entry(village=clerk_village.pk)).status_code == 302
    assert client.get(LIST).status_code == 200
    assert ReturningResident.objects.get().source == "village"


def test_the_clerk_has_no_household_or_network_pages(village_clerk, world):
    client = client_for(village_clerk)
    assert client.get(reverse("customers:household_list")).status_code == 403
    assert client.get(reverse("portal:grid_detail", args=[world.grids["a1"].grid.pk])).status_code in (403, 404)


def test_the_clerk_navigation_offers_the_village_list(village_clerk):
    page = client_for(village_clerk).get(LIST)
    assert LIST in {item["url"] for item in page.context["nav_items"]}


def test_dates_round_trip_in_the_edit_form(village_clerk, clerk_village):
    resident = ReturningResidentFactory(village=clerk_village, arrival_date=dt.date(2027, 1, 30))
    page = client_for(village_clerk).get(edit(resident)).content.decode()
    assert 'value="2027-01-30"' in page


# --- The dated changes and the grid manager's feed -------------------------------------------
CHANGES = reverse("customers:village_changes")


def test_every_change_is_a_dated_record_the_grid_manager_sees(personas, village_clerk, clerk_village):
    from customers.models import ResidentChange

    client = client_for(village_clerk)
    client.post(ADD, entry(village=clerk_village.pk))
    resident = ReturningResident.objects.get()
    client.post(edit(resident), entry(village=clerk_village.pk, phone="", persons="4"))
    client.post(LIST, {"resident": resident.pk, "action": "arrived"})
    kinds = list(ResidentChange.objects.order_by("pk").values_list("kind", "fields", "user", "village"))
    assert kinds == [("created", [], village_clerk.pk, clerk_village.pk),
                     ("updated", ["persons"], village_clerk.pk, clerk_village.pk),
                     ("arrived", [], village_clerk.pk, clerk_village.pk)]
    feed = client_for(personas.grid_manager).get(CHANGES)
    assert feed.status_code == 200
    assert [row["change"].kind for row in feed.context["rows"]] == ["arrived", "updated", "created"]
    text = feed.content.decode()
    assert "张三" in text and "13812345678" not in text and "138****5678" not in text


def test_an_unchanged_save_records_no_change(village_clerk, clerk_village):
    from customers.models import ResidentChange

    resident = ReturningResidentFactory(village=clerk_village, name="张三", persons=3, phone="13812345678",
                                        arrival_date=dt.date(2027, 1, 30), departure_date=dt.date(2027, 2, 12),
                                        heating="coal", head_name="张大山", workplace="郑州")
    client_for(village_clerk).post(edit(resident), entry(village=clerk_village.pk, phone=""))
    assert not ResidentChange.objects.exists()


def test_the_feed_shows_no_change_of_another_grid(personas, world):
    from tests.customers.factories import ResidentChangeFactory

    ResidentChangeFactory(village=world.grids["a2"].village)
    assert not client_for(personas.grid_manager).get(CHANGES).context["rows"]
    assert len(client_for(personas.station_staff).get(CHANGES).context["rows"]) == 1


# --- Opening clerk accounts ------------------------------------------------------------------
CLERKS = reverse("customers:village_clerks")


def clerk_entry(village, **changes) -> dict:
    data = {"village": village.pk, "full_name": "周会计", "username": "zhou.clerk", "password": "Zk-village-2027!"}
    data.update(changes)
    return data


@pytest.mark.parametrize("persona", ["grid_manager", "county_admin"])
def test_a_grid_manager_or_county_admin_opens_a_clerk_account_for_their_village(personas, world, persona):
    from django.contrib.auth import get_user_model

    from zhoukou_grid.core.scoping import for_user
    from zhoukou_grid.territory.models import Role, Village

    village = world.grids["a1"].village
    response = client_for(getattr(personas, persona)).post(CLERKS, clerk_entry(village))
    assert response.status_code == 302
    clerk = get_user_model().objects.get(username="zhou.clerk")
    assert clerk.check_password("Zk-village-2027!") and clerk.first_name == "周会计"
    assert list(clerk.role_assignments.values_list("role", "village")) == [(Role.VILLAGE_CLERK, village.pk)]
    assert list(for_user(clerk, Village)) == [village]
    row = AuditLog.objects.get(action="clerk.created")
    assert row.user == getattr(personas, persona) and "Zk-village" not in str(row.detail)
    assert "zhou.clerk" in client_for(getattr(personas, persona)).get(CLERKS).content.decode()


def test_a_village_outside_the_territory_is_refused(personas, world):
    response = client_for(personas.grid_manager).post(CLERKS, clerk_entry(world.grids["a2"].village))
    assert response.status_code == 200 and "village" in response.context["form"].errors
    assert not AuditLog.objects.filter(action="clerk.created").exists()


def test_a_weak_password_or_a_taken_name_is_refused(personas, world):
    village = world.grids["a1"].village
    client = client_for(personas.grid_manager)
    weak = client.post(CLERKS, clerk_entry(village, password="123"))
    assert "password" in weak.context["form"].errors
    taken = client.post(CLERKS, clerk_entry(village, username="Grid_Manager"))
    assert "username" in taken.context["form"].errors


@pytest.mark.parametrize("persona", ["station_staff", "nobody"])
def test_other_roles_cannot_open_clerk_accounts(personas, persona):
    assert client_for(getattr(personas, persona)).get(CLERKS).status_code == 403


def test_a_clerk_cannot_open_clerk_accounts(village_clerk, clerk_village):
    assert client_for(village_clerk).post(CLERKS, clerk_entry(clerk_village)).status_code == 403


# --- The API is not the clerk's ---------------------------------------------------------------
def test_the_api_refuses_a_clerk_whatever_their_verbs(village_clerk, clerk_village):
    from rest_framework.test import APIClient

    ReturningResidentFactory(village=clerk_village, source="village")
    client = APIClient()
    client.force_authenticate(village_clerk)
    assert client.get("/api/v1/residents/").status_code == 403
    assert client.post("/api/v1/residents/", {"village": clerk_village.code, "name": "张三",
                                              "arrival_date": "2027-01-30"}, format="json").status_code == 403
    assert not ReturningResident.objects.filter(name="张三").exists()


def test_may_use_api_branch_by_branch(personas, village_clerk, clerk_village):
    from tests.factories import RoleAssignmentFactory, UserFactory
    from zhoukou_grid.core.scoping import may_use_api
    from zhoukou_grid.territory.models import Role

    assert may_use_api(personas.grid_manager) and may_use_api(personas.company_admin)
    assert not may_use_api(village_clerk)
    assert not may_use_api(personas.nobody)  # no role at all: every verb is refused anyway
    assert may_use_api(UserFactory(username="root", is_superuser=True))
    both = UserFactory(username="clerk_and_manager")
    RoleAssignmentFactory(user=both, role=Role.VILLAGE_CLERK, village=clerk_village)
    RoleAssignmentFactory(user=both, role=Role.GRID_MANAGER, grid=clerk_village.grid)
    assert may_use_api(both)


# --- Stale lists: the grid manager's home and the clerks' reminder ----------------------------
def test_a_village_whose_list_went_stale_shows_on_the_grid_managers_home(personas, village_clerk, clerk_village,
                                                                         settings):
    from datetime import timedelta

    from django.utils import timezone

    from customers.models import ResidentChange
    from customers.village_reminders import stale_villages_for
    from tests.customers.factories import ResidentChangeFactory

    settings.VILLAGE_LIST_STALE_DAYS = 3
    # No change yet since the clerk was given the village: stale. The village without a clerk is not listed.
    assert [s.village for s in stale_villages_for(personas.grid_manager)] == [clerk_village]
    home = client_for(personas.grid_manager).get(reverse("home")).content.decode()
    assert "超过 3 天未更新的村返乡名单" in home and "书记村" in home
    change = ResidentChangeFactory(village=clerk_village)
    assert stale_villages_for(personas.grid_manager) == []
    ResidentChange.objects.filter(pk=change.pk).update(at=timezone.now() - timedelta(days=4))
    assert [s.village for s in stale_villages_for(personas.grid_manager)] == [clerk_village]
    assert stale_villages_for(personas.outsider) == []


def test_the_clerks_of_a_stale_village_get_one_reminder_a_day(village_clerk, clerk_village, settings):
    from customers.village_reminders import REMINDER_KIND, village_lists_remind
    from tests.customers.factories import ResidentChangeFactory
    from zhoukou_grid.core.models import Notification

    assert village_lists_remind() == 1
    assert village_lists_remind() == 0  # once a day
    note = Notification.objects.get(kind=REMINDER_KIND)
    assert note.user == village_clerk and "书记村" in note.title and note.url == LIST
    Notification.objects.all().delete()
    ResidentChangeFactory(village=clerk_village)
    assert village_lists_remind() == 0


# --- The village's spreadsheet: the same import, limited to the village -----------------------
def test_the_clerk_uploads_the_villages_spreadsheet_and_only_their_village_is_written(world, village_clerk,
                                                                                     clerk_village):
    from tests.imports.conftest import xlsx_bytes
    from zhoukou_grid.core.importing.service import import_file
    from zhoukou_grid.core.importing.spec import get_kind

    other = world.grids["a1"].village
    rows = [["姓名", "联系电话", "村编码", "返乡日期", "返乡人数"],
            ["甲", "13800000001", clerk_village.code, "2027-01-25", 2],
            ["乙", "13800000002", other.code, "2027-01-25", 1]]
    result = import_file(kind=get_kind("residents"), data=xlsx_bytes(rows), file_name="书记村.xlsx", skip_invalid=True,
                         user=village_clerk)
    assert [(e["row"], e["column"]) for e in result.errors] == [(3, "村编码")]
    assert list(ReturningResident.objects.values_list("name", "village", "source")) == [
        ("甲", clerk_village.pk, "village")]
    page = client_for(village_clerk).get(reverse("imports:new"), {"kind": "residents"})
    assert page.status_code == 200
    assert f'{reverse("imports:new")}?kind=residents' in client_for(village_clerk).get(LIST).content.decode()


def test_the_portals_resident_pages_are_not_the_clerks(village_clerk, clerk_village):
    """They name the grid and station above the village (lineage, arrivals per grid)."""
    resident = ReturningResidentFactory(village=clerk_village, source="village")
    client = client_for(village_clerk)
    for url in (reverse("customers:resident_list"), reverse("customers:arrivals"),
                reverse("customers:resident_detail", args=[resident.pk])):
        assert client.get(url).status_code == 403, url
    nav = {item["url"] for item in client.get(LIST).context["nav_items"]}
    assert reverse("customers:resident_list") not in nav and reverse("customers:arrivals") not in nav


def test_the_admins_role_inline_offers_the_village_within_the_admins_territory(personas, world, clerk_village):
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from zhoukou_grid.territory.admin import RoleAssignmentInline
    from zhoukou_grid.territory.models import RoleAssignment

    inline = RoleAssignmentInline(get_user_model(), admin.site)
    assert "village" in inline.fields
    request = RequestFactory().get("/")
    request.user = personas.county_admin
    field = inline.formfield_for_foreignkey(RoleAssignment._meta.get_field("village"), request)
    assert clerk_village in field.queryset and world.grids["b1"].village not in field.queryset
