"""Returning residents pages: scoped lists, masking, reveal, filters, bulk status, links, arrivals."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import ReturningResident
from customers.selectors import default_arrival_range
from tests.factories import HouseholdFactory, ReturningResidentFactory, UserFactory
from zhoukou_grid.core.models import AuditLog

LIST = reverse("customers:resident_list")
UNLINKED = reverse("customers:resident_unlinked")
ARRIVALS = reverse("customers:arrivals")
Status = ReturningResident.Status


def detail(resident):
    return reverse("customers:resident_detail", args=[resident.pk])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make(grid, name, *, phone, arrival, persons=1, household=None, **extra):
    return ReturningResidentFactory(
        village=grid.village, name=name, phone=phone, arrival_date=arrival, persons=persons, household=household,
        **extra,
    )


@pytest.fixture
def residents(world):
    a1, a2, a3, b1 = (world.grids[key] for key in ("a1", "a2", "a3", "b1"))
    return SimpleNamespace(
        zhang=make(a1, "张伟", phone="13800001111", arrival=dt.date(2027, 1, 28), persons=3,
                   household=a1.households[0], id_number="11010519491231002X", heating="electric_heater"),
        li=make(a1, "李娜", phone="13900002222", arrival=dt.date(2027, 2, 2), persons=2, heating="coal"),
        wang=make(a2, "王芳", phone="13700003333", arrival=dt.date(2027, 1, 30)),
        zhao=make(a3, "赵磊", phone="13600004444", arrival=dt.date(2027, 2, 1), persons=4),
        liu=make(b1, "刘洋", phone="13500005555", arrival=dt.date(2027, 1, 29)),
    )


def names(response) -> set[str]:
    return {resident.name for resident in response.context["object_list"]}


# --- Who sees what ------------------------------------------------------------------
@pytest.mark.parametrize(("persona", "expected"), [
    ("grid_manager", {"张伟", "李娜"}),
    ("station_staff", {"张伟", "李娜", "王芳"}),
    ("county_admin", {"张伟", "李娜", "王芳", "赵磊"}),
    ("outsider", {"刘洋"}),
    ("company_admin", {"张伟", "李娜", "王芳", "赵磊", "刘洋"}),
])
def test_each_persona_sees_only_their_territorys_residents(persona, expected, personas, residents):
    response = client_for(getattr(personas, persona)).get(LIST)
    assert response.status_code == 200
    assert names(response) == expected


def test_a_user_without_a_role_is_refused(personas, residents):
    assert client_for(personas.nobody).get(LIST).status_code == 403


def test_an_outsider_gets_404_for_a_resident_of_another_county(personas, residents):
    assert client_for(personas.outsider).get(detail(residents.zhang)).status_code == 404
    assert client_for(personas.grid_manager).get(detail(residents.liu)).status_code == 404
    assert client_for(personas.grid_manager).get(detail(residents.zhang)).status_code == 200


# --- Masking --------------------------------------------------------------------------
def test_the_list_shows_phones_masked(personas, residents):
    html = client_for(personas.county_admin).get(LIST).content.decode()
    assert "138****1111" in html
    assert "13800001111" not in html and "13900002222" not in html


def test_the_detail_shows_phone_and_id_masked_even_to_those_who_may_reveal(personas, residents):
    html = client_for(personas.grid_manager).get(detail(residents.zhang)).content.decode()
    assert "138****1111" in html and "110105********002X" in html
    assert "13800001111" not in html and "11010519491231002X" not in html
    assert 'name="action" value="reveal"' in html
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


# --- Reveal -----------------------------------------------------------------------------
def test_reveal_answers_the_full_phone_with_a_tel_link_and_writes_an_audit_row(personas, residents):
    client = client_for(personas.grid_manager)
    response = client.post(detail(residents.zhang), {"action": "reveal", "field": "phone"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"field": "phone", "value": "13800001111", "tel": "tel:13800001111"}
    assert response["Cache-Control"] == "no-store"
    audit = AuditLog.objects.get(action="resident.revealed")
    assert (audit.user, audit.object_id, audit.detail) == (personas.grid_manager, str(residents.zhang.pk),
                                                          {"field": "phone"})


def test_reveal_without_javascript_answers_the_page_with_the_value(personas, residents):
    response = client_for(personas.station_staff).post(detail(residents.zhang),
                                                       {"action": "reveal", "field": "id_number"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "11010519491231002X" in html
    assert "13800001111" not in html  # only the field asked for
    assert AuditLog.objects.filter(action="resident.revealed", detail={"field": "id_number"}).count() == 1


def test_reveal_needs_the_permission(world, residents):
    from tests.factories import RoleAssignmentFactory
    from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
    from zhoukou_grid.territory.models import Role

    viewer = UserFactory(username="viewer")
    RoleAssignmentFactory(user=viewer, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    # A grid manager without the reveal verb (as a county may configure it).
    ROLE_PERMISSIONS[Role.GRID_MANAGER].discard("customers.view_personal_data")
    try:
        client = client_for(viewer)
        page = client.get(detail(residents.zhang)).content.decode()
        assert 'value="reveal"' not in page
        response = client.post(detail(residents.zhang), {"action": "reveal", "field": "phone"})
        assert response.status_code == 403
    finally:
        ROLE_PERMISSIONS[Role.GRID_MANAGER].add("customers.view_personal_data")
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


def test_an_outsider_cannot_reveal(personas, residents):
    response = client_for(personas.outsider).post(detail(residents.zhang), {"action": "reveal", "field": "phone"})
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action="resident.revealed").exists()


# --- Filters and search -----------------------------------------------------------------
def test_filter_by_arrival_range(personas, residents):
    response = client_for(personas.county_admin).get(LIST, {"arrival_from": "2027-01-29", "arrival_to": "2027-01-31"})
    assert names(response) == {"王芳"}


def test_search_by_the_last_four_digits_of_a_phone(personas, residents):
    client = client_for(personas.county_admin)
    assert names(client.get(LIST, {"q": "2222"})) == {"李娜"}
    assert names(client.get(LIST, {"phone_last4": "3333"})) == {"王芳"}
    # The other county's number is not found from here.
    assert names(client.get(LIST, {"q": "5555"})) == set()


def test_search_by_name_and_filters_by_status_heating_and_link(personas, residents):
    client = client_for(personas.grid_manager)
    assert names(client.get(LIST, {"q": "李"})) == {"李娜"}
    assert names(client.get(LIST, {"heating": "coal"})) == {"李娜"}
    assert names(client.get(LIST, {"linked": "yes"})) == {"张伟"}
    assert names(client.get(LIST, {"linked": "no"})) == {"李娜"}
    residents.li.status = Status.ARRIVED
    residents.li.save()
    assert names(client.get(LIST, {"status": "arrived"})) == {"李娜"}


def test_sorting_by_persons(personas, residents):
    response = client_for(personas.county_admin).get(LIST, {"sort": "-persons"})
    assert [r.name for r in response.context["object_list"]][:2] == ["赵磊", "张伟"]


def test_counts_per_village_and_transformer(personas, residents, world):
    response = client_for(personas.station_staff).get(LIST)
    by_village = {row["village_id"]: row for row in response.context["village_counts"]}
    a1 = world.grids["a1"]
    assert by_village[a1.village.pk]["resident_count"] == 2 and by_village[a1.village.pk]["person_count"] == 5
    assert by_village[world.grids["a2"].village.pk]["person_count"] == 1
    by_transformer = {row["household__transformer_id"]: row for row in response.context["transformer_counts"]}
    assert by_transformer[a1.transformer.pk]["person_count"] == 3
    assert by_transformer[None]["resident_count"] == 2  # 李娜 and 王芳 are not linked


def test_the_list_has_a_pinned_query_count(personas, residents, world):
    client = client_for(personas.grid_manager)
    client.get(LIST)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    a1 = world.grids["a1"]
    for number in range(30):
        make(a1, f"加{number}", phone=f"1331000{number:04d}", arrival=dt.date(2027, 1, 20),
             household=a1.households[number % 2])
    with CaptureQueriesContext(connection) as many:
        assert client.get(LIST).status_code == 200
    assert len(many) == len(few)
    # session, user, role assignments (roles and territory), the grid's station and county
    # (territory), village ids, 3 filter drop-downs counted, page count, page, 2 count tables,
    # 3 drop-downs listed. No permission query: the roles answer every permission.
    assert len(few) == 15, [q["sql"][:120] for q in few.captured_queries]


# --- Bulk and single status changes ---------------------------------------------------
def test_bulk_mark_arrived(personas, residents):
    client = client_for(personas.grid_manager)
    response = client.post(LIST, {"action": "arrived", "ids": [residents.zhang.pk, residents.li.pk],
                                  "next": LIST + "?q=x"})
    assert response.status_code == 302 and response["Location"] == LIST + "?q=x"
    statuses = set(ReturningResident.objects.filter(pk__in=[residents.zhang.pk, residents.li.pk])
                   .values_list("status", flat=True))
    assert statuses == {Status.ARRIVED}
    assert AuditLog.objects.filter(action="resident.arrived", detail__count=2).exists()


def test_bulk_including_a_resident_outside_the_territory_changes_nothing(personas, residents):
    response = client_for(personas.grid_manager).post(
        LIST, {"action": "arrived", "ids": [residents.zhang.pk, residents.liu.pk]})
    assert response.status_code == 404
    assert not ReturningResident.objects.filter(status=Status.ARRIVED).exists()


def test_an_external_next_is_not_followed(personas, residents):
    response = client_for(personas.grid_manager).post(
        LIST, {"action": "departed", "ids": [residents.li.pk], "next": "https://evil.example/"})
    assert response["Location"] == LIST
    residents.li.refresh_from_db()
    assert residents.li.status == Status.DEPARTED


def test_one_at_a_time_on_the_detail_page(personas, residents):
    client = client_for(personas.grid_manager)
    response = client.post(detail(residents.li), {"action": "arrived"})
    assert response.status_code == 302
    residents.li.refresh_from_db()
    assert residents.li.status == Status.ARRIVED and residents.li.arrived_at is not None
    page = client.get(detail(residents.li)).content.decode()
    assert 'value="arrived"' not in page and 'value="departed"' in page


# --- Linking a household ---------------------------------------------------------------
def test_the_unlinked_list_offers_the_households_of_the_village(personas, residents, world):
    response = client_for(personas.grid_manager).get(UNLINKED)
    assert [item["resident"].name for item in response.context["items"]] == ["李娜"]
    offered = {h.pk for h in response.context["items"][0]["households"]}
    assert offered == {h.pk for h in world.grids["a1"].households}


def test_link_household(personas, residents, world):
    household = world.grids["a1"].households[1]
    response = client_for(personas.grid_manager).post(UNLINKED, {"resident": residents.li.pk,
                                                                 "household": household.pk})
    assert response.status_code == 302
    residents.li.refresh_from_db()
    assert residents.li.household == household and residents.li.account_no == household.account_no
    assert AuditLog.objects.filter(action="resident.linked", object_id=str(residents.li.pk)).exists()


def test_link_to_a_household_of_another_village_is_refused(personas, residents, world):
    other = HouseholdFactory(village=world.grids["a2"].village, transformer=world.grids["a2"].transformer)
    client = client_for(personas.station_staff)
    response = client.post(detail(residents.li), {"action": "link", "household": other.pk}, follow=True)
    residents.li.refresh_from_db()
    assert residents.li.household is None
    assert "message-error" in response.content.decode()


def test_the_detail_page_offers_a_link_form_when_unlinked(personas, residents):
    response = client_for(personas.grid_manager).get(detail(residents.li))
    assert "link_form" in response.context
    assert "link_form" not in client_for(personas.grid_manager).get(detail(residents.zhang)).context


# --- Export --------------------------------------------------------------------------
def test_the_list_links_the_export_in_the_import_columns(personas, residents):
    from zhoukou_grid.core.importing.spec import get_kind

    try:
        get_kind("residents")
    except LookupError:
        pytest.skip("the `residents` import/export kind is not registered yet (the import engineer's part)")
    client = client_for(personas.grid_manager)
    html = client.get(LIST, {"village": residents.zhang.village_id}).content.decode()
    export_url = reverse("imports:export", args=["residents"])
    assert f"{export_url}?village={residents.zhang.village_id}&amp;format=csv" in html
    export = client.get(export_url, {"format": "csv"})
    assert export.status_code == 200
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "张伟" in body and "刘洋" not in body


def test_an_export_by_a_user_without_the_reveal_permission_is_masked(world, residents):
    from tests.factories import RoleAssignmentFactory
    from zhoukou_grid.core.importing.spec import get_kind
    from zhoukou_grid.core.scoping import ROLE_PERMISSIONS
    from zhoukou_grid.territory.models import Role

    try:
        get_kind("residents")
    except LookupError:
        pytest.skip("the `residents` import/export kind is not registered yet (the import engineer's part)")
    viewer = UserFactory(username="viewer")
    RoleAssignmentFactory(user=viewer, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    ROLE_PERMISSIONS[Role.GRID_MANAGER].discard("customers.view_personal_data")
    try:
        export = client_for(viewer).get(reverse("imports:export", args=["residents"]), {"format": "csv"})
        body = b"".join(export.streaming_content).decode("utf-8-sig")
    finally:
        ROLE_PERMISSIONS[Role.GRID_MANAGER].add("customers.view_personal_data")
    assert "张伟" in body
    assert "138****1111" in body and "110105********002X" in body
    assert "13800001111" not in body and "11010519491231002X" not in body


# --- Arrivals -----------------------------------------------------------------------------
def test_the_default_range_runs_to_the_eighth_day_of_the_new_year():
    # 初一 is 2027-02-06, so 初八 is 02-13 (New Year + 7 days), not 02-14 (初九).
    assert default_arrival_range(dt.date(2026, 12, 1)) == (dt.date(2026, 12, 1), dt.date(2027, 2, 13))
    # On 初八 itself the range still ends that day.
    assert default_arrival_range(dt.date(2027, 2, 13)) == (dt.date(2027, 2, 13), dt.date(2027, 2, 13))
    # After 初八, the next season: 初一 2028-01-26, 初八 2028-02-02.
    start, end = default_arrival_range(dt.date(2027, 3, 1))
    assert start == dt.date(2027, 3, 1) and end == dt.date(2028, 2, 2)


def test_arrivals_per_day_match_a_hand_count(personas, residents, world):
    a1 = world.grids["a1"]
    make(a1, "孙明", phone="13811112222", arrival=dt.date(2027, 1, 28), persons=5)
    make(a1, "周强", phone="13811113333", arrival=dt.date(2027, 2, 20))  # outside the range
    response = client_for(personas.station_staff).get(ARRIVALS, {"start": "2027-01-27", "end": "2027-02-03"})
    assert response.status_code == 200
    arrivals = response.context["arrivals"]
    assert arrivals.days[0] == dt.date(2027, 1, 27) and len(arrivals.days) == 8
    rows = {row.grid.code: row for row in arrivals.grid_rows}
    assert set(rows) == {"JA-WG-01", "JA-WG-02"}  # the station's grids, nothing of 甲二所
    # By hand: 甲一网格 gets 张伟 (3) and 孙明 (5) on 01-28, 李娜 (2) on 02-02.
    assert rows["JA-WG-01"].persons == [0, 8, 0, 0, 0, 0, 2, 0]
    assert rows["JA-WG-01"].residents == [0, 2, 0, 0, 0, 0, 1, 0]
    assert rows["JA-WG-02"].persons == [0, 0, 0, 1, 0, 0, 0, 0]
    assert arrivals.total.person_total == 11 and arrivals.total.resident_total == 4
    subtotal = [row for row in arrivals.rows if row.grid is None]
    assert len(subtotal) == 1 and subtotal[0].person_total == 11
    chart = response.context["chart"]
    assert chart["labels"][1] == "01-28" and chart["residents"][1] == 2
    html = response.content.decode()
    assert 'id="arrivals-data"' in html and "vendor/chartjs/chart.umd.min.js" in html
    assert "<script>" not in html and " style=" not in html


def test_arrivals_for_a_grid_manager_show_their_grid_only(personas, residents):
    response = client_for(personas.grid_manager).get(ARRIVALS, {"start": "2027-01-25", "end": "2027-02-05"})
    assert [row.grid.code for row in response.context["arrivals"].grid_rows] == ["JA-WG-01"]
    assert response.context["arrivals"].total.person_total == 5


def test_arrivals_reject_a_backwards_range(personas, residents):
    response = client_for(personas.station_staff).get(ARRIVALS, {"start": "2027-02-05", "end": "2027-01-25"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_pages_carry_no_inline_script_or_style(personas, residents):
    client = client_for(personas.grid_manager)
    for url in (LIST, UNLINKED, detail(residents.zhang)):
        html = client.get(url).content.decode()
        assert "<script>" not in html and " style=" not in html, url
