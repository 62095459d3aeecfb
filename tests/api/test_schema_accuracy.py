"""The schema says what the API does (the default checks of a schema-driven tester):
integer filters typed integer, page_size refused when it is not a size, business-rule 400s
documented on object actions, a PATCH answering every field of its schema, and JSON 404s
under /api/ with DEBUG on too. Checked against drf-spectacular's generated schema."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from tests.factories import ReturningResidentFactory
from tests.visits.factories import HazardFactory, VisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def query_parameters(schema, path):
    return {p["name"]: p for p in schema["paths"][path]["get"].get("parameters", []) if p["in"] == "query"}


def _json_schema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema (null allowed beside the type)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def body_schema(schema, path, method, code):
    """The JSON schema of one documented answer, its component references resolved."""
    content = schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
    return _json_schema({**content, "components": schema["components"]})


def validate(schema_part, body):
    Draft202012Validator(schema_part).validate(body)


def test_whole_number_filters_are_typed_integer(schema):
    assert query_parameters(schema, "/api/v1/projections/")["run"]["schema"]["type"] == "integer"
    assert query_parameters(schema, "/api/v1/measures/")["alert"]["schema"]["type"] == "integer"
    assert query_parameters(schema, "/api/v1/visits/")["round"]["schema"]["type"] == "integer"
    numbers = [(path, name) for path, operations in schema["paths"].items() if "get" in operations
               for name, parameter in query_parameters(schema, path).items()
               if parameter["schema"].get("type") == "number"]
    assert numbers == []  # no filter of the API takes a fraction


def test_an_integer_filter_refuses_a_fraction(api, personas):
    response = api(personas.station_staff).get("/api/v1/projections/", {"run": "1.5"})
    assert response.status_code == 400 and "run" in response.json()


@pytest.mark.parametrize("value", ["null", "0", "-3", "abc", ""])
def test_a_page_size_that_is_not_a_size_is_a_documented_400(api, personas, schema, value):
    response = api(personas.grid_manager).get("/api/v1/households/", {"page_size": value})
    if value == "":
        assert response.status_code == 200  # an empty parameter is no parameter
        return
    assert response.status_code == 400, value
    assert "page_size" in response.json()
    validate(body_schema(schema, "/api/v1/households/", "get", "400"), response.json())


def test_page_size_is_documented_with_its_bounds_and_every_paged_list_documents_400(api, personas, schema):
    parameter = query_parameters(schema, "/api/v1/households/")["page_size"]
    assert parameter["schema"] == {"type": "integer", "minimum": 1} and "500" in parameter["description"]
    paged = [path for path, operations in schema["paths"].items()
             if "get" in operations and "page_size" in query_parameters(schema, path)]
    assert len(paged) > 10
    assert [path for path in paged if "400" not in schema["paths"][path]["get"]["responses"]] == []
    response = api(personas.grid_manager).get("/api/v1/households/", {"page_size": 1000})
    assert response.status_code == 200  # more than 500 is cut to 500, as documented


def test_object_actions_document_their_business_rule_400(schema):
    for path in ("/api/v1/hazards/{id}/notify/", "/api/v1/hazards/{id}/recheck/", "/api/v1/issues/{id}/resolve/",
                 "/api/v1/visits/{id}/cancel/", "/api/v1/alerts/{id}/acknowledge/"):
        description = schema["paths"][path]["post"]["responses"]["400"]["description"]
        assert "current state" in description, path


def test_a_step_out_of_order_answers_the_documented_400(api, world, station_staff, schema):
    hazard = HazardFactory(grid=world.grids["a1"].grid)
    response = api(station_staff).post(f"/api/v1/hazards/{hazard.pk}/recheck/", {}, format="json")
    assert response.status_code == 400, response.content
    validate(body_schema(schema, "/api/v1/hazards/{id}/recheck/", "post", "400"), response.json())
    visit = VisitFactory(grid=world.grids["a1"].grid)
    client = api(station_staff)
    assert client.post(f"/api/v1/visits/{visit.pk}/cancel/", {"reason": "客户外出"}, format="json").status_code == 200
    again = client.post(f"/api/v1/visits/{visit.pk}/cancel/", {"reason": "客户外出"}, format="json")
    assert again.status_code == 400
    validate(body_schema(schema, "/api/v1/visits/{id}/cancel/", "post", "400"), again.json())


def test_a_patch_of_a_resident_without_household_answers_every_field_of_the_schema(api, world, grid_manager,
                                                                                  schema):
    resident = ReturningResidentFactory(village=world.grids["a1"].village, household=None)
    response = api(grid_manager).patch(f"/api/v1/residents/{resident.pk}/", {"persons": 3}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["transformer"] is None and body["household"] is None and body["persons"] == 3
    validate(body_schema(schema, "/api/v1/residents/{id}/", "patch", "200"), body)
    component = schema["components"]["schemas"]["Resident"]
    assert set(component["properties"]) <= set(body)


def test_with_debug_on_an_unknown_api_url_answers_json(api, personas, settings):
    settings.DEBUG = True
    client = api(personas.grid_manager)
    for url in ("/api/v1/no-such-list/", "/api/v1/households/not-a-number/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json" and set(response.json()) == {"detail"}
    # Pages outside the API keep Django's page.
    assert "text/html" in client.get("/no-such-page/").get("Content-Type", "")
