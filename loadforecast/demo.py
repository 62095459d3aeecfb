"""Demo load data for `seed_demo` (runs after the customers' steps, INSTALLED_APPS order),
placed relative to the seed's today (`SeedContext.today`, `SeedContext.season`):

- `load_readings`: 14 days of metered hourly load before today per transformer. The
  baseline of each transformer is chosen from its returning households of the coming
  season (this season's lists, and last season's for the villages that have not reported,
  which the outlook estimates), so that the outlook and, inside the window, the 21-day
  projection tell the story: most transformers stay normal, about one in five with
  returning households is pushed to heavy load or overload around New Year's Eve, and 1 %
  have no metering at all (listed as "no load data" by the run).
- `weather_forecast`: a 21-day forecast per county from today (the outlook takes the
  monthly normals beyond it).
- `last_season_load`: for the back-test stations (`SeedContext.backtest_station_ids`), the
  metered load of last season's festival window (N − 15 … N + 14) and the 14 days before
  it, the forecast of those days, and the projection made on the window's first day
  (one `ProjectionRun` per station, its asset-days, no alerts): the back-test page
  compares the two. The metered load is the projection's formula with a p_hh 20 % above
  the default and some noise, so the back-test has errors and suggests another p_hh.
- `outlook_measures`: measures on a few of the transformers the story pushes into overload
  (alerts of the coming festival): temporary capacity and staggered-use notices planned,
  one phase balancing done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import numpy as np
from django.db.models import Count
from django.utils import timezone

from zhoukou_grid.territory.demo import TableStep, demo_season
from zhoukou_grid.territory.seeding import DbStep

from . import engine, outlook_engine
from .models import WeatherForecast, pack_curve

HISTORY_DAYS = 14
STORY_SHARE = 0.75  # of the districts whose households can do it: pushed to heavy load or overload
MIN_STORY_INCREASE = 0.16  # the households' share of the rating that can make the story
MIN_BASE_RATE, MAX_BASE_RATE = 0.45, 0.67  # the baseline of a story district (below heavy load)
QUIET_PEAK_RATE = 0.78  # the others stay below this on New Year's Eve
TRUE_P_HH_FACTOR = 1.2  # last season's metered p_hh against the default
MEASURED_TRANSFORMERS = 3  # transformers of the station staff's station given measures


def _today(ctx) -> dt.date:
    return ctx.today if ctx is not None else timezone.localdate()


def eve_factor(eve: dt.date, settings: engine.ProjectionSettings) -> float:
    """e(d)·g(T)·max s(h) of New Year's Eve at the month's normal minimum temperature: times
    n·p_hh·k_c(n) it is what n returning households add at the peak hour (§6.4)."""
    t_min = outlook_engine.OutlookSettings().normal_min_temperature_c[eve.month - 1]
    factors = engine.horizon_factors(eve, [t_min], settings, days=1)
    return float(factors.festival[0] * factors.temperature[0] * max(settings.extra_demand_shape))


def eve_increase_kw(n: int, factor: float, settings: engine.ProjectionSettings) -> float:
    """The extra load of n returning households at the peak hour of New Year's Eve (`eve_factor`)."""
    if not n:
        return 0.0
    return float(n * settings.household_extra_peak_kw * engine.coincidence_factor(n, settings)) * factor


def _base_peak(rng: random.Random, n: int, rated: float, factor: float,
               settings: engine.ProjectionSettings) -> tuple[float, float]:
    """(peak load rate on New Year's Eve aimed at, the baseline peak in kW).

    The baseline stays below heavy load; the returning households make the difference. A
    district whose households can add at least MIN_STORY_INCREASE of its rating is, with
    probability STORY_SHARE, sized so that they push it to heavy load or overload; the
    others stay below heavy load even with everyone home."""
    capacity_kw = rated * settings.cos_phi
    increase = eve_increase_kw(n, factor, settings) / capacity_kw
    if increase >= MIN_STORY_INCREASE and rng.random() < STORY_SHARE:
        target = rng.uniform(0.9, 1.3)
        base = min(MAX_BASE_RATE, max(MIN_BASE_RATE, target - increase))
    else:
        base = min(rng.uniform(0.3, 0.64), max(0.15, QUIET_PEAK_RATE - increase))
    return base + increase, base * capacity_kw


