"""The progress report page: figures equal a hand count per grouping, scoped per persona,
the XLSX holds the same rows and is audited, and the page's query count is pinned."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests.visits.factories import HazardFactory, RoundFactory, ServiceCardRecordFactory, VisitFactory
from tests.visits.test_selectors import small_world  # noqa: F401  (the hand-counted world)
from visits.views_progress import COLUMNS, GROUPINGS
from zhoukou_grid.core.models import AuditLog

URL = "/visits/progress/"


def _report(client, user, **params):
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.context["report"]


def _by_label(report) -> dict:
    return {row["label"]: row for row in report["rows"]}


def test_the_url_is_named():
    assert reverse("visits:progress") == URL


def test_per_grid_for_a_round_equals_the_hand_count(client, world, personas, small_world):  # noqa: F811
    rnd, _manager_a2, _hazard = small_world
    report = _report(client, personas.station_staff, round=rnd.pk, group_by="grid")
    rows = _by_label(report)
    assert set(rows) == {"甲一网格", "甲二网格"}
    a1, a2 = rows["甲一网格"], rows["甲二网格"]
    # a1: v1 done, v2 missed, one planned later and one proposed after the miss.
    assert (a1["visits_scheduled"], a1["visits_done"], a1["visits_missed"], a1["visits_planned"]) == (4, 1, 1, 2)
    assert (a1["targets"], a1["targets_covered"], a1["coverage_percent"]) == (2, 1, 50.0)
    assert a1["cards"] == 2 + 1 + 40 + 10
    assert a1["guidance"] == 2  # payment and balance at v1
    assert (a1["hazards_found"], a1["hazards_rectified"], a1["issues_opened"], a1["issues_resolved"]) == (1, 1, 1, 1)
    assert (a2["visits_scheduled"], a2["visits_done"], a2["cards"], a2["guidance"], a2["coverage_percent"]) == (
        1, 1, 5, 1, 100.0)
    totals = report["totals"]
    assert (totals["rounds"], totals["visits_done"], totals["cards"], totals["issues_resolved"]) == (1, 2, 58, 1)
    assert totals["coverage_percent"] == round(100 * 2 / 3, 1)


def test_per_station_county_and_manager(client, world, personas, small_world):  # noqa: F811
    rnd, manager_a2, _hazard = small_world
    station = _by_label(_report(client, personas.county_admin, round=rnd.pk, group_by="station"))
    assert set(station) == {"甲一所"}
    assert (station["甲一所"]["visits_done"], station["甲一所"]["visits_missed"], station["甲一所"]["cards"]) == (2, 1, 58)
    county = _by_label(_report(client, personas.company_admin, round=rnd.pk, group_by="county"))
    assert set(county) == {"周口甲县"}  # the other county's visit has no round
    assert county["周口甲县"]["targets"] == 3 and county["周口甲县"]["targets_covered"] == 2
    managers = _by_label(_report(client, personas.station_staff, round=rnd.pk, group_by="grid_manager"))
    mine, theirs = managers["grid_manager"], managers["manager_a2"]
    # v3 was logged by station staff, but it is manager_a2's visit; the 40+10 bulk cards are grid_manager's.
    assert (mine["visits_done"], mine["visits_missed"], mine["cards"]) == (1, 1, 53)
    assert (theirs["visits_done"], theirs["cards"]) == (1, 5)
    # No target list per manager: coverage is only in the totals.
    assert mine["coverage_percent"] is None


def test_date_range_without_a_round(client, world, personas, small_world):  # noqa: F811
    today = timezone.localdate()
    rows = _by_label(_report(client, personas.station_staff, start=today, end=today, group_by="grid"))
    # The planned visit three days ahead is outside the range; the standalone hazard is inside.
    assert rows["甲一网格"]["visits_scheduled"] == 2
    assert rows["甲一网格"]["hazards_found"] == 2 and rows["甲一网格"]["hazards_overdue"] == 1
    later = _report(client, personas.station_staff, start=today + timedelta(days=1), group_by="grid")
    assert later["totals"]["visits_scheduled"] == 2  # the later one and the one proposed after the miss


@pytest.mark.parametrize("persona, expected", [
    ("grid_manager", {"甲一网格"}),
    ("station_staff", {"甲一网格", "甲二网格"}),
    ("county_admin", {"甲一网格", "甲二网格"}),
    ("outsider", {"乙一网格"}),
    ("nobody", set()),
])
def test_each_persona_sees_their_territory_only(client, world, personas, small_world, persona, expected):  # noqa: F811
    report = _report(client, getattr(personas, persona), group_by="grid")
    assert set(_by_label(report)) == expected


def test_the_default_grouping_follows_the_role(client, world, personas, small_world):  # noqa: F811
    client.force_login(personas.county_admin)
    assert client.get(URL).context["group_by"] == "station"
    client.force_login(personas.grid_manager)
    response = client.get(URL)
    assert response.context["group_by"] == "grid_manager"
    assert set(_by_label(response.context["report"])) == {"grid_manager"}


def test_a_round_of_another_county_is_refused_and_shows_nothing_of_it(client, world, personas, small_world):  # noqa: F811
    rnd, _manager_a2, _hazard = small_world
    client.force_login(personas.outsider)
    response = client.get(URL, {"round": rnd.pk, "group_by": "grid"})
    assert response.status_code == 200
    assert "round" in response.context["form"].errors
    assert "甲一网格" not in response.content.decode()
    assert response.context["round"] is None


def test_the_round_choices_of_a_grid_manager_come_from_their_visits(client, world, personas, small_world):  # noqa: F811
    rnd, _manager_a2, _hazard = small_world
    client.force_login(personas.grid_manager)
    choices = list(client.get(URL).context["form"].fields["round"].queryset)
    assert choices == [rnd]
    client.force_login(personas.outsider)
    assert list(client.get(URL).context["form"].fields["round"].queryset) == []


def test_the_xlsx_has_the_same_rows_and_is_audited(client, world, personas, small_world):  # noqa: F811
    rnd, _manager_a2, _hazard = small_world
    report = _report(client, personas.station_staff, round=rnd.pk, group_by="grid")
    response = client.get(URL, {"round": rnd.pk, "group_by": "grid", "format": "xlsx"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet_rows = list(workbook.active.iter_rows(values_only=True))
    with translation.override(settings.LANGUAGE_CODE):
        assert list(sheet_rows[0]) == [str(GROUPINGS[1][1]), *(str(header) for _key, header in COLUMNS)]
        expected = [[row["label"], *row["cells"]] for row in report["rows"]]
        expected.append([translation.gettext("Total"), *report["totals"]["cells"]])
    assert [list(row) for row in sheet_rows[1:]] == expected
    audit = AuditLog.objects.get(action="export", user=personas.station_staff)
    assert audit.detail["kind"] == "progress_report"
    assert audit.detail["rows"] == 2
    assert audit.detail["filters"] == {"round": rnd.pk, "group_by": "grid"}


def test_the_page_draws_a_chart_from_json_script_data(client, world, personas, small_world):  # noqa: F811
    rnd, _manager_a2, _hazard = small_world
    client.force_login(personas.station_staff)
    response = client.get(URL, {"round": rnd.pk, "group_by": "grid"})
    html = response.content.decode()
    assert 'id="progress-data"' in html and "js/progress_chart.js" in html
    chart = response.context["chart"]
    assert chart["labels"] == ["甲一网格", "甲二网格"]
    assert chart["series"][0]["data"] == [1, 1]
    assert "<script>" not in html and "style=" not in html


def _page_queries(client, user, **params) -> int:
    client.force_login(user)
    # One request first: the navigation's cached counts (unread notifications) are then warm
    # for both measured requests alike.
    client.get(URL, params)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("group_by", ["grid_manager", "grid", "station", "county"])
def test_the_page_takes_the_same_queries_for_1_or_30_visits(client, world, personas, group_by):
    rnd = RoundFactory(county=world.county_a, station=world.station_a1)
    a1 = world.grids["a1"]
    VisitFactory(round=rnd, grid=a1.grid, grid_manager=personas.grid_manager, village=a1.village)
    one = _page_queries(client, personas.county_admin, round=rnd.pk, group_by=group_by)
    for grid in ("a1", "a2", "a3"):
        for _ in range(10):
            VisitFactory(round=rnd, grid=world.grids[grid].grid, village=world.grids[grid].village,
                         status="done", done_at=timezone.now())
            ServiceCardRecordFactory(grid=world.grids[grid].grid, village=world.grids[grid].village, round=rnd)
            HazardFactory(grid=world.grids[grid].grid)
    thirty = _page_queries(client, personas.county_admin, round=rnd.pk, group_by=group_by)
    assert one == thirty
    # Session, user, territory, navigation, round choices and progress_counts: 17 on PostgreSQL.
    assert thirty <= 17
