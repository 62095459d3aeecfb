"""What each role's home shows: the day's work, each row linking to its page, in a fixed
number of queries whatever the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import ServicePlan
from tests.factories import KeyCustomerFactory, ReturningResidentFactory, UserFactory
from tests.loadforecast.factories import AlertFactory
from tests.visits.factories import (
    CustomerIssueFactory,
    HazardFactory,
    RoundFactory,
    ServiceCardRecordFactory,
    VisitFactory,
)
from visits.models import CustomerIssue, Visit
from zhoukou_grid.core.models import ImportJob


def body_of(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


def _work(world, grid_manager, *, key="a1"):
    """A day of work in grid `key`: a visit today, an overdue hazard and issue, an alert and
    a resident arriving in three days."""
    a = world.grids[key]
    today = timezone.localdate()
    visit = VisitFactory(grid=a.grid, grid_manager=grid_manager, village=a.village, planned_date=today)
    hazard = HazardFactory(grid=a.grid, deadline=today - dt.timedelta(days=2), description=f"表箱门脱落{key}")
    issue = CustomerIssueFactory(grid=a.grid, description=f"电压低{key}",
                                 raised_at=timezone.now() - dt.timedelta(days=5),
                                 due_at=timezone.now() - dt.timedelta(days=1))
    alert = AlertFactory(grid=a.grid, transformer=a.transformer, level=3)
    resident = ReturningResidentFactory(village=a.village, name=f"张返乡{key}", arrival_date=today + dt.timedelta(days=3))
    return visit, hazard, issue, alert, resident


# --- Grid manager ---------------------------------------------------------------------------


def test_a_grid_managers_home_is_their_day_each_row_linking_to_its_page(client, world, grid_manager, outsider):
    visit, hazard, issue, alert, resident = _work(world, grid_manager)
    others = _work(world, UserFactory(), key="a2")
    ReturningResidentFactory(village=world.grids["a1"].village, name="李晚到",
                             arrival_date=timezone.localdate() + dt.timedelta(days=10))
    body = body_of(client, grid_manager)
    assert reverse("visits:field_visit_log", args=[visit.pk]) in body
    assert reverse("visits:hazard_detail", args=[hazard.pk]) in body
    assert reverse("visits:issue_detail", args=[issue.pk]) in body
    assert reverse("loadforecast:alert_detail", args=[alert.pk]) in body
    assert reverse("customers:resident_detail", args=[resident.pk]) in body and "张返乡a1" in body
    # Only their grid, only this week.
    assert "表箱门脱落a2" not in body and "张返乡a2" not in body
    assert reverse("loadforecast:alert_detail", args=[others[3].pk]) not in body
    assert "李晚到" not in body
    # No asset counts on this home, and no season-outlook section without outlook items.
    assert "stat-accent" not in body
    assert 'data-section="outlook"' not in body


def test_a_logged_visit_links_to_its_log(client, world, grid_manager):
    from visits.models import VisitLog

    visit, *_ = _work(world, grid_manager)
    visit.status, visit.done_at = Visit.Status.DONE, timezone.now()
    visit.save()
    log = VisitLog.objects.create(visit=visit, client_key="k1", submitted_by=grid_manager)
    body = body_of(client, grid_manager)
    assert reverse("visits:field_log_detail", args=[log.pk]) in body
    assert reverse("visits:field_visit_log", args=[visit.pk]) not in body


def test_outlook_items_show_when_the_outlook_offers_some(client, world, grid_manager, monkeypatch):
    from zhoukou_grid import home

    monkeypatch.setattr(home, "outlook_items", lambda user: [
        {"title": "台区甲 春节负荷", "detail": "02-05", "url": "/load/"}])
    body = body_of(client, grid_manager)
    assert 'data-section="outlook"' in body and "台区甲 春节负荷" in body


# --- Station staff ---------------------------------------------------------------------------


def test_station_staff_see_alerts_by_level_week_per_manager_overdue_and_arrivals(client, world, station_staff,
                                                                                  grid_manager):
    visit, hazard, issue, _alert, resident = _work(world, grid_manager)
    _work(world, UserFactory(), key="a3")  # the other station
    AlertFactory(grid=world.grids["a2"].grid, level=4)
    AlertFactory(grid=world.grids["a2"].grid, level=2, status="closed")
    VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, village=world.grids["a1"].village,
                 planned_date=timezone.localdate(), status=Visit.Status.DONE, done_at=timezone.now())
    client.force_login(station_staff)
    response = client.get(reverse("home"))
    work = response.context["work"]
    assert [(level, count) for level, _label, count in work["alert_levels"]] == [(4, 1), (3, 1), (2, 0), (1, 0)]
    week = {row["grid_manager_id"]: (row["done"], row["planned"]) for row in work["week_visits"]}
    assert week == {grid_manager.pk: (1, 2)}
    assert [h.pk for h in work["hazards"]] == [hazard.pk]
    assert [i.pk for i in work["issues"]] == [issue.pk]
    days = {day: (residents, persons) for day, residents, persons in work["arrival_days"]}
    assert len(days) == 7 and days[resident.arrival_date] == (1, resident.persons)
    body = response.content.decode()
    assert f"{reverse('loadforecast:alert_list')}?level=4" in body
    assert f"{reverse('visits:calendar')}?manager={grid_manager.pk}" in body
    assert reverse("visits:hazard_detail", args=[hazard.pk]) in body


# --- County admin ----------------------------------------------------------------------------


def test_county_admin_sees_list_coverage_imports_and_progress(client, world, county_admin, grid_manager):
    today = timezone.localdate()
    # 甲一网格's village sent its list this season; 甲二网格's only has a resident met on a visit.
    ReturningResidentFactory(village=world.grids["a1"].village, arrival_date=today + dt.timedelta(days=20))
    ReturningResidentFactory(village=world.grids["a2"].village, arrival_date=today + dt.timedelta(days=20),
                             source="visit")
    ReturningResidentFactory(village=world.grids["b1"].village, arrival_date=today + dt.timedelta(days=20))
    failed = ImportJob.objects.create(user=county_admin, kind="residents", file_name="返乡名单.xlsx",
                                      status=ImportJob.Status.FAILED)
    waiting = ImportJob.objects.create(user=county_admin, kind="residents", file_name="待确认.xlsx",
                                       status=ImportJob.Status.PREVIEWED)
    ImportJob.objects.create(user=county_admin, kind="residents", file_name="已完成.xlsx", status=ImportJob.Status.DONE)
    rnd = RoundFactory(county=world.county_a)
    a1 = world.grids["a1"]
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, round=rnd,
                         status=Visit.Status.DONE, done_at=timezone.now())
    ServiceCardRecordFactory(grid=a1.grid, grid_manager=grid_manager, visit=visit, village=None, handed_out=5)
    ServiceCardRecordFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, round=rnd,
                             handed_out=0, posted=30)
    CustomerIssueFactory(grid=a1.grid, status=CustomerIssue.Status.RESOLVED,
                         resolved_at=timezone.now())
    CustomerIssueFactory(grid=world.grids["b1"].grid, status=CustomerIssue.Status.RESOLVED,
                         resolved_at=timezone.now())

    client.force_login(county_admin)
    response = client.get(reverse("home"))
    work = response.context["work"]
    coverage = work["coverage"]
    assert (coverage.sent, coverage.villages) == (1, 3)
    assert [v.pk for v in coverage.missing] == [world.grids["a2"].village.pk, world.grids["a3"].village.pk]
    assert {job.pk for job in work["imports"]} == {failed.pk, waiting.pk}
    assert work["progress"] == {"rounds": 1, "visits_done": 1, "cards": 35, "issues_resolved": 1}
    body = response.content.decode()
    assert reverse("imports:preview", args=[failed.pk]) in body
    assert "已完成.xlsx" not in body
    assert reverse("portal:village_detail", args=[world.grids["a2"].village.pk]) in body


def test_list_coverage_counts_the_season_of_today_only(world, county_admin):
    """By the entries' stored season (docs/domain.md §6.7): last season's list of a village is
    not this season's, wherever its dates fall."""
    from customers.selectors import list_coverage
    from zhoukou_grid.core.lunar_calendar import lunar_new_year, season_of

    today = timezone.localdate()
    season = season_of(today)
    village = world.grids["a1"].village
    last = ReturningResidentFactory(village=village, arrival_date=lunar_new_year(season - 1) - dt.timedelta(days=3))
    assert last.season == season - 1
    assert list_coverage(county_admin, today=today).sent == 0
    ReturningResidentFactory(village=village, arrival_date=lunar_new_year(season) - dt.timedelta(days=3))
    assert list_coverage(county_admin, today=today).sent == 1


