"""The load-forecast API: scoped reads with pinned query counts, alert actions and
measures through the services, "run now" enqueued on commit (one run for two clicks),
settings changed by county admins only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from loadforecast.models import Alert, AlertHistory, Measure, ProjectionRun, ProjectionSettings
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.loadforecast.factories import AlertFactory, AssetProjectionFactory, ProjectionRunFactory
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def alerts(world):
    """One overload alert per grid: a1 and a2 (station 甲一所), a3 (甲二所), b1 (乙县)."""
    return {key: AlertFactory(grid=world.grids[key].grid) for key in ("a1", "a2", "a3", "b1")}


@pytest.fixture
def other_station_staff(world):
    """Station staff of 乙一所: the same role, elsewhere."""
    user = UserFactory(username="staff_b1")
    RoleAssignmentFactory(user=user, role=Role.STATION_STAFF, station=world.station_b1)
    return user


# --- Reads --------------------------------------------------------------------------
def test_each_persona_lists_only_the_alerts_of_their_territory(personas, alerts):
    url = "/api/v1/alerts/"
    assert ids(api(personas.station_staff).get(url)) == {alerts["a1"].pk, alerts["a2"].pk}
    assert ids(api(personas.grid_manager).get(url)) == {alerts["a1"].pk}
    assert ids(api(personas.county_admin).get(url)) == {alerts[k].pk for k in ("a1", "a2", "a3")}
    assert ids(api(personas.outsider).get(url)) == {alerts["b1"].pk}
    assert api(personas.nobody).get(url).status_code == 403


def test_an_alert_answers_its_asset_level_and_history(personas, alerts, world):
    alert = alerts["a1"]
    AlertHistory.objects.create(alert=alert, action="created", status="open", level=3)
    body = api(personas.grid_manager).get(f"/api/v1/alerts/{alert.pk}/").json()
    assert body["asset_type"] == "transformer"
    assert body["asset_code"] == world.grids["a1"].transformer.code
    assert (body["level"], body["level_code"], body["station"]) == (3, "overload", "JA-GDS-01")
    assert [h["action"] for h in body["history"]] == ["created"]
    assert api(personas.outsider).get(f"/api/v1/alerts/{alert.pk}/").status_code == 404


def test_alert_filters(personas, alerts, world):
    client = api(personas.county_admin)
    alerts["a2"].level = 2
    alerts["a2"].save()
    code = world.grids["a3"].transformer.code
    assert ids(client.get("/api/v1/alerts/", {"code": code})) == {alerts["a3"].pk}
    assert ids(client.get("/api/v1/alerts/", {"level": 2})) == {alerts["a2"].pk}
    assert ids(client.get("/api/v1/alerts/", {"station": "JA-GDS-02"})) == {alerts["a3"].pk}
    assert ids(client.get("/api/v1/alerts/", {"asset_type": "lvline"})) == set()
    Alert.objects.filter(pk=alerts["a1"].pk).update(status=Alert.Status.DISMISSED)
    assert ids(client.get("/api/v1/alerts/", {"active": "true"})) == {alerts["a2"].pk, alerts["a3"].pk}


def test_alert_list_query_count_does_not_grow_with_rows(personas, world, django_assert_max_num_queries):
    grid = world.grids["a1"].grid
    for day in range(12):
        AlertFactory(grid=grid, first_date=dt.date(2027, 2, 1) + dt.timedelta(days=day),
                     last_date=dt.date(2027, 2, 1) + dt.timedelta(days=day))
    client = api(personas.station_staff)
    # Session, user, role assignments, the station's county (territory), two permission
    # backends, roles, then count and page: nine, whatever the number of rows.
    with django_assert_max_num_queries(9):
        assert len(ids(client.get("/api/v1/alerts/"))) == 12


def test_projections_are_scoped_filtered_and_counted(personas, world, django_assert_max_num_queries):
    run = ProjectionRunFactory(run_date=dt.date(2027, 2, 1), station=world.station_a1)
    a1, a2 = world.grids["a1"], world.grids["a2"]
    rows = [AssetProjectionFactory(run=run, grid=a1.grid, transformer=a1.transformer,
                                   date=dt.date(2027, 2, 1) + dt.timedelta(days=d), level=d % 4) for d in range(10)]
    line_row = AssetProjectionFactory(run=run, grid=a1.grid, transformer=None, line=a1.line, peak_a=200.0)
    other = AssetProjectionFactory(run=run, grid=a2.grid, transformer=a2.transformer)
    url = "/api/v1/projections/"
    staff = api(personas.station_staff)
    with django_assert_max_num_queries(9):
        all_rows = ids(staff.get(url, {"run": run.pk, "page_size": 100}))
    assert all_rows == {r.pk for r in rows} | {line_row.pk, other.pk}
    assert ids(api(personas.grid_manager).get(url)) == {r.pk for r in rows} | {line_row.pk}
    assert ids(api(personas.outsider).get(url)) == set()
    client = api(personas.grid_manager)
    assert ids(client.get(url, {"asset_type": "lvline"})) == {line_row.pk}
    assert ids(client.get(url, {"code": a1.transformer.code, "level": 3})) == {rows[3].pk, rows[7].pk}
    assert ids(client.get(url, {"date": "2027-02-05", "asset_type": "transformer"})) == {rows[4].pk}
    assert ids(client.get(url, {"level_min": 3, "date_to": "2027-02-04"})) == {rows[3].pk}
    body = client.get(f"{url}{line_row.pk}/").json()
    assert (body["asset_type"], body["asset_code"], body["peak_a"]) == ("lvline", a1.line.code, 200.0)
    assert api(personas.outsider).get(f"{url}{line_row.pk}/").status_code == 404


# --- Alert actions and measures -------------------------------------------------------
def test_station_staff_acknowledge_an_alert_and_others_cannot(personas, alerts, other_station_staff):
    alert = alerts["a1"]
    assert api(personas.grid_manager).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert api(other_station_staff).post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 404
    assert api(personas.station_staff).post("/api/v1/alerts/987654/acknowledge/").status_code == 404
    response = api(personas.station_staff).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "acknowledged"
    assert [h["action"] for h in response.json()["history"]] == ["acknowledged"]
    assert AuditLog.objects.filter(action="alert.acknowledged", object_id=str(alert.pk)).exists()
    again = api(personas.station_staff).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 400 and "non_field_errors" in again.json()


def test_dismissing_needs_a_reason(personas, alerts):
    url = f"/api/v1/alerts/{alerts['a2'].pk}/dismiss/"
    client = api(personas.station_staff)
    assert client.post(url, {"reason": ""}, format="json").status_code == 400
    response = client.post(url, {"reason": "Transformer replaced last week"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dismissed"
    assert response.json()["history"][-1]["note"] == "Transformer replaced last week"


def test_plan_a_measure_mark_it_done_and_list_it(personas, alerts, world, other_station_staff):
    alert = alerts["a1"]
    payload = {"alert": alert.pk, "kind": "temp_capacity", "planned_date": "2027-02-03", "kva": 400}
    assert api(personas.grid_manager).post("/api/v1/measures/", payload, format="json").status_code == 403
    assert api(other_station_staff).post("/api/v1/measures/", payload, format="json").status_code == 404
    too_small = api(personas.station_staff).post("/api/v1/measures/", {**payload, "kva": 50}, format="json")
    assert too_small.status_code == 400 and "kva" in too_small.json()
    response = api(personas.station_staff).post("/api/v1/measures/", payload, format="json")
    assert response.status_code == 201, response.content
    measure_id = response.json()["id"]
    assert (response.json()["status"], response.json()["kva"]) == ("planned", 400.0)
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.MEASURE_PLANNED

    assert api(personas.grid_manager).post(f"/api/v1/measures/{measure_id}/done/").status_code == 403
    assert api(other_station_staff).post(f"/api/v1/measures/{measure_id}/done/").status_code == 404
    done = api(personas.station_staff).post(f"/api/v1/measures/{measure_id}/done/")
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["done_by"] == "station_staff"
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.DONE
    assert api(personas.station_staff).post(f"/api/v1/measures/{measure_id}/done/").status_code == 400
    # The grid manager reads the measure; the outsider does not.
    assert ids(api(personas.grid_manager).get("/api/v1/measures/", {"alert": alert.pk})) == {measure_id}
    assert ids(api(personas.outsider).get("/api/v1/measures/")) == set()


def test_a_transfer_names_a_tied_neighbour_by_code(personas, alerts, world):
    a1, a2 = world.grids["a1"], world.grids["a2"]
    a1.transformer.ties.add(a2.transformer)
    payload = {"alert": alerts["a1"].pk, "kind": "transfer", "planned_date": "2027-02-03", "kva": 30,
               "neighbour": "NO-SUCH"}
    client = api(personas.station_staff)
    unknown = client.post("/api/v1/measures/", payload, format="json")
    assert unknown.status_code == 400 and list(unknown.json()) == ["neighbour"]
    response = client.post("/api/v1/measures/", {**payload, "neighbour": a2.transformer.code}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["neighbour"] == a2.transformer.code
    assert Measure.objects.get(pk=response.json()["id"]).neighbour_id == a2.transformer.pk


# --- Runs -------------------------------------------------------------------------------
def test_run_now_is_enqueued_on_commit_and_a_second_click_joins_it(
        personas, world, django_capture_on_commit_callbacks):
    client = api(personas.station_staff)
    payload = {"station": "JA-GDS-01", "run_date": "2027-02-01", "days": 3}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post("/api/v1/projection-runs/", payload, format="json")
    assert first.status_code == 201, first.content
    assert len(callbacks) == 1  # the station chunks go to the workers only once the run row is committed
    assert (first.json()["status"], first.json()["station"], first.json()["days"]) == ("running", "JA-GDS-01", 3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = client.post("/api/v1/projection-runs/", payload, format="json")
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert callbacks == []
    assert ProjectionRun.objects.count() == 1


def test_run_now_runs_the_station_and_reports_its_status(personas, world, django_capture_on_commit_callbacks):
    client = api(personas.station_staff)
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery in tests: runs here
        response = client.post("/api/v1/projection-runs/", {"station": "JA-GDS-01", "run_date": "2027-02-01",
                                                            "days": 2}, format="json")
    run_id = response.json()["id"]
    status = client.get(f"/api/v1/projection-runs/{run_id}/status/").json()
    assert (status["status"], status["chunks_done"], status["chunks_total"]) == ("done", 1, 1)
    detail = client.get(f"/api/v1/projection-runs/{run_id}/").json()
    # The world's transformers have no metered load: skipped with the reason, not a failure.
    assert {s["reason"] for s in detail["skipped"]} == {"no load data"}
    assert api(personas.county_admin).get(f"/api/v1/projection-runs/{run_id}/").status_code == 200
    assert api(personas.outsider).get(f"/api/v1/projection-runs/{run_id}/status/").status_code == 404


def test_only_station_staff_and_admins_of_the_station_start_a_run(personas, world, other_station_staff):
    payload = {"station": "JA-GDS-01", "days": 2}
    assert api(personas.grid_manager).post("/api/v1/projection-runs/", payload, format="json").status_code == 403
    refused = api(other_station_staff).post("/api/v1/projection-runs/", payload, format="json")
    assert refused.status_code == 400 and "station" in refused.json()
    other_station = api(personas.station_staff).post("/api/v1/projection-runs/", {"station": "JA-GDS-02"},
                                                     format="json")
    assert other_station.status_code == 400
    bad_days = api(personas.station_staff).post("/api/v1/projection-runs/", {**payload, "days": 46}, format="json")
    assert bad_days.status_code == 400 and "days" in bad_days.json()
    assert not ProjectionRun.objects.exists()


def test_runs_are_scoped_by_station(personas, world):
    """The runs the runs page lists (selectors.runs_visible_to): the user's stations' runs and
    the runs of all stations (the nightly run), of which each sees their own stations only."""
    mine = ProjectionRunFactory(station=world.station_a1)
    other = ProjectionRunFactory(station=world.station_a2)
    everything = ProjectionRunFactory(station=None)
    assert ids(api(personas.station_staff).get("/api/v1/projection-runs/")) == {mine.pk, everything.pk}
    assert ids(api(personas.grid_manager).get("/api/v1/projection-runs/")) == {mine.pk, everything.pk}
    assert ids(api(personas.county_admin).get("/api/v1/projection-runs/")) == {mine.pk, other.pk, everything.pk}
    assert ids(api(personas.company_admin).get("/api/v1/projection-runs/")) == {mine.pk, other.pk, everything.pk}
    assert ids(api(personas.outsider).get("/api/v1/projection-runs/")) == {everything.pk}
    assert api(personas.nobody).get("/api/v1/projection-runs/").status_code == 403


def test_a_run_of_all_stations_shows_each_user_their_own_stations_like_the_page(personas, world, client):
    a1, a2 = world.grids["a1"], world.grids["a2"]
    own, other = world.station_a1.code, world.station_a2.code
    run = ProjectionRunFactory(
        station=None, status="done", counts={"asset_days": 30, "stations": {own: {"asset_days": 10},
                                                                             other: {"asset_days": 20}}},
        timings={"read": 1.0, "stations": {own: {"read": 0.4}, other: {"read": 0.6}}},
        skipped=[{"station": own, "code": a1.transformer.code, "reason": "no load data"},
                 {"station": own, "code": a2.transformer.code, "reason": "no load data"},
                 {"station": other, "code": "T-OTHER", "reason": "invalid rating"}],
        error=f"{other}: OperationalError: x")
    body = api(personas.station_staff).get(f"/api/v1/projection-runs/{run.pk}/").json()
    assert body["counts"]["stations"] == {own: {"asset_days": 10}} and body["counts"]["asset_days"] == 10
    assert set(body["timings"]["stations"]) == {own}
    assert [s["code"] for s in body["skipped"]] == [a1.transformer.code, a2.transformer.code]
    assert body["error"] == ""
    # A grid manager: their grid's assets only. The page shows the same.
    body = api(personas.grid_manager).get(f"/api/v1/projection-runs/{run.pk}/").json()
    assert [s["code"] for s in body["skipped"]] == [a1.transformer.code]
    client.force_login(personas.grid_manager)
    page = client.get(reverse("loadforecast:load_run", args=[run.pk]))
    assert page.status_code == 200
    assert [s["code"] for s in page.context["skipped"]] == [a1.transformer.code]
    assert set(page.context["stations"]) == {own}
    full = api(personas.company_admin).get(f"/api/v1/projection-runs/{run.pk}/").json()
    assert full["counts"]["asset_days"] == 30 and len(full["skipped"]) == 3 and full["error"]


# --- Settings ----------------------------------------------------------------------------
def test_county_admins_change_settings_through_the_validating_service(personas, world):
    county_row = ProjectionSettings.objects.create(county=world.county_a, values={"household_extra_peak_kw": 3.0})
    url = f"/api/v1/projection-settings/{county_row.pk}/"
    assert api(personas.station_staff).patch(url, {"values": {"horizon_days": 10}}, format="json").status_code in (
        403, 404)
    bad = api(personas.county_admin).patch(url, {"values": {"household_extra_peak_kw": -1}}, format="json")
    assert bad.status_code == 400 and "values" in bad.json()
    assert api(personas.county_admin).patch(url, {"values": {"horizon_days": 46}}, format="json").status_code == 400
    ok = api(personas.county_admin).patch(url, {"values": {"horizon_days": 10}}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["values"] == {"horizon_days": 10}
    assert ok.json()["effective"]["horizon_days"] == 10 and ok.json()["effective"]["household_extra_peak_kw"] == 2.5
    assert AuditLog.objects.filter(action="projection_settings", object_id=str(county_row.pk)).exists()
    assert api(personas.outsider).get(url).status_code == 404


def test_a_station_override_is_created_and_read_on_top_of_the_county(personas, world):
    ProjectionSettings.objects.create(county=world.county_a, values={"household_extra_peak_kw": 3.0})
    created = api(personas.county_admin).post("/api/v1/projection-settings/", {
        "county": "411601", "station": "JA-GDS-01", "values": {"horizon_days": 14}}, format="json")
    assert created.status_code == 201, created.content
    # The station's staff read their county's settings and their override, with the
    # county's value underneath it; nothing of the other county.
    rows = sorted(api(personas.station_staff).get("/api/v1/projection-settings/").json()["results"],
                  key=lambda r: r["station"] or "")
    assert [(r["county"], r["station"], r["values"]) for r in rows] == [
        ("411601", None, {"household_extra_peak_kw": 3.0}), ("411601", "JA-GDS-01", {"horizon_days": 14})]
    assert rows[1]["effective"]["household_extra_peak_kw"] == 3.0 and rows[1]["effective"]["horizon_days"] == 14
    ProjectionSettings.objects.create(county=world.county_b, values={})
    assert len(api(personas.grid_manager).get("/api/v1/projection-settings/").json()["results"]) == 2
    assert api(personas.station_staff).patch(f"/api/v1/projection-settings/{rows[1]['id']}/", {
        "values": {}}, format="json").status_code == 403
    wrong = api(personas.county_admin).post("/api/v1/projection-settings/", {
        "county": "411601", "station": "YI-GDS-01", "values": {}}, format="json")
    assert wrong.status_code == 400 and "station" in wrong.json()
