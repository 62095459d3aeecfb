"""The pure parts of bench/load's driver: percentiles, the user mix, loopback only, and the
visit log it posts (checked against the real form, so a changed form breaks this test
rather than the benchmark). The benchmark itself is not run here."""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import random
import statistics
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.visits.factories import VisitFactory
from visits.models import ChecklistItem, CustomerIssue, Hazard, ServiceCardRecord, Visit, VisitLog

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "load"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("bench_load", str(SCRIPT))
    spec = importlib.util.spec_from_loader("bench_load", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


load = _load_script()


# --- Percentiles -------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [10, 20, 30, 40], list(range(1, 101)),
                                    [0.5, 120.0, 7.25, 7.25, 3000.0, 41.0, 2.0]])
def test_percentiles_interpolate_like_statistics_inclusive(values):
    if len(values) > 1:
        expected = statistics.quantiles(values, n=100, method="inclusive")  # the 1st…99th percentiles
        for q in (1, 50, 95, 99):
            assert load.percentile(values, q) == pytest.approx(expected[q - 1])
    assert load.percentile(values, 0) == min(values)
    assert load.percentile(values, 100) == max(values)


def test_percentiles_of_known_values():
    assert load.percentile(list(range(1, 101)), 50) == pytest.approx(50.5)
    assert load.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert load.percentile([100.0, 200.0], 95) == pytest.approx(195.0)


def test_percentile_refuses_nothing_and_out_of_range():
    with pytest.raises(ValueError):
        load.percentile([], 50)
    with pytest.raises(ValueError):
        load.percentile([1.0], 101)


def test_the_summary_counts_errors_apart_from_the_latencies():
    samples = ([load.Sample("today", float(ms)) for ms in range(1, 101)]
               + [load.Sample("today", 60000.0, "ReadTimeout: ")]
               + [load.Sample("progress report", 900.0)])
    rows = {row.kind: row for row in load.summarize(samples)}
    assert list(rows) == ["today", "progress report"]  # the printing order, types without requests left out
    today = rows["today"]
    assert (today.count, today.errors, today.max) == (101, 1, 100.0)
    assert today.p95 == pytest.approx(95.05)
    assert (today.target, today.verdict) == (300, "ok")
    assert (rows["progress report"].target, rows["progress report"].verdict) == (None, "")
    assert load.Summary("log form", 1, 0, 350.0, 350.0, 350.0, 350.0, 300).verdict == "OVER"


# --- The mix of users --------------------------------------------------------------------

def test_fifty_users_are_shared_out_by_the_default_mix():
    assert load.split_users(50, load.parse_mix(load.DEFAULT_MIX)) == {
        "grid_manager": 35, "station_staff": 10, "county_admin": 5}


@pytest.mark.parametrize("total", [1, 2, 3, 7, 49, 50, 51, 200])
def test_the_split_adds_up_and_gives_every_wanted_role_someone(total):
    counts = load.split_users(total, {"grid_manager": 98, "station_staff": 1, "county_admin": 1})
    assert sum(counts.values()) == total
    if total >= 3:
        assert min(counts.values()) >= 1
        assert counts["grid_manager"] == max(counts.values())


def test_a_role_left_out_of_the_mix_gets_nobody():
    assert load.split_users(10, load.parse_mix("grid_manager=1,station_staff=1")) == {
        "grid_manager": 5, "station_staff": 5, "county_admin": 0}


@pytest.mark.parametrize("text", ["", "cashier=5", "grid_manager", "grid_manager=-1", "grid_manager=0",
                                  "grid_manager=abc"])
def test_a_bad_mix_is_refused(text):
    with pytest.raises(ValueError):
        load.parse_mix(text)


def test_think_times():
    assert load.parse_think("1-3") == (1.0, 3.0)
    assert load.parse_think("0.5") == (0.5, 0.5)
    with pytest.raises(ValueError):
        load.parse_think("3-1")