# --- Queries ---------------------------------------------------------------------------------

# The whole page: session, user, roles, permissions and notifications included. Station staff: one
# more for the key customers behind their cadence.
# Grid manager: the work of the day (16), the stale village lists and the season outlook (1 each).
HOME_QUERIES = {"grid_manager": 18, "station_staff": 24, "county_admin": 21}


@pytest.mark.parametrize("persona", sorted(HOME_QUERIES))
def test_each_home_takes_a_pinned_number_of_queries(client, world, personas, persona, django_assert_num_queries):
    user = getattr(personas, persona)
    client.force_login(user)
    for key in ("a1", "a2"):
        _work(world, personas.grid_manager, key=key)
    client.get(reverse("home"))  # the first request of a session also updates it
    with django_assert_num_queries(HOME_QUERIES[persona]):
        client.get(reverse("home"))
    for key in ("a1", "a2", "a3"):
        for _ in range(3):
            _work(world, personas.grid_manager, key=key)
        customer = KeyCustomerFactory(grid=world.grids[key].grid)
        plan = ServicePlan.objects.create(customer=customer, version=1, status=ServicePlan.Status.APPROVED,
                                          approved_at=timezone.now() + dt.timedelta(minutes=1))
        # Drafted and approved long ago (the database refuses an approval before the draft).
        approved = timezone.now() - dt.timedelta(days=400)
        ServicePlan.objects.filter(pk=plan.pk).update(created_at=approved - dt.timedelta(days=1), approved_at=approved)
    with django_assert_num_queries(HOME_QUERIES[persona]):
        client.get(reverse("home"))


@pytest.mark.parametrize("persona", sorted(HOME_QUERIES))
def test_each_home_speaks_chinese(client, world, personas, persona):
    _work(world, personas.grid_manager)
    client.force_login(getattr(personas, persona))
    body = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    english = ["Today's visits", "Overdue hazards and issues", "Load alerts in your grid", "Arriving this week",
               "Open load alerts", "Visits this week", "Hazards and issues past their deadline", "Arrivals per day",
               "Key customers behind their visit cadence", "villages have sent their list",
               "Imports waiting or failed", "Visit progress", " due ", "persons ("]
    assert not [words for words in english if words in body]
    chinese = {"grid_manager": "今日走访", "station_staff": "本周走访", "county_admin": "待处理或失败的导入"}
    assert chinese[persona] in body
