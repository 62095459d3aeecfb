"""The load-forecast pages, read and used by each persona: the alert queue, an alert and its
actions, the transformer and line pages, the heat table, the run history and "run now".

`overloaded_station` builds a small station whose transformer the returning households
push into overload (also used by the browser test)."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from loadforecast import engine
from loadforecast.models import Alert, AlertHistory, AssetProjection, LoadReading, Measure, ProjectionRun, pack_curve
from loadforecast.services import projection_run
from tests.factories import HouseholdFactory, ReturningResidentFactory, VillageFactory
from tests.loadforecast.factories import AlertFactory, ProjectionRunFactory
from tests.ui.test_csp_ready import assert_no_inline_code as _assert_no_inline_code
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

RUN_DATE = dt.date(2027, 2, 1)  # 除夕 2027-02-05 is day 4
DAYS = 7
BASE = np.array([60.0 + h for h in range(24)])


def overloaded_station(world, run_date=RUN_DATE, households=40, run=True, days=DAYS):
    """Station 甲一所: transformer a1 (160 kVA, 60–83 kW baseline) gets `households` returning
    households (30 in a1's village, the rest in 李庄) from the day after the run date for 8
    days, enough for overload; transformer a2 stays light (40 kW on 200 kVA). Runs the
    projection of the station when `run`."""
    a1, a2 = world.grids["a1"], world.grids["a2"]
    a1.transformer.rated_kva = 160
    a1.transformer.save()
    readings = [LoadReading(transformer=a1.transformer, grid=a1.grid, date=run_date - dt.timedelta(days=d), points=24,
                            hourly_kw=pack_curve(BASE)) for d in range(1, 15)]
    readings += [LoadReading(transformer=a2.transformer, grid=a2.grid, date=run_date - dt.timedelta(days=d),
                             points=24, hourly_kw=pack_curve([40.0] * 24)) for d in range(1, 15)]
    LoadReading.objects.bulk_create(readings)
    lizhuang = VillageFactory(grid=a1.grid, name="李庄")
    for i in range(households):
        village = a1.village if i < 30 else lizhuang
        household = HouseholdFactory(village=village, transformer=a1.transformer, line=a1.line)
        ReturningResidentFactory(village=village, household=household, arrival_date=run_date + dt.timedelta(days=1),
                                 departure_date=run_date + dt.timedelta(days=9))
    result = projection_run(run_date=run_date, days=days, station_id=world.station_a1.pk) if run else None
    return SimpleNamespace(a1=a1, a2=a2, lizhuang=lizhuang, run=result,
                           alert=Alert.objects.filter(transformer=a1.transformer).first())


def assert_no_inline_code(body: str, where: str) -> None:
    """No inline script, style or handler; the chart's json_script data is not code (a CSP
    never runs type="application/json")."""
    data = re.compile(r'<script id="[\w-]+" type="application/json">.*?</script>', re.S)
    _assert_no_inline_code(data.sub("", body), where)


def page(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    return response, response.content.decode()


def alert_url(alert):
    return reverse("loadforecast:alert_detail", args=[alert.pk])


QUEUE = reverse("loadforecast:alert_list")


# --- Scoping per persona -----------------------------------------------------------------------


@pytest.fixture
def two_station_alerts(world):
    mine = AlertFactory(grid=world.grids["a1"].grid, transformer=world.grids["a1"].transformer)
    other_station = AlertFactory(grid=world.grids["a3"].grid, transformer=world.grids["a3"].transformer)
    other_county = AlertFactory(grid=world.grids["b1"].grid, transformer=world.grids["b1"].transformer)
    return SimpleNamespace(mine=mine, other_station=other_station, other_county=other_county)


def test_station_staff_see_the_alerts_of_their_station_only(client, station_staff, two_station_alerts):
    _, body = page(client, station_staff, QUEUE)
    assert alert_url(two_station_alerts.mine) in body
    assert alert_url(two_station_alerts.other_station) not in body
    assert alert_url(two_station_alerts.other_county) not in body
    assert client.get(alert_url(two_station_alerts.other_station)).status_code == 404
    assert client.get(alert_url(two_station_alerts.mine)).status_code == 200


def test_a_county_admin_sees_every_station_of_the_county(client, county_admin, two_station_alerts):
    _, body = page(client, county_admin, QUEUE)
    assert alert_url(two_station_alerts.mine) in body and alert_url(two_station_alerts.other_station) in body
    assert alert_url(two_station_alerts.other_county) not in body


def test_an_outsider_gets_404_for_every_page_of_another_county(client, outsider, world, two_station_alerts):
    a1 = world.grids["a1"]
    run = ProjectionRunFactory(station=world.station_a1)
    client.force_login(outsider)
    for url in [alert_url(two_station_alerts.mine), reverse("loadforecast:load_transformer", args=[a1.transformer.pk]),
                reverse("loadforecast:load_line", args=[a1.line.pk]),
                reverse("loadforecast:load_heat", args=[world.station_a1.pk]),
                reverse("loadforecast:load_run", args=[run.pk]),
                reverse("loadforecast:load_stationsettings", args=[world.station_a1.pk])]:
        assert client.get(url).status_code == 404, url
    for url in [alert_url(two_station_alerts.mine), reverse("loadforecast:load_stationsettings",
                                                             args=[world.station_a1.pk])]:
        assert client.post(url, {"action": "acknowledge"}).status_code == 404, url
    _, body = page(client, outsider, QUEUE)
    assert alert_url(two_station_alerts.other_county) in body and alert_url(two_station_alerts.mine) not in body
    two_station_alerts.mine.refresh_from_db()
    assert two_station_alerts.mine.status == Alert.Status.OPEN


def test_a_grid_manager_reads_the_alert_but_has_no_actions(client, grid_manager, two_station_alerts):
    alert = two_station_alerts.mine
    response, body = page(client, grid_manager, alert_url(alert))
    assert response.status_code == 200
    assert "data-actions" not in body and 'name="action"' not in body
    for action in ("acknowledge", "dismiss", "plan"):
        response = client.post(alert_url(alert), {"action": action, "reason": "x", "kind": "patrol",
                                                  "planned_date": "2027-02-03"})
        assert response.status_code == 403, action
    measure = Measure.objects.create(alert=alert, kind="patrol", planned_date=RUN_DATE)
    assert client.post(alert_url(alert), {"action": "done", "measure": measure.pk}).status_code == 403
    alert.refresh_from_db()
    measure.refresh_from_db()
    assert alert.status == Alert.Status.OPEN and measure.status == Measure.Status.PLANNED
    assert not AlertHistory.objects.filter(alert=alert).exists()


def test_the_navigation_offers_the_load_forecast_and_the_alerts(client, station_staff, world):
    _, body = page(client, station_staff, reverse("home"))
    assert f'href="{reverse("loadforecast:load_overview")}"' in body
    assert f'href="{QUEUE}"' in body


# --- The queue ---------------------------------------------------------------------------------


def test_the_queue_is_sorted_by_level_then_first_day_and_hides_closed_alerts(client, station_staff, world):
    g = world.grids["a1"]
    make = lambda **kw: AlertFactory(grid=g.grid, transformer=g.transformer, **kw)  # noqa: E731
    watch_early = make(level=1, first_date=dt.date(2027, 2, 2), last_date=dt.date(2027, 2, 2))
    overload_late = make(level=3, first_date=dt.date(2027, 2, 6), last_date=dt.date(2027, 2, 7))
    overload_early = make(level=3, first_date=dt.date(2027, 2, 3), last_date=dt.date(2027, 2, 7))
    thermal = make(level=4, first_date=dt.date(2027, 2, 8), last_date=dt.date(2027, 2, 8))
    dismissed = make(level=4, status=Alert.Status.DISMISSED)
    mitigated = make(level=4, status=Alert.Status.MITIGATED)
    line_alert = AlertFactory(grid=g.grid, transformer=None, line=g.line, level=2)
    _, body = page(client, station_staff, QUEUE)
    order = [int(pk) for pk in re.findall(r'<tr data-alert="(\d+)"', body)]
    assert order == [thermal.pk, overload_early.pk, overload_late.pk, line_alert.pk, watch_early.pk]
    assert dismissed.pk not in order and mitigated.pk not in order

    def listed(**params):
        return {int(pk) for pk in re.findall(r'<tr data-alert="(\d+)"', page(client, station_staff, QUEUE, **params)[1])}

    assert listed(status="all") >= {dismissed.pk, mitigated.pk}
    assert listed(status="dismissed") == {dismissed.pk}
    assert listed(level="3") == {overload_early.pk, overload_late.pk}
    assert listed(asset_type="lvline") == {line_alert.pk}
    assert line_alert.pk not in listed(asset_type="transformer")
    assert listed(station=world.station_a1.pk) == set(order)
    assert listed(grid=world.grids["a2"].grid.pk) == set()
    assert listed(q=g.line.code) == {line_alert.pk}


def test_the_queue_pages_with_a_fixed_number_of_queries(client, station_staff, world):
    g = world.grids["a1"]
    run = ProjectionRunFactory(station=world.station_a1, run_date=RUN_DATE)

    def queries():
        client.force_login(station_staff)
        client.get(QUEUE)  # warm the session and the user's territory
        with CaptureQueriesContext(connection) as captured:
            assert client.get(QUEUE).status_code == 200
        return len(captured)

    AlertFactory(grid=g.grid, transformer=g.transformer, last_run=run)
    few = queries()
    for _ in range(12):
        AlertFactory(grid=g.grid, transformer=g.transformer, last_run=run)
    AlertFactory(grid=g.grid, transformer=None, line=g.line, last_run=run)
    assert queries() == few
    for _ in range(50):
        AlertFactory(grid=g.grid, transformer=g.transformer, last_run=run)
    response = client.get(QUEUE, {"page": 2})
    assert response.status_code == 200 and response.context["page_obj"].number == 2
    assert len(re.findall(r'<tr data-alert="', response.content.decode())) == 64 - 50


def test_the_queue_shows_hours_and_the_returning_households_by_village(client, station_staff, world):
    s = overloaded_station(world)
    alert = s.alert
    assert alert is not None and alert.level >= 2
    days = AssetProjection.objects.filter(transformer=s.a1.transformer, date__gte=alert.first_date,
                                          date__lte=alert.last_date)
    hours = (sum(d.hours_ge_80 for d in days), sum(d.hours_ge_100 for d in days))
    _, body = page(client, station_staff, QUEUE)
    row = re.search(rf'<tr data-alert="{alert.pk}".*?</tr>', body, re.S).group(0)
    assert re.search(rf"data-hours>\s*{hours[0]} / {hours[1]}", row)
    assert hours[0] > 0
    # 30 households in the grid's own village, 10 in 李庄, all present on the peak day.
    assert f"{s.a1.village.name} 30" in row and "李庄 10" in row
    assert f"{round(alert.peak_load_rate * 100)}%" in row


# --- An alert ----------------------------------------------------------------------------------


def test_the_alert_page_shows_the_sized_measures_the_thresholds_and_the_hourly_chart(client, station_staff, world):
    s = overloaded_station(world)
    alert = s.alert
    response, body = page(client, station_staff, alert_url(alert))
    assert response.status_code == 200
    temp = next(m for m in alert.measures if m["kind"] == "temp_capacity")
    assert f"{temp['kva']:g} kVA" in unescape(body)
    staggered = next(m for m in alert.measures if m["kind"] == "staggered")
    assert f"{staggered['kw']:g} kW" in unescape(body)
    assert "≥ 80% for ≥ 2 hours in a row" in unescape(body) or "80%" in unescape(body)
    # The form starts from the recommendation: temporary capacity of the recommended size.
    form = response.context["plan_form"]
    assert form.initial["kind"] == "temp_capacity" and form.initial["kva"] == temp["kva"]
    # The chart: recomputed on the run's inputs, its daily peaks are the stored ones.
    chart = json.loads(re.search(r'<script id="load-chart-data" type="application/json">(.*?)</script>', body,
                                 re.S).group(1))
    assert response.context["chart"]["matches_stored"] is True
    total = np.array(chart["baseline"]) + np.array(chart["increment"])
    stored = [p.peak_kw for p in AssetProjection.objects.filter(transformer=s.a1.transformer).order_by("date")]
    np.testing.assert_allclose(total.reshape(DAYS, 24).max(axis=1), stored, atol=0.02)
    assert chart["baseline"][:24] == pytest.approx(list(BASE))
    assert chart["capacity"] == pytest.approx(160 * 0.9)
    assert [line["kw"] for line in chart["lines"]] == pytest.approx([144.0, 115.2, 100.8])
    assert len(chart["labels"]) == DAYS * 24
    assert_no_inline_code(body, "alert page")
    assert "vendor/chartjs/chart.umd.min.js" in body and "js/load_chart.js" in body


def test_acknowledge_plan_done_and_the_next_run_mitigates(client, station_staff, world):
    s = overloaded_station(world)
    alert, url = s.alert, alert_url(s.alert)
    client.force_login(station_staff)
    assert client.post(url, {"action": "acknowledge"}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    temp = next(m for m in alert.measures if m["kind"] == "temp_capacity")
    response = client.post(url, {"action": "plan", "kind": "temp_capacity", "kva": temp["kva"],
                                 "planned_date": "2027-02-02", "note": "箱变"})
    assert response.status_code == 302
    measure = Measure.objects.get(alert=alert)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MEASURE_PLANNED and measure.kva == temp["kva"]
    assert client.post(url, {"action": "done", "measure": measure.pk}).status_code == 302
    measure.refresh_from_db()
    alert.refresh_from_db()
    assert measure.status == Measure.Status.DONE and alert.status == Alert.Status.DONE
    assert [h.action for h in alert.history.order_by("at", "pk")] == [
        "created", "acknowledged", "measure_planned", "measure_done"]
    projection_run(run_date=RUN_DATE, days=DAYS, station_id=world.station_a1.pk)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MITIGATED
    body = client.get(url).content.decode()
    # A mitigated alert offers one action only: closing it (issue 5 scope 4).
    assert 'data-status="mitigated"' in body and 'value="close"' in body
    assert 'value="acknowledge"' not in body and "data-plan" not in body and "data-dismiss" not in body


def test_a_plan_with_bad_values_shows_the_errors_in_the_form(client, station_staff, world):
    g = world.grids["a1"]
    alert = AlertFactory(grid=g.grid, transformer=g.transformer)  # 200 kVA
    client.force_login(station_staff)
    response = client.post(alert_url(alert), {"action": "plan", "kind": "temp_capacity", "kva": "150",
                                              "planned_date": "2027-02-02"})
    assert response.status_code == 400
    errors = response.context["plan_form"].errors
    assert "kva" in errors and "200" in errors["kva"][0]
    response = client.post(alert_url(alert), {"action": "plan", "kind": "transfer", "kva": "40",
                                              "planned_date": "2027-02-02"})
    assert "neighbour" in response.context["plan_form"].errors
    response = client.post(alert_url(alert), {"action": "plan", "kind": "patrol", "planned_date": ""})
    assert "planned_date" in response.context["plan_form"].errors
    assert 'class="field-error"' in response.content.decode()
    assert not Measure.objects.exists()


def test_a_transfer_names_a_tied_neighbour_from_the_list(client, station_staff, world):
    g, neighbour = world.grids["a1"], world.grids["a2"].transformer
    g.transformer.ties.add(neighbour)
    alert = AlertFactory(grid=g.grid, transformer=g.transformer)
    response, _ = page(client, station_staff, alert_url(alert))
    assert list(response.context["plan_form"].fields["neighbour"].queryset) == [neighbour]
    response = client.post(alert_url(alert), {"action": "plan", "kind": "transfer", "kva": "40",
                                              "neighbour": neighbour.pk, "planned_date": "2027-02-02"})
    assert response.status_code == 302
    assert Measure.objects.get(alert=alert).neighbour == neighbour


def test_dismissing_needs_a_reason_shown_in_the_form(client, station_staff, world):
    g = world.grids["a1"]
    alert = AlertFactory(grid=g.grid, transformer=g.transformer)
    client.force_login(station_staff)
    response = client.post(alert_url(alert), {"action": "dismiss", "reason": "  "})
    assert response.status_code == 400
    assert "reason" in response.context["dismiss_form"].errors
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    assert client.post(alert_url(alert), {"action": "dismiss", "reason": "台区已割接"}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.DISMISSED
    assert alert.history.get(action="dismissed").note == "台区已割接"
    assert AuditLog.objects.filter(action="alert.dismissed", user=station_staff).exists()
    # Nothing more to do on it: acknowledging now is refused with a message, not a crash.
    response = client.post(alert_url(alert), {"action": "acknowledge"}, follow=True)
    assert response.status_code == 200 and "message-error" in response.content.decode()


# --- Transformer and line pages, heat table ----------------------------------------------------


def test_the_transformer_and_line_pages_show_the_latest_run_by_day(client, station_staff, world):
    s = overloaded_station(world)
    client.force_login(station_staff)
    body = client.get(reverse("loadforecast:load_transformer", args=[s.a1.transformer.pk])).content.decode()
    stored = AssetProjection.objects.filter(transformer=s.a1.transformer).order_by("date")
    assert len(re.findall(r'<tr data-day="', body)) == DAYS
    for row in stored:
        assert f'data-day="{row.date:%Y-%m-%d}"' in body
        assert f'data-rate="{row.peak_load_rate}"' in body
    assert alert_url(s.alert) in body
    assert 'id="load-chart-data"' in body
    body = client.get(reverse("loadforecast:load_line", args=[s.a1.line.pk])).content.decode()
    line_rows = AssetProjection.objects.filter(line=s.a1.line)
    assert line_rows.count() == DAYS
    for row in line_rows:
        assert f'data-rate="{row.peak_load_rate}"' in body
    assert 'id="load-chart-data"' in body
    assert_no_inline_code(body, "line page")


def _heat_cells(body):
    cells = {}
    for code, row in re.findall(r'<tr data-transformer="([^"]+)">(.*?)</tr>', body, re.S):
        cells[code] = [(css, float(rate) if rate else None) for css, rate in re.findall(
            r'<td class="heat ([\w-]+)"(?: data-rate="([^"]+)")?', row)]
    return cells


def test_the_heat_table_shows_the_stored_peak_load_rates(client, station_staff, world):
    s = overloaded_station(world)
    response, body = page(client, station_staff, reverse("loadforecast:load_heat", args=[world.station_a1.pk]))
    assert response.status_code == 200
    cells = _heat_cells(body)
    assert list(cells) == [s.a1.transformer.code, s.a2.transformer.code]  # the worst first
    settings = engine.ProjectionSettings()
    for transformer in (s.a1.transformer, s.a2.transformer):
        stored = list(AssetProjection.objects.filter(transformer=transformer).order_by("date"))
        assert [rate for _, rate in cells[transformer.code]] == [row.peak_load_rate for row in stored]
        for (css, _), row in zip(cells[transformer.code], stored, strict=True):
            rate = row.peak_load_rate
            expected = ("heat-overload" if rate >= settings.overload_load_rate else "heat-heavy"
                        if rate >= settings.heavy_load_rate else "heat-watch" if rate >= settings.watch_load_rate
                        else "heat-normal" if rate >= settings.watch_load_rate / 2 else "heat-low")
            assert css == expected
    assert {css for css, _ in cells[s.a2.transformer.code]} == {"heat-low"}  # 40 kW of 180 kW: 22 %
    assert "heat-overload" in {css for css, _ in cells[s.a1.transformer.code]}
    assert_no_inline_code(body, "heat table")


def test_a_grid_manager_sees_the_transformers_of_their_grid_in_the_heat_table(client, grid_manager, world):
    s = overloaded_station(world)
    _, body = page(client, grid_manager, reverse("loadforecast:load_heat", args=[world.station_a1.pk]))
    assert list(_heat_cells(body)) == [s.a1.transformer.code]
    assert s.a2.transformer.code not in body


# --- Runs --------------------------------------------------------------------------------------


def test_the_run_history_shows_counts_timings_and_skipped_assets(client, station_staff, world):
    s = overloaded_station(world)
    LoadReading.objects.filter(transformer=s.a2.transformer).delete()
    run = projection_run(run_date=RUN_DATE, days=DAYS, station_id=world.station_a1.pk)
    other = ProjectionRunFactory(station=world.station_a2)
    _, body = page(client, station_staff, reverse("loadforecast:load_runs"))
    assert reverse("loadforecast:load_run", args=[run.pk]) in body
    assert reverse("loadforecast:load_run", args=[other.pk]) not in body
    response, body = page(client, station_staff, reverse("loadforecast:load_run", args=[run.pk]))
    assert response.status_code == 200
    skipped = re.search(r"data-skipped>.*?</table>", body, re.S).group(0)
    with translation.override("zh-hans"):  # the portal's language, and the reason as the run wrote it
        reason = translation.gettext("no load data")
    assert s.a2.transformer.code in skipped and reason in skipped
    assert f"{run.counts['asset_days']}" in body
    assert client.get(reverse("loadforecast:load_run", args=[other.pk])).status_code == 404


def test_run_now_starts_the_stations_run_and_a_second_click_starts_nothing(
        client, station_staff, world, django_capture_on_commit_callbacks):
    overloaded_station(world, run_date=dt.date.today(), run=False)
    client.force_login(station_staff)
    runs_url = reverse("loadforecast:load_runs")
    body = client.get(runs_url).content.decode()
    assert "data-run-now" in body
    with mock.patch("loadforecast.services.projection_send") as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(runs_url, {"station": world.station_a1.pk})
        assert response.status_code == 302
        assert enqueue.call_count == 1  # on commit
        run = ProjectionRun.objects.get(station=world.station_a1)
        # Started in the request, as by the API (services.projection_request); its messages wait for the commit.
        assert run.status == ProjectionRun.Status.RUNNING
        with django_capture_on_commit_callbacks(execute=True):
            client.post(runs_url, {"station": world.station_a1.pk})
        assert enqueue.call_count == 1
        assert ProjectionRun.objects.count() == 1
    assert AuditLog.objects.filter(action="projection.requested").count() == 1
    # Without the mock the click runs the projection (tasks are eager in tests) once the old one is done.
    ProjectionRun.objects.filter(pk=run.pk).update(status=ProjectionRun.Status.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(runs_url, {"station": world.station_a1.pk})
    run.refresh_from_db()
    assert run.status == ProjectionRun.Status.DONE and run.finished_at is not None
    assert Alert.objects.filter(transformer=world.grids["a1"].transformer).exists()
    body = client.get(runs_url).content.decode()
    assert f'data-run="{run.pk}" data-run-status="done"' in body


def test_run_now_is_refused_to_a_grid_manager_and_for_another_station(client, grid_manager, station_staff, world):
    client.force_login(grid_manager)
    runs_url = reverse("loadforecast:load_runs")
    assert "data-run-now" not in client.get(runs_url).content.decode()
    assert client.post(runs_url, {"station": world.station_a1.pk}).status_code == 403
    client.force_login(station_staff)
    assert client.post(runs_url, {"station": world.station_a2.pk}).status_code == 404
    assert not ProjectionRun.objects.exists()


# --- Overview and no inline code ---------------------------------------------------------------


def test_the_overview_counts_active_alerts_per_station(client, county_admin, world, two_station_alerts):
    response, body = page(client, county_admin, reverse("loadforecast:load_overview"))
    rows = {row["station"].pk: row for row in response.context["rows"]}
    assert rows[world.station_a1.pk]["active"] == 1 and rows[world.station_a2.pk]["active"] == 1
    assert world.station_b1.pk not in rows
    assert body.count("data-run-now") == 2  # a county admin may run either station
    assert_no_inline_code(body, "overview")


def test_the_overview_offers_run_now_for_the_own_station_only(client, station_staff, grid_manager, world):
    response, body = page(client, station_staff, reverse("loadforecast:load_overview"))
    assert [row["station"] for row in response.context["rows"]] == [world.station_a1]
    assert body.count("data-run-now") == 1
    _, body = page(client, grid_manager, reverse("loadforecast:load_overview"))
    assert "data-run-now" not in body and world.station_a1.name in body