# --- Loopback only -----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["127.0.0.1", "http://127.0.0.1:8000/visits/field/today/"])
def test_loopback_is_accepted(target):
    assert load.require_loopback(target) == "127.0.0.1"


@pytest.mark.parametrize("target", ["10.0.0.5", "0.0.0.0", "localhost", "example.com", "::1", "127.0.0.2",
                                    "http://192.168.1.20:8000/", "https://portal.example.com/", ""])
def test_any_other_host_is_refused(target):
    with pytest.raises(ValueError, match="only targets 127.0.0.1"):
        load.require_loopback(target)


def test_the_command_refuses_another_host_before_touching_anything(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load.main(["--host", "10.1.2.3"])
    assert exit_info.value.code == 2
    assert "only targets 127.0.0.1" in capsys.readouterr().err


def test_the_driver_refuses_another_host_before_any_request():
    with pytest.raises(ValueError, match="only targets 127.0.0.1"):
        asyncio.run(load.drive("http://10.1.2.3:8000", [("grid_manager", "someone")], "secret",
                               duration=1, think=(0, 0), hazard_deadline="2030-01-01"))


# --- What a grid manager posts -----------------------------------------------------------

class AlwaysFirst(random.Random):
    """Draws 0.0: every optional part (hazard, issue) is filled in, first choices taken."""

    def random(self):
        return 0.0


def test_the_posted_visit_log_is_what_the_form_needs(world, grid_manager, client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a1 = world.grids["a1"]
    visit = VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])
    client.force_login(grid_manager)

    today = client.get(reverse("visits:field_today")).content.decode()
    url = load.LOG_LINK.search(today).group(1)
    assert url == reverse("visits:field_visit_log", args=[visit.pk])
    form = load.parse_form(client.get(url).content.decode(), field_name="client_key")
    assert form.value("csrfmiddlewaretoken") is not None and form.value("hazard-TOTAL_FORMS") == "2"

    deadline = (timezone.localdate() + timezone.timedelta(days=14)).isoformat()
    data = load.visit_log_post(form, client_key="load-0123456789abcdef", deadline=deadline, rng=AlwaysFirst())
    response = client.post(url, data)

    assert response.status_code == 302 and response["Location"] == reverse("visits:field_today")
    log = VisitLog.objects.get(client_key="load-0123456789abcdef")
    assert log.visit_id == visit.pk and log.met_person == "户主"
    assert log.checklist.count() == len(ChecklistItem.choices)
    assert Hazard.objects.filter(visit_log=log).count() == 1
    assert CustomerIssue.objects.filter(visit_log=log).count() == 1
    assert ServiceCardRecord.objects.get(visit=visit).handed_out == 1
    assert Visit.objects.get(pk=visit.pk).status == Visit.Status.DONE
    # Done: "today" offers no log form for it any more.
    assert load.LOG_LINK.search(client.get(reverse("visits:field_today")).content.decode()) is None


def test_the_last_page_is_read_from_the_pagination_links():
    html = '<a href="?page=1">First</a><a href="?q=x&amp;page=3" rel="next">Next</a><a href="?page=7">Last</a>'
    assert load.last_page(html) == 7
    assert load.last_page("<p>no pages</p>") == 1


def test_the_report_fails_the_run_on_any_error_and_shows_examples(capsys):
    machine = {"cpus": 2, "load_before": "0.1", "load_after": "0.2", "busy": 50.0, "gunicorn": 30.0,
               "postgres": 10.0, "driver": 2.0}
    run = load.Run("http://127.0.0.1:8000", 0.0, (1, 3), "2030-01-01")
    run.samples = [load.Sample("today", 40.0), load.Sample("alert queue", 55.0)]
    assert load.report(run, 10.0, machine=machine) == 0
    run.samples.append(load.Sample("log submit", 80.0, "HTTP 400: This visit has already been logged.",
                                   "/visits/field/visits/7/log/"))
    assert load.report(run, 10.0, machine=machine) == 1
    printed = capsys.readouterr().out
    assert "errors: 1" in printed and "1 × log submit: HTTP 400: This visit has already been logged." in printed