def _households_per_transformer(season: int, exclude_villages=None, only_villages=None) -> dict[int, int]:
    """Distinct returning households per transformer on the lists of `season` (one query)."""
    from customers.models import ReturningResident

    residents = ReturningResident.objects.filter(household__isnull=False, season=season)
    if exclude_villages is not None:
        residents = residents.exclude(village_id__in=exclude_villages)
    if only_villages is not None:
        residents = residents.filter(village_id__in=only_villages)
    return dict(residents.values_list("household__transformer_id").annotate(
        n=Count("household_id", distinct=True)).order_by())


def returning_for_outlook(today: dt.date) -> dict[int, int]:
    """Per transformer: the households the outlook of the coming season counts, registered
    (this season's lists) and estimated (last season's, of the villages with no list)."""
    from customers.models import ReturningResident

    season = demo_season(today)
    reported = list(ReturningResident.objects.filter(season=season.season).values_list(
        "village_id", flat=True).distinct().order_by())
    counts = _households_per_transformer(season.season)
    for transformer_id, n in _households_per_transformer(season.last_season, exclude_villages=reported).items():
        counts[transformer_id] = counts.get(transformer_id, 0) + n
    return counts


def generate_load_readings(ctx, rng: random.Random, scale):
    """Rows of (transformer_id, grid_id, date, points, hourly_kw, max_kw): COPY on PostgreSQL."""
    from zhoukou_grid.territory.models import Transformer

    settings = engine.ProjectionSettings()
    today = _today(ctx)
    days = [today - dt.timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1)]
    returning = returning_for_outlook(today)
    factor = eve_factor(demo_season(today).eve, settings)
    shape = np.asarray(settings.rural_winter_shape)
    # The day-to-day and hour-to-hour noise comes from numpy, seeded from the step's rng,
    # so the data stay deterministic for a seed and 20 million draws take a second.
    noise = np.random.default_rng(rng.getrandbits(64))
    story: list[tuple[int, int, float, int]] = []  # (transformer, grid, target rate, households)
    for transformer_id, grid_id, rated in Transformer.objects.values_list("pk", "grid_id", "rated_kva").order_by("pk"):
        if rng.random() < 0.01:
            continue  # no metering: the run lists it as "no load data"
        n = returning.get(transformer_id, 0)
        target, base_peak = _base_peak(rng, n, rated, factor, settings)
        if target >= settings.heavy_load_rate:
            story.append((transformer_id, grid_id, target, n))
        curves = base_peak * noise.normal(1.0, 0.06, (HISTORY_DAYS, 1)) * shape * noise.normal(1.0, 0.04, (HISTORY_DAYS, 24))
        curves = np.round(curves, 2)
        for day, curve in zip(days, curves, strict=True):
            yield (transformer_id, grid_id, day, 24, pack_curve(curve), round(float(curve.max()), 2))
    if ctx is not None:
        ctx.extras["story_transformers"] = story


READING_FIELDS = ("transformer_id", "grid_id", "date", "points", "hourly_kw", "max_kw")


def _forecast_rows(county_ids, first: dt.date, days: int, rng: random.Random) -> list[WeatherForecast]:
    rows = []
    for county_id in county_ids:
        t_min = rng.uniform(-3, 3)
        for offset in range(days):
            t_min = max(-12.0, min(8.0, t_min + rng.gauss(0, 2)))
            rows.append(WeatherForecast(county_id=county_id, date=first + dt.timedelta(days=offset),
                                        t_min=round(t_min, 1), t_max=round(t_min + rng.uniform(5, 10), 1)))
    return rows


