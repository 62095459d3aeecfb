"""Demo load data: 14 days of hourly history per metered transformer, a forecast per county,
and a run over it finds some transformers at heavy load or above, not most of them."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from loadforecast.demo import SEED_STEPS, seed_weather
from loadforecast.models import Alert, LoadReading, WeatherForecast
from loadforecast.services import projection_run
from tests.factories import HouseholdFactory, ReturningResidentFactory, TransformerFactory
from zhoukou_grid.territory.seeding import write_rows

pytestmark = pytest.mark.django_db


def seed_load_readings(rng: random.Random) -> int:
    """The demo seed's load-history step, written on its own."""
    step = next(step for step in SEED_STEPS if step.name == "load_readings")
    return write_rows(LoadReading, step.fields, step.generate(None, rng, None), batch_size=5000)


def test_demo_history_and_weather_feed_a_believable_run(world):
    g = world.grids["a1"]
    rng = random.Random(7)
    transformers = [TransformerFactory(grid=g.grid, rated_kva=200) for _ in range(30)]
    today = timezone.localdate()
    for transformer in transformers:
        for _ in range(rng.randint(0, 25)):
            household = HouseholdFactory(village=g.village, transformer=transformer)
            ReturningResidentFactory(village=g.village, household=household, arrival_date=today)
    written = seed_load_readings(random.Random(1))
    assert written == LoadReading.objects.count() > 0
    assert LoadReading.objects.filter(date=today).count() == 0
    assert LoadReading.objects.order_by("date").first().date == today - timezone.timedelta(days=14)
    assert seed_weather(None, random.Random(1), None) == 2 * 21 == WeatherForecast.objects.count()
    run = projection_run(run_date=today, days=7)
    assert run.status == "done", run.error
    hot = Alert.objects.filter(level__gte=2).count()
    assert 0 < hot < 0.6 * (len(transformers) + 4)
