"""What each persona reads through the API: lists, details, filters, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import _grid_with_assets
from tests.factories import GridFactory

pytestmark = pytest.mark.django_db

# Endpoint -> how to read the identifying key of a row in the world fixture.
ENDPOINTS = {
    "counties": "code",
    "stations": "code",
    "grids": "code",
    "villages": "code",
    "transformers": "code",
    "lvlines": "code",
    "households": "account_no",
}


def world_keys(world, *, counties=(), stations=(), grids=()):
    """The keys per endpoint of the given parts of the world fixture."""
    keys = {endpoint: set() for endpoint in ENDPOINTS}
    keys["counties"] = {getattr(world, name).code for name in counties}
    keys["stations"] = {getattr(world, name).code for name in stations}
    for name in grids:
        part = world.grids[name]
        keys["grids"].add(part.grid.code)
        keys["villages"].add(part.village.code)
        keys["transformers"].add(part.transformer.code)
        keys["lvlines"].add(part.line.code)
        keys["households"].update(h.account_no for h in part.households)
    return keys


def expected_for(persona: str, world) -> dict[str, set[str]]:
    if persona == "company_admin":
        return world_keys(world, counties=("county_a", "county_b"), stations=("station_a1", "station_a2", "station_b1"),
                          grids=("a1", "a2", "a3", "b1"))
    if persona == "county_admin":
        return world_keys(world, counties=("county_a",), stations=("station_a1", "station_a2"), grids=("a1", "a2", "a3"))
    if persona == "station_staff":
        # The county above the station is visible as context.
        return world_keys(world, counties=("county_a",), stations=("station_a1",), grids=("a1", "a2"))
    if persona == "grid_manager":
        return world_keys(world, counties=("county_a",), stations=("station_a1",), grids=("a1",))
    if persona == "outsider":
        return world_keys(world, counties=("county_b",), stations=("station_b1",), grids=("b1",))
    raise AssertionError(persona)


def list_keys(client, endpoint: str, **params) -> set[str]:
    response = client.get(f"/api/v1/{endpoint}/", {"page_size": 500, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return {row[ENDPOINTS[endpoint]] for row in body["results"]}


@pytest.mark.parametrize("persona", ["company_admin", "county_admin", "station_staff", "grid_manager", "outsider"])
def test_each_persona_lists_exactly_their_territory(api, personas, world, persona):
    client = api(getattr(personas, persona))
    expected = expected_for(persona, world)
    for endpoint in ENDPOINTS:
        assert list_keys(client, endpoint) == expected[endpoint], endpoint


def test_a_user_without_a_role_is_refused_every_list(api, personas):
    client = api(personas.nobody)
    for endpoint in ENDPOINTS:
        response = client.get(f"/api/v1/{endpoint}/")
        assert response.status_code == 403, endpoint
        assert "detail" in response.json()


def test_an_object_of_another_county_answers_like_a_missing_one(api, personas, world):
    client = api(personas.county_admin)
    other = world.grids["b1"].transformer
    outside = client.get(f"/api/v1/transformers/{other.pk}/")
    missing = client.get("/api/v1/transformers/987654/")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()
    own = client.get(f"/api/v1/transformers/{world.grids['a3'].transformer.pk}/")
    assert own.status_code == 200
    assert own.json()["grid"] == "JA-WG-03"


def test_a_grid_manager_cannot_open_the_neighbouring_grid(api, personas, world):
    client = api(personas.grid_manager)
    neighbour = world.grids["a2"]
    for endpoint, obj in [("grids", neighbour.grid), ("villages", neighbour.village),
                          ("lvlines", neighbour.line), ("households", neighbour.households[0])]:
        assert client.get(f"/api/v1/{endpoint}/{obj.pk}/").status_code == 404, endpoint
    own = world.grids["a1"].households[0]
    response = client.get(f"/api/v1/households/{own.pk}/")
    assert response.status_code == 200
    assert response.json()["account_no"] == own.account_no


def test_station_staff_see_their_county_as_context_but_not_its_other_station(api, personas, world):
    client = api(personas.station_staff)
    assert client.get(f"/api/v1/counties/{world.county_a.pk}/").status_code == 200
    assert client.get(f"/api/v1/stations/{world.station_a2.pk}/").status_code == 404


def test_detail_shows_codes_of_related_objects(api, personas, world):
    part = world.grids["a1"]
    household = part.households[0]
    body = api(personas.grid_manager).get(f"/api/v1/households/{household.pk}/").json()
    assert body["village"] == part.village.code
    assert body["transformer"] == part.transformer.code
    assert body["line"] == part.line.code
    assert body["grid"] == part.grid.code
    grid = api(personas.grid_manager).get(f"/api/v1/grids/{part.grid.pk}/").json()
    assert grid == {
        "id": part.grid.pk, "code": "JA-WG-01", "name": "甲一网格", "station": "JA-GDS-01",
        "station_name": "甲一所", "county": "411601", "manager": "grid_manager",
    }


def test_filter_by_grid_id(api, personas, world):
    client = api(personas.county_admin)
    part = world.grids["a2"]
    assert list_keys(client, "households", grid=part.grid.pk) == {h.account_no for h in part.households}
    assert list_keys(client, "villages", grid=part.grid.pk) == {part.village.code}
    assert list_keys(client, "lvlines", grid=part.grid.pk) == {part.line.code}


def test_filter_by_a_grid_outside_the_territory_is_refused_like_a_missing_one(api, personas, world):
    client = api(personas.county_admin)
    outside = client.get("/api/v1/households/", {"grid": world.grids["b1"].grid.pk})
    missing = client.get("/api/v1/households/", {"grid": 987654})
    assert outside.status_code == missing.status_code == 400
    assert list(outside.json()) == list(missing.json()) == ["grid"]


def test_search_with_q(api, personas, world):
    client = api(personas.company_admin)
    assert list_keys(client, "grids", q="甲二") == {"JA-WG-02"}
    assert list_keys(client, "stations", q="yi-gds") == {"YI-GDS-01"}
    household = world.grids["a3"].households[1]
    assert list_keys(client, "households", q=household.account_no) == {household.account_no}


def test_search_never_reaches_outside_the_territory(api, personas, world):
    assert list_keys(api(personas.outsider), "grids", q="甲") == set()


def test_transformer_rating_filter_and_ordering(api, personas, world):
    big = world.grids["a1"].transformer
    big.rated_kva = 630
    big.save()
    client = api(personas.company_admin)
    assert list_keys(client, "transformers", rated_kva_min=400) == {big.code}
    rows = client.get("/api/v1/transformers/", {"ordering": "-rated_kva"}).json()["results"]
    assert rows[0]["code"] == big.code
    codes = [row["code"] for row in client.get("/api/v1/grids/", {"ordering": "-code"}).json()["results"]]
    assert codes == sorted(codes, reverse=True)


def test_pagination(api, personas, world):
    body = api(personas.company_admin).get("/api/v1/households/", {"page_size": 3}).json()
    assert body["count"] == 8
    assert len(body["results"]) == 3
    assert body["next"] and "page=2" in body["next"]


def test_me_shows_roles_and_territories(api, personas, world):
    body = api(personas.grid_manager).get("/api/v1/me/").json()
    assert body["username"] == "grid_manager"
    assert body["roles"] == [{
        "role": "grid_manager", "role_display": body["roles"][0]["role_display"],
        "territory": {"level": "grid", "id": world.grids["a1"].grid.pk, "code": "JA-WG-01", "name": "甲一网格"},
    }]
    assert "customers.view_household" in body["permissions"]
    assert "customers.change_household" not in body["permissions"]
    admin = api(personas.company_admin).get("/api/v1/me/").json()
    assert admin["roles"][0]["role"] == "company_admin"
    assert admin["roles"][0]["territory"]["level"] == "company"


def test_me_of_a_user_without_roles_is_empty_and_anonymous_is_refused(api, personas):
    body = api(personas.nobody).get("/api/v1/me/").json()
    assert body["roles"] == [] and body["permissions"] == []
    assert api().get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_list_query_count_does_not_grow_with_rows(api, personas, world, endpoint, django_assert_max_num_queries):
    client = api(personas.company_admin)
    with CaptureQueriesContext(connection) as few:
        list_keys(client, endpoint)
    station = world.station_a2
    for _ in range(3):
        _grid_with_assets(GridFactory(station=station))
    with CaptureQueriesContext(connection) as many:
        rows = list_keys(client, endpoint)
    assert len(rows) >= len(expected_for("company_admin", world)[endpoint])
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    # session, user, territory, 2 Django permission lookups, roles, count, page
    # (+ one prefetch for transformer ties): the same for 10 rows or 10,000.
    with django_assert_max_num_queries(9):
        list_keys(client, endpoint)