def seed_weather(ctx, rng: random.Random, scale) -> int:
    from zhoukou_grid.territory.models import County

    rows = _forecast_rows(County.objects.values_list("pk", flat=True).order_by("pk"), _today(ctx),
                          engine.ProjectionSettings().horizon_days, rng)
    WeatherForecast.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def seed_last_season(ctx, rng: random.Random, scale) -> int:
    """Last season's window metered and projected for the back-test stations (see the module)."""
    from zhoukou_grid.territory.models import Station, Transformer
    from zhoukou_grid.territory.seeding import write_rows

    from .models import AssetProjection, LoadReading, ProjectionRun
    from .services import compute_station, read_station_inputs, write_projections

    # Asset-days have no database constraint to their run: a reseed (--reset) wiped the runs
    # of the old territory and leaves their rows behind, which would clash with the new runs.
    AssetProjection.objects.exclude(run_id__in=ProjectionRun.objects.values("pk")).delete()
    station_ids = ctx.backtest_station_ids()
    if not station_ids:
        return 0
    season = ctx.season
    settings = engine.ProjectionSettings()
    run_date, window_end = season.last_window
    days = (window_end - run_date).days + 1
    history_first = run_date - dt.timedelta(days=settings.baseline_days)
    # Today's metered days are written by `load_readings`; last season's stop before them.
    writable_until = ctx.today - dt.timedelta(days=HISTORY_DAYS)
    noise = np.random.default_rng(rng.getrandbits(64))
    shape = np.asarray(settings.rural_winter_shape)
    last = _households_per_transformer(season.last_season)
    transformers = list(Transformer.objects.filter(grid__station_id__in=station_ids).order_by("pk").values_list(
        "pk", "grid_id", "rated_kva"))
    baseline_days = [history_first + dt.timedelta(days=d) for d in range(settings.baseline_days)]
    factor = eve_factor(season.last_new_year - dt.timedelta(days=1), settings)
    rows = []
    for transformer_id, grid_id, rated in transformers:
        _, base_peak = _base_peak(rng, last.get(transformer_id, 0), rated, factor, settings)
        curves = np.round(base_peak * noise.normal(1.0, 0.06, (len(baseline_days), 1)) * shape
                          * noise.normal(1.0, 0.04, (len(baseline_days), 24)), 2)
        rows += [(transformer_id, grid_id, day, 24, pack_curve(curve), round(float(curve.max()), 2))
                 for day, curve in zip(baseline_days, curves, strict=True) if day < writable_until]
    written = write_rows(LoadReading, READING_FIELDS, rows, batch_size=ctx.scale.batch_size)
    counties = sorted(set(Station.objects.filter(pk__in=station_ids).values_list("county_id", flat=True)))
    weather = _forecast_rows(counties, run_date, days, rng)
    WeatherForecast.objects.bulk_create(weather, ignore_conflicts=True)
    written += len(weather)

    true_settings = dataclasses.replace(settings,
                                        household_extra_peak_kw=settings.household_extra_peak_kw * TRUE_P_HH_FACTOR)
    extra_shape = np.asarray(settings.extra_demand_shape)
    now = timezone.now()
    for station in Station.objects.filter(pk__in=station_ids).order_by("pk"):
        inputs = read_station_inputs(station, run_date, days, settings)
        computed = compute_station(inputs, run_date, days, settings)
        levels = np.bincount(computed.transformers.level + 1, minlength=6)
        run = ProjectionRun.objects.create(
            run_date=run_date, days=days, station=station, status=ProjectionRun.Status.DONE, started_at=now,
            finished_at=now, chunks_total=1, chunks_done=1, settings_snapshot=settings.to_dict(),
            counts={"stations": {station.code: {"transformers": len(inputs.t_ids), "transformer_levels": {
                name: int(levels[i + 1]) for i, name in enumerate(["normal", "watch", "heavy", "overload",
                                                                    "thermal"])}}}})
        written += 1 + write_projections(run, computed, inputs)
        # What the meters read: the same formula with the "true" p_hh, and noise.
        baseline = engine.baseline_from_history(inputs.t_hourly, inputs.t_daily, settings).kw
        extra = engine._extra_load_per_day(computed.transformers.returning_households, computed.factors,
                                           true_settings)
        metered = (baseline[:, None, :] * noise.normal(1.0, 0.05, (len(inputs.t_ids), days, 1))
                   + extra[:, :, None] * extra_shape[None, None, :] * noise.normal(1.0, 0.1, (len(inputs.t_ids),
                                                                                            days, 1)))
        metered = np.round(metered, 2)
        window_rows = []
        for j, transformer_id in enumerate(inputs.t_ids):
            if np.isnan(metered[j]).any():
                continue  # no baseline: not metered
            for d in range(days):
                day = run_date + dt.timedelta(days=d)
                if day < writable_until:
                    window_rows.append((transformer_id, inputs.t_grid[j], day, 24, pack_curve(metered[j, d]),
                                        round(float(metered[j, d].max()), 2)))
        written += write_rows(LoadReading, READING_FIELDS, window_rows, batch_size=ctx.scale.batch_size)
    return written


