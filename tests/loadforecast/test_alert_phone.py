"""The alert page on a phone: one chart of the peak load rate by day with the thresholds and a
compact day table; the desktop keeps the hourly chart and the full table (CSS decides which
shows; the browser test checks it at 390×844 and 1280×800)."""

from __future__ import annotations

import json
import re

import pytest

from loadforecast.models import AssetProjection
from tests.loadforecast.test_pages import DAYS, alert_url, assert_no_inline_code, overloaded_station, page

pytestmark = pytest.mark.django_db


def test_the_alert_page_carries_the_day_chart_and_the_compact_table(client, station_staff, world):
    s = overloaded_station(world)
    alert = s.alert
    response, body = page(client, station_staff, alert_url(alert))
    assert response.status_code == 200
    stored = list(AssetProjection.objects.filter(transformer=s.a1.transformer, run=alert.last_run).order_by("date"))
    chart = json.loads(re.search(r'<script id="day-chart-data" type="application/json">(.*?)</script>', body,
                                 re.S).group(1))
    assert chart["rates"] == pytest.approx([round(p.peak_load_rate * 100, 1) for p in stored])
    assert chart["labels"] == [f"{p.date:%m-%d}" for p in stored]
    assert chart["levels"][stored.index(max(stored, key=lambda p: p.peak_load_rate))] == alert.level_code
    assert [line["pct"] for line in chart["lines"]] == [round(alert.thresholds[k] * 100, 1)
                                                         for k in ("watch", "heavy", "overload")]
    assert chart["text"]["rate"] == "峰值负载率（%）"
    # One chart for the phone, the hourly one for the desktop, each in its own wrapper.
    assert re.search(r'<section class="panel lf-phone-only" data-day-chart>', body)
    assert re.search(r'<div class="lf-desktop-only">\s*\{?.*?data-load-chart', body, re.S)
    compact = re.search(r"<table class=\"lf-days-compact\" data-days-compact>.*?</table>", body, re.S).group(0)
    assert len(re.findall(r"<tr data-day=", compact)) == DAYS
    assert f'<tr data-day="{alert.peak_date:%Y-%m-%d}" class="lf-peak-day">' in compact
    assert len(re.findall(r'<table class="data-table lf-days" data-days>', body)) == 1
    assert "js/day_chart.js" in body and "js/load_chart.js" in body
    assert body.count("vendor/chartjs/chart.umd.min.js") == 1  # two copies: two Chart registries
    assert_no_inline_code(body, "alert page")


def test_an_alert_without_a_run_has_no_day_chart(client, station_staff, world):
    from tests.loadforecast.factories import AlertFactory

    g = world.grids["a1"]
    alert = AlertFactory(grid=g.grid, transformer=g.transformer, last_run=None)
    response, body = page(client, station_staff, alert_url(alert))
    assert response.status_code == 200
    assert "data-day-chart" not in body and "day-chart-data" not in body
