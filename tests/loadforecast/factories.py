"""Factories of the load-forecast models (found by tests/test_outsiders.py by name)."""

from __future__ import annotations

import datetime as dt

import factory

from loadforecast.models import Alert, Measure
from tests.factories import GridFactory, TransformerFactory


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    grid = factory.SubFactory(GridFactory)
    transformer = factory.LazyAttribute(lambda o: o.grid.transformers.first() or TransformerFactory(grid=o.grid))
    level = 3
    first_date = dt.date(2027, 2, 4)
    last_date = dt.date(2027, 2, 6)
    peak_date = dt.date(2027, 2, 5)
    peak_kw = 190.0
    peak_load_rate = 1.06


class MeasureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Measure

    alert = factory.SubFactory(AlertFactory)
    kind = Measure.Kind.PATROL
    planned_date = dt.date(2027, 2, 4)


class ProjectionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.ProjectionRun"

    run_date = factory.Sequence(lambda n: dt.date(2027, 1, 1) + dt.timedelta(days=n))
    days = 21


class AssetProjectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.AssetProjection"

    run = factory.SubFactory(ProjectionRunFactory)
    grid = factory.SubFactory(GridFactory)
    transformer = factory.LazyAttribute(lambda o: o.grid.transformers.first() or TransformerFactory(grid=o.grid))
    date = dt.date(2027, 2, 5)
    peak_kw = 150.0
    peak_load_rate = 0.83
    hours_ge_80 = 3
    hours_ge_100 = 0
    returning_households = 20
    level = 2


class LoadReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.LoadReading"

    grid = factory.SubFactory(GridFactory)
    transformer = factory.LazyAttribute(lambda o: o.grid.transformers.first() or TransformerFactory(grid=o.grid))
    date = factory.Sequence(lambda n: dt.date(2027, 1, 1) + dt.timedelta(days=n))
    points = 1
    max_kw = 90.0


class WeatherForecastFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.WeatherForecast"

    date = factory.Sequence(lambda n: dt.date(2027, 1, 1) + dt.timedelta(days=n))
    t_min = -3.0


class ProjectionSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.ProjectionSettings"

    county = factory.LazyAttribute(lambda o: o.station.county if o.station else None)
    station = None
    values = factory.LazyFunction(dict)


class AlertHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.AlertHistory"

    alert = factory.SubFactory(AlertFactory)
    action = "created"
    status = "open"
    level = 3


class OutlookRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.OutlookRun"

    station = factory.SubFactory("tests.factories.StationFactory")
    run_date = factory.Sequence(lambda n: dt.date(2026, 12, 1) + dt.timedelta(days=n))
    season = 2027
    new_year = dt.date(2027, 2, 6)
    window_start = dt.date(2027, 1, 22)
    window_end = dt.date(2027, 2, 20)
    first_day = dt.date(2027, 1, 22)
    days_projected = 30


class OutlookItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.OutlookItem"

    grid = factory.SubFactory(GridFactory)
    transformer = factory.LazyAttribute(lambda o: o.grid.transformers.first() or TransformerFactory(grid=o.grid))
    run = factory.LazyAttribute(lambda o: OutlookRunFactory(station=o.grid.station))
    level = 3
    peak_date = dt.date(2027, 2, 5)
    peak_kw = 170.0
    peak_load_rate = 1.05
    first_heavy_date = dt.date(2027, 2, 3)
    registered_households = 20
    estimated_households = 10
    order_by = dt.date(2027, 1, 14)


class OutlookSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loadforecast.OutlookSettings"

    county = factory.SubFactory("tests.factories.CountyFactory")
    values = factory.LazyFunction(lambda: {"lead_days_temp_capacity": 25})
