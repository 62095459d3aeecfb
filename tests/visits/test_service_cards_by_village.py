"""Service cards handed out outside a visit: recorded per village and round on a page and
through the API, scoped, and counted by the progress report with the cards of visits."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.visits.factories import RoundFactory, ServiceCardRecordFactory, VisitFactory
from visits.models import ServiceCardRecord
from visits.selectors import progress_counts
from zhoukou_grid.core.models import AuditLog

URL = "/api/v1/service-cards/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_grid_manager_records_30_cards_posted_in_a_village_on_the_page(client, world, grid_manager):
    rnd = RoundFactory(county=world.county_a, station=world.station_a1)
    village = world.grids["a1"].village
    client.force_login(grid_manager)
    page = client.get(reverse("visits:service_cards_record"))
    assert page.status_code == 200
    # Only the grid manager's own villages are offered.
    assert [v.pk for v in page.context["form"].fields["village"].queryset] == [village.pk]
    response = client.post(reverse("visits:service_cards_record"), {
        "village": village.pk, "round": rnd.pk, "date": timezone.localdate().isoformat(),
        "handed_out": 0, "posted": 30})
    assert response.status_code == 302
    record = ServiceCardRecord.objects.get()
    assert (record.village_id, record.round_id, record.posted, record.grid_manager_id, record.visit_id) == (
        village.pk, rnd.pk, 30, grid_manager.pk, None)
    assert AuditLog.objects.filter(action="cards.recorded", object_id=str(record.pk)).exists()
    listed = client.get(reverse("visits:service_cards_record")).content.decode()
    assert village.name in listed and "30" in listed


def test_the_page_refuses_no_cards_and_another_grids_village(client, world, grid_manager):
    client.force_login(grid_manager)
    url = reverse("visits:service_cards_record")
    day = timezone.localdate().isoformat()
    assert client.post(url, {"village": world.grids["a1"].village.pk, "date": day,
                             "handed_out": 0, "posted": 0}).status_code == 400
    assert client.post(url, {"village": world.grids["a2"].village.pk, "date": day,
                             "handed_out": 3, "posted": 0}).status_code == 400
    assert not ServiceCardRecord.objects.exists()


def test_the_api_lists_and_creates_cards_by_village_scoped(world, grid_manager, outsider):
    rnd = RoundFactory(county=world.county_a)
    response = api(grid_manager).post(URL, {"village": world.grids["a1"].village.code, "round": rnd.pk,
                                            "posted": 30}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["posted"] == 30 and response.json()["village"] == world.grids["a1"].village.code
    # A village outside the territory is "does not exist", like a code nobody has.
    refused = api(grid_manager).post(URL, {"village": world.grids["b1"].village.code, "posted": 5}, format="json")
    assert refused.status_code == 400
    empty = api(grid_manager).post(URL, {"village": world.grids["a1"].village.code}, format="json")
    assert empty.status_code == 400
    assert [row["posted"] for row in api(grid_manager).get(URL).json()["results"]] == [30]
    assert api(outsider).get(URL).json()["results"] == []


def test_the_progress_report_counts_village_cards_with_visit_cards(world, grid_manager, county_admin):
    a1 = world.grids["a1"]
    rnd = RoundFactory(county=world.county_a)
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, round=rnd)
    ServiceCardRecordFactory(grid=a1.grid, grid_manager=grid_manager, visit=visit, village=None, round=rnd,
                             handed_out=4)
    api(grid_manager).post(URL, {"village": a1.village.code, "round": rnd.pk, "posted": 30}, format="json")
    totals = progress_counts(user=county_admin, round_id=rnd.pk, group_by="county")["totals"]
    assert (totals["cards_handed_out"], totals["cards_posted"]) == (4, 30)


def test_station_staff_record_cards_for_a_grid_manager_of_their_grids(client, world, station_staff, grid_manager,
                                                                      outsider):
    client.force_login(station_staff)
    url = reverse("visits:service_cards_record")
    form = client.get(url).context["form"]
    assert [u.pk for u in form.fields["grid_manager"].queryset] == [grid_manager.pk]
    day = timezone.localdate().isoformat()
    response = client.post(url, {"village": world.grids["a1"].village.pk, "grid_manager": grid_manager.pk,
                                 "date": day, "handed_out": 12, "posted": 0})
    assert response.status_code == 302
    assert ServiceCardRecord.objects.get().grid_manager_id == grid_manager.pk
    # Not someone outside the station's grids.
    assert client.post(url, {"village": world.grids["a1"].village.pk, "grid_manager": outsider.pk, "date": day,
                             "handed_out": 1, "posted": 0}).status_code == 400


def test_a_grid_manager_is_not_asked_who_handed_the_cards_out(client, grid_manager):
    client.force_login(grid_manager)
    assert "grid_manager" not in client.get(reverse("visits:service_cards_record")).context["form"].fields
