"""Import kinds `load` and `weather`, export kinds `projections` and `alerts` (docs/import-formats.md)."""

from __future__ import annotations

import datetime as dt
import io
import math

import pytest
from django.core.management import call_command
from django.utils import translation

from loadforecast.models import Alert, AssetProjection, LoadReading, ProjectionRun, WeatherForecast, unpack_curves
from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core.importing.engine import ImportContext, run_import
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.spec import get_kind

pytestmark = pytest.mark.django_db
DAY = dt.date(2027, 1, 20)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _load(rows, user=None):
    return run_import(get_kind("load"), xlsx_bytes(rows), ctx=ImportContext(user=user))


def _curve(reading):
    return unpack_curves([reading.hourly_kw])[0]


def test_a_96_point_file_is_averaged_to_hours(world):
    code = world.grids["a1"].transformer.code
    points = [float(i % 4) + 10 * (i // 4) for i in range(96)]  # each hour: h*10 + 0, 1, 2, 3
    result = _load([["台区编号", "日期", *[f"P{i}" for i in range(1, 97)]], [code, "2027-01-20", *points]])
    assert result.written and result.counts["new"] == 1, result.errors
    reading = LoadReading.objects.get()
    assert reading.points == 96 and reading.date == DAY and reading.grid_id == world.grids["a1"].grid.pk
    assert _curve(reading)[0] == pytest.approx(1.5) and _curve(reading)[23] == pytest.approx(231.5)
    assert reading.max_kw == 233.0  # the highest quarter-hour
    again = _load([["台区编号", "日期", *[f"P{i}" for i in range(1, 97)]], [code, "2027-01-20", *points]])
    assert again.counts == {"new": 0, "updated": 0, "unchanged": 1, "rejected": 0}


def test_a_96_point_file_with_clock_headers(world):
    code = world.grids["a1"].transformer.code
    headers = [f"{(i * 15) // 60:02d}:{(i * 15) % 60:02d}" for i in range(1, 97)]
    assert headers[0] == "00:15" and headers[-1] == "24:00"
    result = _load([["台区编号", "日期", *headers], [code, "2027-01-20", *([8.0] * 95 + [40.0])]])
    assert result.written, result.errors
    curve = _curve(LoadReading.objects.get())
    assert curve[0] == 8.0 and curve[23] == pytest.approx((8 * 3 + 40) / 4)


@pytest.mark.parametrize("headers", [[f"{h:02d}:00" for h in range(1, 25)], [str(h) for h in range(1, 25)]])
def test_a_24_point_file_column_one_is_hour_zero(world, headers):
    line = world.grids["a2"].line
    values = [float(h) for h in range(24)]
    values[5] = None  # an hour without data stays empty
    result = _load([["线路编号", "日期", *headers], [line.code, "2027/1/20", *values]])
    assert result.written, result.errors
    reading = LoadReading.objects.get()
    assert reading.line_id == line.pk and reading.transformer_id is None and reading.points == 24
    curve = _curve(reading)
    assert curve[0] == 0.0 and curve[23] == 23.0 and math.isnan(curve[5])


def test_a_daily_maximum_file_and_an_update(world):
    code = world.grids["a1"].transformer.code
    assert _load([["台区编号", "日期", "最大负荷(kW)"], [code, "2027-01-20", 120], [code, "2027-01-21", 90]]).written
    result = _load([["台区编号", "日期", "最大负荷(kW)"], [code, "2027-01-20", 125]])
    assert result.counts == {"new": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    assert sorted(LoadReading.objects.values_list("max_kw", "points")) == [(90.0, 1), (125.0, 1)]


def test_a_file_with_95_time_columns_is_refused_whole(world):
    code = world.grids["a1"].transformer.code
    with pytest.raises(SpreadsheetError, match="95 time columns"):
        _load([["台区编号", "日期", *[f"P{i}" for i in range(1, 96)]], [code, "2027-01-20", *([31.7] * 95)]])
    assert not LoadReading.objects.exists()


def test_bad_rows_are_named_and_nothing_is_written(world, county_admin):
    t1 = world.grids["a1"].transformer  # 200 kVA: more than 1000 kW is absurd
    t2 = world.grids["a2"].transformer
    foreign = world.grids["b1"].transformer  # another county: unknown to this admin
    header = ["台区编号", "日期", *[str(h) for h in range(1, 25)]]
    rows = [
        header,
        [t1.code, "2027-01-20", *([33.3] * 24)],
        [t1.code, "2027-01-20", *([34.4] * 24)],  # the same asset-day again
        [t2.code, "2027-01-20", -5.0, *([33.3] * 23)],  # negative
        [t2.code, "2027-01-21", *([33.3] * 23), 1500.0],  # > 5 × rating
        ["TQ-NOPE", "2027-01-20", *([33.3] * 24)],
        [foreign.code, "2027-01-20", *([33.3] * 24)],
    ]
    result = _load(rows, user=county_admin)
    assert not result.written and result.counts["rejected"] == 6
    by_row = {error["row"]: error for error in result.errors}
    assert "rows 2, 3" in by_row[2]["message"] and "rows 2, 3" in by_row[3]["message"]
    assert by_row[4]["column"] == "1" and "negative" in by_row[4]["message"]
    assert by_row[5]["column"] == "24" and "more than 5 times" in by_row[5]["message"]
    assert "Unknown transformer code" in by_row[6]["message"] and "Unknown transformer code" in by_row[7]["message"]
    assert not LoadReading.objects.exists()


def test_station_staff_may_not_import_load(station_staff, county_admin):
    kind = get_kind("load")
    assert kind.may_import(county_admin) and not kind.may_import(station_staff)


def test_weather_import_and_its_checks(world, county_admin):
    kind = get_kind("weather")
    header = ["县区编码", "日期", "最低气温", "最高气温"]
    bad = run_import(kind, xlsx_bytes([header, ["411601", "2027-02-05", 3, -1], ["411602", "2027-02-05", -3, 2],
                                       ["411601", "2027-02-06", 99, None]]), ctx=ImportContext(user=county_admin))
    assert not bad.written and [e["row"] for e in bad.errors] == [2, 3, 4]
    assert "below the minimum" in bad.errors[0]["message"] and "Unknown county" in bad.errors[1]["message"]
    good = run_import(kind, xlsx_bytes([header, ["411601", "2027-02-05", -4, 3], ["411601", "2027-02-06", -6, None]]),
                      ctx=ImportContext(user=county_admin))
    assert good.written and good.counts["new"] == 2
    assert sorted(WeatherForecast.objects.values_list("date", "t_min")) == [(dt.date(2027, 2, 5), -4.0),
                                                                           (dt.date(2027, 2, 6), -6.0)]


def test_load_exports_and_imports_back_unchanged(world, tmp_path):
    code = world.grids["a1"].transformer.code
    _load([["台区编号", "日期", *[str(h) for h in range(1, 25)]], [code, "2027-01-20", *[float(h) for h in range(24)]]])
    _load([["台区编号", "日期", "最大负荷"], [code, "2027-01-21", 77.5]])
    out = tmp_path / "load.xlsx"
    call_command("export_data", "load", "--format", "xlsx", "--out", str(out))
    result = run_import(get_kind("load"), out.read_bytes(), file_name="load.xlsx", ctx=ImportContext())
    assert result.counts == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0}, result.errors


def test_projection_and_alert_exports_have_the_documented_columns(world):
    run = ProjectionRun.objects.create(run_date=DAY, days=1, status="done")
    g = world.grids["a1"]
    common = dict(run=run, grid=g.grid, date=DAY, hours_ge_80=3, hours_ge_100=2, returning_households=12)
    AssetProjection.objects.create(transformer=g.transformer, peak_kw=190.0, peak_load_rate=190 / 180, level=3,
                                   **common)
    AssetProjection.objects.create(line=g.line, peak_kw=90.0, peak_a=151.93, peak_load_rate=0.5525, level=0, **common)
    Alert.objects.create(transformer=g.transformer, grid=g.grid, level=3, first_date=DAY, last_date=DAY, peak_date=DAY,
                         peak_kw=190, peak_load_rate=190 / 180,
                         measures=[{"kind": "temp_capacity", "kva": 315}, {"kind": "staggered", "kw": 46.0}])
    out = io.StringIO()
    call_command("export_data", "projections", "--format", "csv", stdout=out)
    lines = out.getvalue().lstrip("\ufeff").splitlines()
    assert lines[0] == ("asset_type,asset_code,date,peak_kw,peak_a,peak_load_rate,hours_ge_80,hours_ge_100,"
                        "returning_households,level")
    assert f"transformer,{g.transformer.code},2027-01-20,190.0,,1.0556,3,2,12,overload" in lines
    assert f"lvline,{g.line.code},2027-01-20,90.0,151.9,0.5525,3,2,12,normal" in lines
    out = io.StringIO()
    call_command("export_data", "alerts", "--format", "csv", stdout=out)
    lines = out.getvalue().lstrip("\ufeff").splitlines()
    assert lines[0] == "asset_type,asset_code,level,first_date,last_date,peak_load_rate,status,recommended_measure"
    assert lines[1] == (f"transformer,{g.transformer.code},overload,2027-01-20,2027-01-20,1.0556,open,"
                        "temporary capacity 315 kVA; staggered use 46.0 kW")