def seed_outlook_measures(ctx, rng: random.Random, scale) -> int:
    """Alerts of the coming festival on a few story transformers of the station staff's
    station, with temporary capacity and staggered-use notices planned and one phase
    balancing done (docs/domain.md 6.5)."""
    from zhoukou_grid.territory.demo import DEMO_USERS
    from zhoukou_grid.territory.models import Station, Transformer

    from .models import Alert, Level, Measure

    story = ctx.extras.get("story_transformers") or []
    if not story:
        return 0
    staff_code = next((u.territory_code for u in DEMO_USERS if u.role == "station_staff"), "")
    station_id = Station.objects.filter(code=staff_code).values_list("pk", flat=True).first()
    in_station = set(Transformer.objects.filter(grid__station_id=station_id).values_list("pk", flat=True)) \
        if station_id else set()
    candidates = sorted((s for s in story if s[0] in in_station), key=lambda s: -s[2]) or sorted(
        story, key=lambda s: -s[2])
    chosen = candidates[:MEASURED_TRANSFORMERS]
    season = ctx.season
    settings = engine.ProjectionSettings()
    outlook = outlook_engine.OutlookSettings()
    rated = dict(Transformer.objects.filter(pk__in=[c[0] for c in chosen]).values_list("pk", "rated_kva"))
    first_heavy = season.eve - dt.timedelta(days=3)
    alerts = []
    for transformer_id, grid_id, target, n in chosen:
        level = Level.OVERLOAD if target >= settings.overload_load_rate else Level.HEAVY
        alerts.append(Alert(
            transformer_id=transformer_id, grid_id=grid_id, level=level, first_date=first_heavy,
            last_date=season.new_year + dt.timedelta(days=4), peak_date=season.eve,
            peak_kw=round(target * rated[transformer_id] * settings.cos_phi, 1), peak_load_rate=round(target, 3),
            returning_households=n, status=Alert.Status.MEASURE_PLANNED))
    Alert.objects.bulk_create(alerts)
    measures = []
    for index, alert in enumerate(alerts):
        order_by = first_heavy - dt.timedelta(days=outlook.lead_days_temp_capacity)
        if index == 0:
            measures.append(Measure(alert=alert, kind=Measure.Kind.TEMP_CAPACITY,
                                    kva=float(2 * rated[alert.transformer_id]), planned_date=max(order_by, ctx.today),
                                    note="临时增容，节前到位"))
        measures.append(Measure(alert=alert, kind=Measure.Kind.STAGGERED, kw=round(0.15 * alert.peak_kw, 1),
                                planned_date=max(first_heavy - dt.timedelta(days=outlook.lead_days_staggered),
                                                 ctx.today), note="张贴错峰用电告知书"))
    if alerts:
        done_day = ctx.today - dt.timedelta(days=1)
        measures.append(Measure(
            alert=alerts[-1], kind=Measure.Kind.PHASE_BALANCE, planned_date=done_day, status=Measure.Status.DONE,
            done_at=timezone.make_aware(dt.datetime(done_day.year, done_day.month, done_day.day, 16, 0)),
            note="调整三相负荷，已复测"))
    Measure.objects.bulk_create(measures)
    return len(alerts) + len(measures)


SEED_STEPS = [
    TableStep("load_readings", "loadforecast.LoadReading", READING_FIELDS, generate_load_readings),
    DbStep("weather_forecast", seed_weather),
    DbStep("last_season_load", seed_last_season),
    DbStep("outlook_measures", seed_outlook_measures),
]
