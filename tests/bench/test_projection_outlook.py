"""The pure parts of bench/projection's outlook pass: the outlook season of a run date, the
shift between two New Years, the village third whose lists are estimated, the SQL that
makes last season's lists, the missing metered days, the code handed to the enqueuing
child and the ratio line. The benchmark itself is not run here."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
import re
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from zhoukou_grid.core.lunar_calendar import lunar_new_year

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "projection"


def _load_script():
    loader = importlib.machinery.SourceFileLoader("bench_projection_outlook", str(SCRIPT))
    spec = importlib.util.spec_from_loader("bench_projection_outlook", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_projection_outlook"] = module
    loader.exec_module(module)
    return module


projection = _load_script()


# --- Season and shift ----------------------------------------------------------------------

@pytest.mark.parametrize(("run_date", "season"), [
    (dt.date(2026, 11, 8), 2027),  # N − 90
    (dt.date(2027, 1, 22), 2027),  # N − 15, the window's first day (the bench's default)
    (dt.date(2027, 2, 20), 2027),  # N + 14, the window's last day
    (dt.date(2027, 2, 21), 2028),  # N + 15: the next season
    (dt.date(2026, 3, 3), 2026),  # N(2026) = 2026-02-17, + 14
])
def test_the_outlook_season_is_the_first_new_year_on_or_after_d_minus_14(run_date, season):
    assert projection.outlook_season(run_date) == season
    assert lunar_new_year(season) >= run_date - dt.timedelta(days=14)
    assert lunar_new_year(season - 1) < run_date - dt.timedelta(days=14)


def test_the_shift_is_the_days_between_the_two_new_years():
    # 2026-02-17 and 2027-02-06 (正月初一 of the two years).
    assert projection.new_year_shift_days(2027) == (dt.date(2027, 2, 6) - dt.date(2026, 2, 17)).days
    fake = {2030: dt.date(2030, 2, 3), 2029: dt.date(2029, 2, 13)}.__getitem__
    assert projection.new_year_shift_days(2030, fake) == 355


def test_a_shifted_stay_keeps_its_place_relative_to_new_year():
    shift = projection.new_year_shift_days(2027)
    arrival = dt.date(2027, 1, 30)  # 初一 − 7
    assert lunar_new_year(2027) - arrival == lunar_new_year(2026) - (arrival - dt.timedelta(days=shift))


# --- The village third and last season's SQL -------------------------------------------------

def _sqlite(sql: str) -> str:
    return sql.replace("%%", "%")


def test_one_village_in_three_is_estimated_whatever_the_ids():
    ids = [3, 4, 9, 10, 11, 25, 26, 40, 41, 42, 43, 100, 101, 102, 200]
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE TABLE zhoukou_grid_village (id integer primary key)")
        connection.executemany("INSERT INTO zhoukou_grid_village VALUES (?)", [(i,) for i in reversed(ids)])
        chosen = sorted(row[0] for row in connection.execute(_sqlite(projection.ESTIMATED_VILLAGES_SQL)))
    assert chosen == ids[2::3]
    assert len(chosen) == len(ids) // 3


COLUMNS = ["id", "village_group", "account_no", "persons", "arrival_date", "departure_date", "arrived_at",
           "departed_at", "created_at", "updated_at", "household_id", "village_id", "season", "match_key"]


def _insert_parts(sql: str) -> dict[str, str]:
    match = re.match(r"INSERT INTO customers_returningresident \((.*?)\) SELECT (.*?) FROM customers_returningresident "
                     r"WHERE (.*) ORDER BY id$", sql)
    assert match, sql
    columns = match.group(1).split(", ")
    exprs = match.group(2).split(", ")
    assert len(columns) == len(exprs)
    return {**dict(zip(columns, exprs, strict=True)), "__where__": match.group(3)}


def test_last_season_copies_this_seasons_rows_of_the_third_moved_back_by_the_shift():
    parts = _insert_parts(projection.last_season_sql(COLUMNS))
    assert "id" not in parts
    assert parts["season"] == "%(season)s - 1"
    assert parts["arrival_date"] == "arrival_date - %(shift)s"
    assert parts["departure_date"] == "departure_date - %(shift)s"
    assert parts["arrived_at"] == parts["departed_at"].replace("departed_at", "arrived_at")
    assert "make_interval(days => %(shift)s)" in parts["arrived_at"]
    assert parts["created_at"] == parts["updated_at"] == "now()"
    for column in ("village_group", "account_no", "persons", "household_id", "village_id", "match_key"):
        assert parts[column] == column
    assert parts["__where__"] == f"season = %(season)s AND village_id IN ({projection.ESTIMATED_VILLAGES_SQL})"


def test_last_season_sql_runs_and_shifts_the_dates():
    """On SQLite, with its date functions in place of PostgreSQL's date − integer."""
    sql = projection.last_season_sql(["id", "arrival_date", "departure_date", "season", "village_id"])
    sql = (_sqlite(sql).replace("%(season)s", ":season")
           .replace("arrival_date - %(shift)s", "date(arrival_date, '-' || :shift || ' days')")
           .replace("departure_date - %(shift)s", "date(departure_date, '-' || :shift || ' days')"))
    with sqlite3.connect(":memory:") as connection:
        connection.execute("CREATE TABLE zhoukou_grid_village (id integer primary key)")
        connection.executemany("INSERT INTO zhoukou_grid_village VALUES (?)", [(i,) for i in range(1, 7)])
        connection.execute("CREATE TABLE customers_returningresident (id integer primary key, arrival_date text, "
                           "departure_date text, season integer, village_id integer)")
        connection.executemany(
            "INSERT INTO customers_returningresident (arrival_date, departure_date, season, village_id) "
            "VALUES (?, ?, ?, ?)",
            [("2027-01-30", None, 2027, 3), ("2027-02-01", "2027-02-12", 2027, 6), ("2027-02-01", None, 2027, 2),
             ("2026-02-10", None, 2026, 3)])
        connection.execute(sql, {"season": 2027, "shift": 354})
        rows = connection.execute("SELECT arrival_date, departure_date, season, village_id FROM "
                                  "customers_returningresident WHERE id > 4 ORDER BY id").fetchall()
    # 初一 − 7, 初一 − 5 … 初一 + 6 of 2027 become the same days before/after 2026-02-17.
    assert rows == [("2026-02-10", None, 2026, 3), ("2026-02-12", "2026-02-23", 2026, 6)]


