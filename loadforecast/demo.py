"""Demo load data for `seed_demo` (runs after the customers' steps, INSTALLED_APPS order):
14 days of metered hourly load before today per transformer and a 21-day temperature
forecast per county.

The baseline of each transformer is chosen from its returning households, so that the
projection shows a believable picture: most transformers stay normal, about one in six
with returning households is pushed to heavy load or overload on New Year's Eve, a few
beyond, and 1 % have no metering at all (listed as "no load data" by the run).
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
from django.db.models import Count
from django.utils import timezone

from zhoukou_grid.territory.demo import TableStep
from zhoukou_grid.territory.seeding import DbStep

from . import engine
from .models import WeatherForecast, pack_curve

HISTORY_DAYS = 14


def _target_peak_rate(rng: random.Random, returning: int) -> float:
    """The peak load rate a transformer should reach on New Year's Eve in the demo."""
    if returning and rng.random() < 0.17:
        return rng.uniform(0.85, 1.25)  # heavy load or overload
    return rng.uniform(0.35, 0.72)


def generate_load_readings(ctx, rng: random.Random, scale):
    """Rows of (transformer_id, grid_id, date, points, hourly_kw, max_kw): COPY on PostgreSQL."""
    from customers.models import ReturningResident
    from zhoukou_grid.territory.models import Transformer

    settings = engine.ProjectionSettings()
    today = timezone.localdate()
    days = [today - dt.timedelta(days=back) for back in range(1, HISTORY_DAYS + 1)]
    returning = dict(ReturningResident.objects.filter(household__isnull=False).values_list(
        "household__transformer_id").annotate(n=Count("household_id", distinct=True)).order_by())
    shape = np.asarray(settings.rural_winter_shape)
    # The day-to-day and hour-to-hour noise comes from numpy, seeded from the step's rng,
    # so the data stay deterministic for a seed and 20 million draws take a second.
    noise = np.random.default_rng(rng.getrandbits(64))
    for transformer_id, grid_id, rated in Transformer.objects.values_list("pk", "grid_id", "rated_kva").order_by("pk"):
        if rng.random() < 0.01:
            continue  # no metering: the run lists it as "no load data"
        n = returning.get(transformer_id, 0)
        extra = n * settings.household_extra_peak_kw * float(engine.coincidence_factor(n, settings)) * 1.3
        capacity_kw = rated * settings.cos_phi
        base_peak = max(0.15 * capacity_kw, _target_peak_rate(rng, n) * capacity_kw - extra)
        curves = base_peak * noise.normal(1.0, 0.06, (HISTORY_DAYS, 1)) * shape * noise.normal(1.0, 0.04, (HISTORY_DAYS, 24))
        curves = np.round(curves, 2)
        for day, curve in zip(days, curves, strict=True):
            yield (transformer_id, grid_id, day, 24, pack_curve(curve), round(float(curve.max()), 2))


READING_FIELDS = ("transformer_id", "grid_id", "date", "points", "hourly_kw", "max_kw")


def seed_weather(ctx, rng: random.Random, scale) -> int:
    from zhoukou_grid.territory.models import County

    today = timezone.localdate()
    rows = []
    for county_id in County.objects.values_list("pk", flat=True):
        t_min = rng.uniform(-3, 3)
        for offset in range(engine.ProjectionSettings().horizon_days):
            t_min = max(-12.0, min(8.0, t_min + rng.gauss(0, 2)))
            rows.append(WeatherForecast(county_id=county_id, date=today + dt.timedelta(days=offset),
                                        t_min=round(t_min, 1), t_max=round(t_min + rng.uniform(5, 10), 1)))
    WeatherForecast.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


SEED_STEPS = [
    TableStep("load_readings", "loadforecast.LoadReading", READING_FIELDS, generate_load_readings),
    DbStep("weather_forecast", seed_weather),
]
