"""Load-forecast models: the invariants the database keeps, the compact curve, scoping and verbs."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.db import IntegrityError, transaction

from loadforecast.models import (
    Alert,
    AssetProjection,
    LoadReading,
    ProjectionRun,
    ProjectionSettings,
    WeatherForecast,
    pack_curve,
    unpack_curves,
)
from zhoukou_grid.core.scoping import for_user

pytestmark = pytest.mark.django_db
DAY = dt.date(2027, 1, 20)


def _violates(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        LoadReading.objects.create(**fields)


def test_a_curve_packs_into_96_bytes_and_reads_back_with_gaps():
    values = [float(h) for h in range(24)]
    values[5] = None
    blob = pack_curve(values)
    assert len(blob) == 96
    curves = unpack_curves([blob, None])
    assert curves.shape == (2, 24)
    assert curves[0, 23] == 23.0 and math.isnan(curves[0, 5])
    assert all(math.isnan(v) for v in curves[1])


def test_a_reading_belongs_to_one_asset_and_one_day(world):
    g = world.grids["a1"]
    LoadReading.objects.create(transformer=g.transformer, grid=g.grid, date=DAY, points=24, hourly_kw=pack_curve([1] * 24))
    _violates(transformer=g.transformer, grid=g.grid, date=DAY, points=1, max_kw=5)  # same asset-day
    _violates(transformer=g.transformer, line=g.line, grid=g.grid, date=DAY + dt.timedelta(1), points=1, max_kw=5)
    _violates(grid=g.grid, date=DAY, points=1, max_kw=5)  # no asset
    _violates(line=g.line, grid=g.grid, date=DAY, points=1, max_kw=-1)  # negative
    _violates(line=g.line, grid=g.grid, date=DAY, points=24)  # hourly without a curve
    LoadReading.objects.create(line=g.line, grid=g.grid, date=DAY, points=1, max_kw=40)  # a line's own day
    assert LoadReading.objects.count() == 2


def test_one_settings_row_per_county_and_per_station(world):
    ProjectionSettings.objects.create(county=world.county_a, values={})
    ProjectionSettings.objects.create(county=world.county_a, station=world.station_a1, values={"cos_phi": 0.95})
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectionSettings.objects.create(county=world.county_a, values={})
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectionSettings.objects.create(county=world.county_a, station=world.station_a1)


def test_weather_is_unique_per_county_and_day_and_plausible(world):
    WeatherForecast.objects.create(county=world.county_a, date=DAY, t_min=-3, t_max=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        WeatherForecast.objects.create(county=world.county_a, date=DAY, t_min=-2)
    with pytest.raises(IntegrityError), transaction.atomic():
        WeatherForecast.objects.create(county=world.county_b, date=DAY, t_min=5, t_max=1)


def _alert(grid_ns, **extra):
    return Alert.objects.create(
        transformer=grid_ns.transformer, grid=grid_ns.grid, level=3, first_date=DAY, last_date=DAY, peak_date=DAY,
        peak_kw=200, peak_load_rate=1.1, **extra,
    )


def test_station_staff_see_their_stations_alerts_only(world, personas):
    mine = _alert(world.grids["a1"])
    same_station = _alert(world.grids["a2"])
    other_station = _alert(world.grids["a3"])
    other_county = _alert(world.grids["b1"])
    assert set(for_user(personas.station_staff, Alert)) == {mine, same_station}
    assert set(for_user(personas.grid_manager, Alert)) == {mine}
    assert set(for_user(personas.county_admin, Alert)) == {mine, same_station, other_station}
    assert set(for_user(personas.outsider, Alert)) == {other_county}
    assert not for_user(personas.nobody, Alert).exists()
    assert for_user(personas.company_admin, Alert).count() == 4


def test_projections_are_scoped_and_unique_per_run_asset_day(world, personas):
    run = ProjectionRun.objects.create(run_date=DAY, days=21)
    g = world.grids["a3"]
    fields = dict(run=run, grid=g.grid, date=DAY, peak_kw=10, peak_load_rate=0.1, hours_ge_80=0, hours_ge_100=0,
                  returning_households=0, level=0)
    AssetProjection.objects.create(transformer=g.transformer, **fields)
    AssetProjection.objects.create(line=g.line, peak_a=20, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssetProjection.objects.create(transformer=g.transformer, **fields)
    assert not for_user(personas.station_staff, AssetProjection).exists()
    assert for_user(personas.county_admin, AssetProjection).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        ProjectionRun.objects.create(run_date=DAY, days=50)


def test_verbs_of_the_roles(personas):
    staff, admin, manager = personas.station_staff, personas.county_admin, personas.grid_manager
    assert staff.has_perm("loadforecast.change_alert") and staff.has_perm("loadforecast.add_measure")
    assert staff.has_perm("loadforecast.add_projectionrun")
    assert not staff.has_perm("loadforecast.add_loadreading")
    assert not staff.has_perm("loadforecast.change_projectionsettings")
    assert admin.has_perm("loadforecast.add_loadreading") and admin.has_perm("loadforecast.add_weatherforecast")
    assert admin.has_perm("loadforecast.change_projectionsettings")
    assert manager.has_perm("loadforecast.view_alert") and not manager.has_perm("loadforecast.change_alert")
    assert not personas.nobody.has_perm("loadforecast.view_alert")
