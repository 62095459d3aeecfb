"""seed_demo places the demo season relative to the day it runs (issue 12, "the demo tells
the story on any day"): on each run date the seeded demo, run through the season outlook,
the 21-day projection and the back-test as `make run` and the pages do, shows returning
households pushing transformers into heavy load and overload around 除夕, estimated
households on the villages that have not reported, order-by dates, measures planned and
done, and a back-test with figures."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from customers.models import ReturningResident
from loadforecast import outlook_engine
from loadforecast.backtest import backtest_report
from loadforecast.models import Alert, AssetProjection, Level, LoadReading, Measure, OutlookItem
from loadforecast.outlook_services import outlook_run
from loadforecast.services import projection_run
from loadforecast.views_backtest import default_period
from zhoukou_grid.core.lunar_calendar import lunar_new_year, new_years_eve
from zhoukou_grid.territory import demo
from zhoukou_grid.territory.models import Village

RUN_DATES = (
    date(2026, 12, 6),  # early December: the outlook in reach, the festival beyond the 21 days
    date(2027, 1, 26),  # ten days before 除夕 (2027-02-05): the 21-day projection sees it too
    date(2027, 2, 8),  # 初三: inside the window, 除夕 just passed
    date(2027, 2, 20),  # 正月十五, the window's last day
    date(2027, 7, 1),  # summer: the next New Year is out of the outlook's reach
    date(2027, 12, 10),  # the next season, 47 days before its New Year
)


def seed(today: date) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--scale", "demo", "--today", today.isoformat(), stdout=out)
    return out.getvalue()


def test_the_demo_season_follows_the_outlooks_season_rule():
    settings = outlook_engine.OutlookSettings()
    assert (demo.WINDOW_DAYS_BEFORE, demo.WINDOW_DAYS_AFTER) == (settings.window_days_before,
                                                                 settings.window_days_after)
    for today in (*RUN_DATES, date(2027, 2, 21), date(2026, 3, 3), date(2026, 3, 4)):
        season = demo.demo_season(today)
        assert season.season == outlook_engine.season_window(today, settings).season
        assert season.new_year == lunar_new_year(season.season) and season.eve == new_years_eve(season.season)
        assert season.last_season == season.season - 1
        assert season.last_window[1] < today  # last season's window is over: it can be back-tested
    assert demo.demo_season(date(2027, 2, 20)).season == 2027  # N + 14: still this festival
    assert demo.demo_season(date(2027, 2, 21)).season == 2028  # N + 15: the next one
    assert default_period(date(2027, 2, 21)) == (date(2027, 1, 22), date(2027, 2, 20))
    assert default_period(date(2026, 12, 6)) == (date(2026, 2, 2), date(2026, 3, 3))


def _in_season(season: int):
    return ReturningResident.objects.filter(season=season)


@pytest.mark.django_db
@pytest.mark.parametrize("today", RUN_DATES, ids=str)
def test_on_any_day_the_demo_tells_the_story(today, client):
    output = seed(today)
    season = demo.demo_season(today)
    assert f"this season's New Year {season.new_year}" in output

    # 14 metered days before today, none from today on.
    recent = LoadReading.objects.filter(date__gte=today - timedelta(days=14))
    assert set(recent.values_list("date", flat=True)) == {today - timedelta(days=d) for d in range(1, 15)}
    assert recent.filter(transformer__isnull=False).values("transformer").distinct().count() > 140

    # This season's lists for most villages, arriving in the run-up to its New Year; a few not yet.
    this = _in_season(season.season)
    arrivals = Counter(this.values_list("arrival_date", flat=True))
    assert min(arrivals) >= season.new_year - timedelta(days=25) and max(arrivals) <= season.eve
    busiest = max(arrivals, key=arrivals.get)
    assert season.eve - timedelta(days=8) <= busiest <= season.eve
    reported = set(this.values_list("village_id", flat=True))
    villages = set(Village.objects.values_list("pk", flat=True))
    missing = villages - reported
    assert missing and len(missing) <= 0.2 * len(villages)
    # Last season's lists of those villages, linked to households: what the outlook estimates from.
    last = _in_season(season.last_season).filter(village_id__in=missing, household__isnull=False)
    assert set(last.values_list("village_id", flat=True)) == missing
    rows = list(last.values_list("arrival_date", "departure_date", "village_id"))
    kept, shifted_arrival, _ = outlook_engine.estimated_stays(
        arrival=np.array([r[0] for r in rows], dtype="datetime64[D]"),
        departure=np.array([np.datetime64("NaT") if r[1] is None else r[1] for r in rows], dtype="datetime64[D]"),
        village=np.array([r[2] for r in rows]), reported_villages=sorted(reported),
        previous_new_year=season.last_new_year, new_year=season.new_year)
    assert kept.all() and (shifted_arrival < np.datetime64(season.new_year)).all()

    # Measures: some planned, one done, on transformers of the coming festival.
    measures = Measure.objects.filter(alert__peak_date=season.eve)
    assert measures.filter(status=Measure.Status.PLANNED).count() >= 2
    assert measures.filter(status=Measure.Status.DONE).count() == 1

    # The back-test of last season's window (the page's default period) has figures.
    staff = get_user_model().objects.get(username="station_staff")
    first, last_day = default_period(today)
    assert (first, last_day) == season.last_window
    report = backtest_report(user=staff, first_date=first, last_date=last_day)
    summary = report["summary"]
    assert report["run_date"] == first and summary["transformers"] > 20
    assert summary["mean_abs_error_kw"] > 0 and summary["p_hh_suggested"] > 0
    assert summary["levels"]["heavy"]["hits"] + summary["levels"]["heavy"]["misses"] > 0
    client.force_login(staff)
    page = client.get("/load/backtest/", {"first_date": first.isoformat(),
                                          "last_date": last_day.isoformat()}).content.decode()
    assert 'data-station="TK-GDS-02"' in page

    # The 21-day projection of today, as `make run` makes it.
    run = projection_run(run_date=today, days=21)
    assert run.status == "done", run.error
    eve_in_horizon = 0 <= (season.eve - today).days < 21
    returning = AssetProjection.objects.filter(run=run, transformer__isnull=False)
    assert returning.exists()
    if eve_in_horizon:
        # Returning households come and go: the days differ, and some alerts are theirs.
        per_asset = Counter(t for t, _ in returning.values_list("transformer_id", "returning_households")
                            .distinct().order_by())
        assert sum(1 for n in per_asset.values() if n > 3) > 10
        assert Alert.objects.filter(last_run=run, level__gte=Level.HEAVY, returning_households__gt=0).exists()

    # The season outlook of today.
    runs = outlook_run(run_date=today)
    window = outlook_engine.season_window(today, outlook_engine.OutlookSettings())
    assert {r.season for r in runs} == {season.season}
    items = OutlookItem.objects.filter(run__in=runs)
    if not window.in_reach:
        assert all(r.days_projected == 0 and r.message for r in runs)
        assert not items.exists()
        return
    assert all(r.headline["villages_missing"] for r in runs if r.headline.get("villages"))
    if window.first_day > season.eve + timedelta(days=3):
        return  # the festival is over; the window's last days are projected and nothing more
    # Returning households push transformers and lines into heavy load and overload around 除夕.
    hot = items.filter(level__gte=Level.HEAVY)
    assert hot.filter(transformer__isnull=False).exists() and hot.filter(line__isnull=False).exists()
    assert hot.filter(registered_households__gt=0).count() >= 0.8 * hot.count()
    assert hot.exclude(order_by=None).count() == hot.count()
    # Estimated households on the villages with no list of this season.
    assert items.filter(estimated_households__gt=0).exists()
    if window.first_day <= season.eve:
        assert items.filter(level__gte=Level.OVERLOAD).count() >= 2
        peaks = Counter(hot.values_list("peak_date", flat=True))
        near_eve = sum(n for day, n in peaks.items() if abs((day - season.eve).days) <= 3)
        assert near_eve >= 0.8 * sum(peaks.values())
        assert any(r.headline["peak_day"] == season.eve.isoformat() for r in runs)