# --- Metered days -------------------------------------------------------------------------------

def test_only_the_metered_days_missing_are_seeded_in_runs():
    wanted = projection.history_dates(dt.date(2027, 1, 29)) | projection.history_dates(dt.date(2027, 1, 22))
    assert min(wanted) == dt.date(2027, 1, 8) and max(wanted) == dt.date(2027, 1, 28) and len(wanted) == 21
    present = projection.history_dates(dt.date(2027, 1, 29))
    assert projection.missing_date_runs(wanted, present) == [(dt.date(2027, 1, 8), 7)]
    present = present | {dt.date(2027, 1, 11)}
    assert projection.missing_date_runs(wanted, present) == [(dt.date(2027, 1, 8), 3), (dt.date(2027, 1, 12), 3)]
    assert projection.missing_date_runs(wanted, wanted) == []


# --- Ratio and table ----------------------------------------------------------------------------

def test_the_ratio_line_divides_the_outlook_by_the_21_day_run():
    run = {"workers": 2, "status": "done", "wall": 200.0, "to_last_station": 190.0, "station_seconds": 380.0}
    met = {"workers": 2, "status": "done", "wall": 250.0, "to_last_station": 247.0, "station_seconds": 475.0}
    line = projection.outlook_ratio_line(run, met)
    assert "wall 1.25×" in line and "last station 1.30×" in line and "station time 1.25×" in line
    assert "≤ 1.5×" in line and "— met" in line
    missed = projection.outlook_ratio_line(run, {**met, "wall": 301.0, "to_last_station": Decimal("380.0")})
    assert "wall 1.50×" in missed and "NOT met" in missed and "last station 2.00×" in missed  # numeric from SQL
    unfinished = projection.outlook_ratio_line(run, {"workers": 2, "status": "timeout", "wall": None})
    assert "wall —" in unfinished and "met" not in unfinished


def test_the_pass_table_has_both_passes_and_the_ratio():
    run = {"workers": 2, "status": "done", "wall": 200.0, "to_last_station": 190.0, "station_seconds": 380.0}
    outlook = {"workers": 2, "status": "done", "wall": 250.0, "to_last_station": 247.0, "station_seconds": 475.0}
    header, first, second, ratio = projection.format_pass_table([(run, outlook)])
    assert "pass" in header and "station time" in header
    assert first.startswith("21-day run") and "200.0 s" in first and "380.0 s" in first
    assert second.startswith("outlook") and "250.0 s" in second and "475.0 s" in second
    assert ratio.startswith("outlook / 21-day run, 2 workers: wall 1.25×")


# --- The enqueuing child ------------------------------------------------------------------------

def test_the_whole_city_goes_through_the_nightly_outlook_enqueue():
    code = projection.outlook_enqueue_code(dt.date(2027, 1, 22), None)
    compile(code, "outlook", "exec")
    assert "outlook_enqueue(run_date=run_date)" in code and "'2027-01-22'" in code


@pytest.mark.django_db
def test_the_county_subset_code_makes_the_first_counties_outlooks(capsys):
    """The child's code itself (eager queue here): each station of the first K counties gets
    its OutlookRun of the date, and the child names exactly those stations."""
    from loadforecast.models import OutlookRun
    from tests.factories import CountyFactory, StationFactory

    counties = [CountyFactory() for _ in range(3)]
    first = [StationFactory(county=counties[0]), StationFactory(county=counties[1])]
    StationFactory(county=counties[2])
    exec(projection.outlook_enqueue_code(dt.date(2027, 1, 22), 2), {})  # noqa: S102 - the bench's own code
    sent = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sent["stations"] == [station.pk for station in first]
    runs = OutlookRun.objects.filter(run_date=dt.date(2027, 1, 22))
    assert sorted(runs.values_list("station_id", flat=True)) == sorted(sent["stations"])
    assert set(runs.values_list("days_projected", flat=True)) == {30}


def test_seeded_residents_get_the_season_nearest_to_the_run_date():
    """The season column is NOT NULL: the city's residents are seeded with one."""
    class Cursor:
        def execute(self, sql, params):
            self.sql, self.params = sql, params

    cursor = Cursor()
    projection.seed_residents(cursor, dt.date(2027, 1, 29))
    assert "village_id, season)" in cursor.sql and "%(season)s" in cursor.sql
    assert cursor.params["season"] == 2027
    projection.seed_residents(cursor, dt.date(2026, 2, 10))
    assert cursor.params["season"] == 2026
