"""Paged lists follow a total order: rows that tie on the requested ordering are told apart
by the primary key, so paging through a list gives every row exactly once."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Household, ReturningResident
from tests.loadforecast.factories import AssetProjectionFactory, ProjectionRunFactory
from zhoukou_grid.core.api import with_total_order


def _page_through(client, url, params) -> list[int]:
    seen, page = [], 1
    while True:
        response = client.get(url, {**params, "page": page})
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            return seen
        page += 1


def test_paging_projections_that_tie_on_the_date_gives_every_row_once(api, personas, world):
    a1 = world.grids["a1"]
    day = dt.date(2027, 2, 5)
    # One projection per run for the same transformer and day: 25 rows, all tied on the date.
    rows = [AssetProjectionFactory(run=ProjectionRunFactory(station=world.station_a1), grid=a1.grid,
                                   transformer=a1.transformer, date=day, level=n % 3) for n in range(25)]
    client = api(personas.station_staff)
    for params in ({"page_size": 4}, {"page_size": 3, "ordering": "date"}, {"page_size": 7, "ordering": "-level"}):
        seen = _page_through(client, "/api/v1/projections/", params)
        assert sorted(seen) == sorted(row.pk for row in rows), params
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/projections/", {"page_size": 4, "ordering": "-level", "page": 2})
    page_query = next(q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"] and "ORDER BY" in q["sql"])
    assert page_query.rsplit("ORDER BY", 1)[1].split("LIMIT")[0].rstrip().endswith('"id" ASC')


def test_with_total_order_adds_the_primary_key_only_when_needed():
    assert with_total_order(ReturningResident.objects.all()).query.order_by == (
        "arrival_date", "village_id", "name", "pk")
    assert with_total_order(ReturningResident.objects.order_by("-name")).query.order_by == ("-name", "pk")
    # A unique field (the account number) or the primary key already tells rows apart.
    assert with_total_order(Household.objects.all()).query.order_by == ()
    assert with_total_order(Household.objects.order_by("-account_no")).query.order_by == ("-account_no",)
    assert with_total_order(ReturningResident.objects.order_by("-id")).query.order_by == ("-id",)
    # A unique field across a relation does not: the relation may be empty or shared.
    assert with_total_order(ReturningResident.objects.order_by("household__account_no")).query.order_by == (
        "household__account_no", "pk")
