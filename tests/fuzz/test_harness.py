"""Tests of the fuzzing harness itself: if it stopped checking, the fuzz tests would pass vacuously."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.fuzz import harness

SCHEMA = harness.load_schema()


def _operations():
    for path, methods in SCHEMA.raw_schema["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path


def _shape(document: dict) -> dict:
    return {path: {method: sorted(op["responses"]) for method, op in methods.items() if isinstance(op, dict)}
            for path, methods in document["paths"].items()}


@pytest.mark.django_db
def test_the_fuzzed_schema_is_the_one_served_at_api_v1_schema(personas):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(personas.grid_manager)
    response = client.get(harness.SCHEMA_PATH, {"format": "json"})
    assert response.status_code == 200
    served = response.json()
    assert _shape(served) == _shape(SCHEMA.raw_schema)
    assert set(served["components"]["schemas"]) == set(SCHEMA.raw_schema["components"]["schemas"])


def test_every_operation_is_fuzzed_and_its_model_known():
    operations = list(_operations())
    assert len(operations) > 100  # the walker sees the API
    problems = []
    for method, path in operations:
        try:
            harness.response_model(method, path)
        except LookupError as error:
            problems.append(str(error))
        if "{id}" in path and harness.endpoint_viewset_model(path) is None:
            problems.append(f"{method} {path}: no viewset model to aim the id at")
    assert not problems, "\n".join(problems)
    # Every write is in exactly one of the two write files.
    import re

    work = [p for m, p in operations if m in harness.WRITE_METHODS and re.search(harness.WORK_PATHS, p)]
    network = [p for m, p in operations if m in harness.WRITE_METHODS and not re.search(harness.WORK_PATHS, p)]
    assert work and network


def test_roles_cover_every_persona_and_anonymous():
    assert set(harness.ROLES) == {"company_admin", "county_admin", "station_staff", "grid_manager", "outsider",
                                  "nobody", "anonymous", "village_clerk"}


@pytest.mark.django_db
def test_the_territory_check_finds_what_lies_outside(world, personas):
    from customers.models import Household
    from zhoukou_grid.territory.models import Village

    own = world.grids["a1"].households[0]
    foreign = world.grids["b1"].households[0]
    manager = personas.grid_manager
    row = {"id": own.pk, "account_no": own.account_no, "village": own.village.code,
           "transformer": own.transformer.code, "line": own.line.code, "grid": "JA-WG-01"}
    assert harness.leaks(manager, {"count": 1, "results": [row]}, Household) == []
    # A foreign row, a foreign code in an own row, a link to a foreign page: each is caught.
    assert harness.leaks(manager, [{"id": foreign.pk}], Household)
    assert harness.leaks(manager, {**row, "village": world.grids["b1"].village.code}, Household)
    own_page = reverse("customers:household_detail", args=[own.pk])
    foreign_page = reverse("customers:household_detail", args=[foreign.pk])
    assert harness.leaks(manager, {"id": own.pk, "page_url": own_page}, Household) == []
    assert harness.leaks(manager, {"id": own.pk, "page_url": foreign_page}, Household)
    # Context: the grid manager sees their station and county, not the other county's.
    assert harness.leaks(manager, {"id": world.station_a1.pk}, type(world.station_a1)) == []
    assert harness.leaks(manager, {"id": world.county_b.pk}, type(world.county_b))
    # Anonymous sees nothing.
    assert harness.leaks(None, {"id": own.village.pk}, Village)


def test_an_object_the_harness_cannot_place_fails_the_check():
    with pytest.raises(AssertionError, match="unknown model"):
        harness.named_objects({"id": 1, "mystery": {"id": 2}}, None)


@pytest.mark.django_db
def test_each_request_is_rolled_back_and_sent_as_every_role(fuzz_world):
    from customers.models import Household
    from zhoukou_grid.territory.models import County

    before = set(Household.objects.values_list("pk", flat=True))
    counties = County.objects.count()
    sent = harness.STATS["requests"]
    for pk in sorted(before):
        case = SCHEMA["/api/v1/households/{id}/"]["DELETE"].Case(path_parameters={"id": pk})
        harness.run_case(case, fuzz_world)
    case = SCHEMA["/api/v1/counties/"]["POST"].Case(body={"code": "419999", "name": "新县"},
                                                      media_type="application/json")
    harness.run_case(case, fuzz_world)
    assert harness.STATS["requests"] - sent == (len(before) + 1) * len(harness.ROLES)
    checked = harness.STATS["territory_checked"]
    harness.run_case(SCHEMA["/api/v1/counties/"]["GET"].Case(query={}), fuzz_world)
    assert harness.STATS["territory_checked"] - checked >= 5  # every role with a territory got rows checked
    # The county admin and the company admin deleted households and created a county, each undone.
    assert set(Household.objects.values_list("pk", flat=True)) == before
    assert County.objects.count() == counties
