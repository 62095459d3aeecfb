"""The pure parts of bench/projection's `--workers 1,2`: the parsing of the worker counts,
the worker time summed over the station tasks, the speed-up table and the code handed to
the enqueuing child for a county subset. The benchmark itself is not run here."""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "projection"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("bench_projection", str(SCRIPT))
    spec = importlib.util.spec_from_loader("bench_projection", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_projection"] = module
    loader.exec_module(module)
    return module


projection = _load_script()


# --- --workers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2", [2]), ("1,2", [1, 2]), ("2,1", [2, 1]), (" 1, 2 ,4", [1, 2, 4]), ("1,1,2", [1, 2]), ("32", [32]),
])
def test_worker_counts_parse_in_the_order_given(text, expected):
    assert projection.parse_workers(text) == expected


@pytest.mark.parametrize("text", ["", "0", "1,0", "-1", "1.5", "two", "1,,2", "33", "1;2"])
def test_worker_counts_refuse_what_is_not_a_count(text):
    with pytest.raises(argparse.ArgumentTypeError):
        projection.parse_workers(text)


def test_the_option_takes_a_list_and_keeps_two_workers_by_default(monkeypatch):
    """main()'s parser: the default stays two workers; `--workers 1,2` gives both."""
    seen = {}

    def stop_after_parsing(server, name, template, env):
        seen["name"] = name
        raise SystemExit(0)

    monkeypatch.setattr(projection, "ensure_database", stop_after_parsing)
    for argv, expected in ((["bench/projection"], [2]), (["bench/projection", "--workers", "1,2"], [1, 2])):
        monkeypatch.setattr(sys, "argv", argv)
        captured = {}
        original = argparse.ArgumentParser.parse_args

        def spy(self, *a, original=original, captured=captured, **k):
            captured["args"] = original(self, *a, **k)
            return captured["args"]

        monkeypatch.setattr(argparse.ArgumentParser, "parse_args", spy)
        with pytest.raises(SystemExit):
            projection.main()
        assert captured["args"].workers == expected
        assert captured["args"].counties is None


# --- Worker time and speed-up ------------------------------------------------------------

def test_station_seconds_sums_read_compute_write_over_the_stations():
    timings = {"read": 99.0, "wall": 12.0, "last_report_at": "2027-01-29T02:00:00+00:00",
               "stations": {"S1": {"read": 1.5, "compute": 0.25, "write": 2.0},
                            "S2": {"read": 0.5, "compute": 0.75, "write": 1.0, "other": 40.0},
                            "S3": {}}}
    assert projection.station_seconds(timings) == pytest.approx(6.0)
    assert projection.station_seconds({}) == 0


def test_speedup_is_against_the_fewest_workers_whatever_the_order():
    results = [
        {"workers": 2, "status": "done", "wall": 60.0, "to_last_station": 50.0, "station_seconds": 110.0,
         "rss": [140.0, 138.0]},
        {"workers": 1, "status": "done", "wall": 90.0, "to_last_station": 80.0, "station_seconds": 85.0,
         "rss": [150.0]},
    ]
    rows = projection.speedup_rows(results)
    assert [row["workers"] for row in rows] == [2, 1]
    two, one = rows
    assert one["speedup"] == pytest.approx(1.0)
    assert one["efficiency"] == pytest.approx(1.0)
    assert two["speedup"] == pytest.approx(90.0 / 60.0)
    assert two["speedup_stations"] == pytest.approx(80.0 / 50.0)
    assert two["efficiency"] == pytest.approx(0.75)
    assert two["rss"] == [140.0, 138.0]


def test_speedup_leaves_an_unfinished_run_blank_and_uses_the_finished_ones():
    results = [{"workers": 1, "status": "timeout", "wall": None, "to_last_station": None, "rss": [100.0]},
               {"workers": 2, "status": "done", "wall": 40.0, "to_last_station": 35.0, "rss": [90.0, 91.0]},
               {"workers": 4, "status": "done", "wall": 30.0, "to_last_station": 28.0, "rss": [80.0] * 4}]
    rows = projection.speedup_rows(results)
    assert rows[0]["speedup"] is None and rows[0]["efficiency"] is None
    assert rows[1]["speedup"] == pytest.approx(1.0)  # the base: fewest workers that finished
    assert rows[2]["speedup"] == pytest.approx(40.0 / 30.0)
    assert rows[2]["efficiency"] == pytest.approx(40.0 / 30.0 / 2)
    assert projection.speedup_rows([{"workers": 1, "wall": None}]) == []


def test_the_table_has_a_line_per_worker_count_with_its_figures():
    rows = projection.speedup_rows([
        {"workers": 1, "status": "done", "wall": 90.0, "to_last_station": 80.0, "station_seconds": 85.0,
         "rss": [150.4]},
        {"workers": 2, "status": "done", "wall": 60.0, "to_last_station": 50.0, "station_seconds": 110.0,
         "rss": [140.0, 138.2]},
    ])
    header, one, two = projection.format_table(rows)
    assert "workers" in header and "speed-up" in header and "RSS" in header
    assert one.split()[0] == "1" and "90.0 s" in one and "85.0 s" in one and "1.00×" in one and "150 MB" in one
    assert two.split()[0] == "2" and "60.0 s" in two and "110.0 s" in two and "1.50×" in two
    assert "1.60×" in two and "75%" in two and "140 / 138 MB" in two
    unfinished = projection.format_table([{"workers": 3, "status": "timeout", "rss": []}])[1]
    assert unfinished.split()[:2] == ["3", "timeout"] and "—" in unfinished


# --- The enqueuing child -----------------------------------------------------------------

def test_the_whole_city_goes_through_the_nightly_enqueue():
    code = projection.enqueue_code(dt.date(2027, 1, 29), 21, None)
    ast.parse(code)
    assert "projection_enqueue(run_date=dt.date.fromisoformat('2027-01-29'), days=21)" in code


def test_a_county_subset_sends_only_its_stations_and_closes_on_them():
    code = projection.enqueue_code(dt.date(2027, 1, 29), 14, 3)
    ast.parse(code)
    assert "[:3]" in code and "county__in=counties" in code
    assert "chunks_total=len(subset)" in code and "projection_send(run_id=run.pk, stations=subset)" in code
    assert "days=14" in code


@pytest.mark.django_db
def test_the_county_subset_code_runs_the_first_counties_stations_to_the_end(capsys):
    """The child's code itself (eager queue here): the run row is the city-wide one, only
    the first K counties' stations report, and it closes as done on them."""
    from loadforecast.models import ProjectionRun
    from tests.factories import CountyFactory, StationFactory

    counties = [CountyFactory() for _ in range(3)]
    first = [StationFactory(county=counties[0]), StationFactory(county=counties[0]), StationFactory(county=counties[1])]
    StationFactory(county=counties[2])
    exec(projection.enqueue_code(dt.date(2027, 1, 29), 7, 2), {})  # noqa: S102 - the bench's own code
    run = ProjectionRun.objects.get(pk=int(capsys.readouterr().out.strip().splitlines()[-1]))
    assert run.station_id is None
    assert run.status == ProjectionRun.Status.DONE, run.error
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert set(run.counts["stations"]) == {station.code for station in first}
