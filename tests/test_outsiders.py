"""THE outsider test: every list and detail page and API endpoint, as someone from elsewhere.

The routes are discovered, not listed: the test walks `django.urls.get_resolver()` and
finds the model behind each route (an HTML view's `model`/`queryset`, an API viewset's
`queryset`). For every model it takes an object inside 周口甲县 (from the `world`
fixture, or made with the model's factory in grid 甲一网格) and checks:

- a user of the same role in 周口乙县 gets 404 for the detail, exactly like a missing id,
  and never sees the object in a list;
- the user of the object's own territory (the grid manager of 甲一网格, or the narrowest
  role that may view the model) gets 200 and finds it in the list, which proves the
  "not in the list" check can fail;
- pages without a model show nothing of 周口甲县 to the outsider.

A new route with URL parameters whose model the walker cannot determine fails
`test_every_route_with_parameters_has_a_known_model`: new features cannot skip this test.
"""

from __future__ import annotations

import importlib
import io
import json
import types
from dataclasses import dataclass, field

import pytest
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.views.generic.list import MultipleObjectMixin

from tests.factories import RoleAssignmentFactory, UserFactory
from zhoukou_grid.models import Role

# Routes outside this test's subject: the Django admin has its own staff-only rules.
SKIPPED_PREFIXES = ("admin/",)
# URL parameters that name the object of the route's model.
OBJECT_KWARGS = {"pk", "id", "code", "account_no", "slug"}
MISSING_PK = 987654321


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", for reverse()
    route: str
    kwargs: tuple[str, ...]
    model: type[Model] | None
    kind: str  # "detail", "list" or "page" (no model)
    api: bool

    def __str__(self) -> str:
        return self.name


@dataclass
class Discovery:
    routes: list[Route] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _walk(patterns, prefix="", namespace=None, kwargs=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns, kwargs + _kwargs_of(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace, entry, kwargs + _kwargs_of(entry.pattern)


def _kwargs_of(pattern) -> tuple[str, ...]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return tuple(converters)
    return tuple(pattern.regex.groupindex)


def _model_of_queryset_holder(holder) -> type[Model] | None:
    model = getattr(holder, "model", None)
    if isinstance(model, type) and issubclass(model, Model):
        return model
    queryset = getattr(holder, "queryset", None)
    if queryset is not None and hasattr(queryset, "model"):
        return queryset.model
    return None


def discover() -> Discovery:
    found = Discovery()
    for route, namespace, entry, kwargs in _walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or "format" in kwargs:
            continue  # the admin; DRF's ".json" suffix twins of routes already seen
        callback = entry.callback
        name = f"{namespace}:{entry.name}" if namespace else entry.name
        api_class = getattr(callback, "cls", None)
        view_class = getattr(callback, "view_class", None)
        if api_class is not None:
            actions = getattr(callback, "actions", None)
            if actions is not None and "get" not in actions:
                continue  # a viewset route without GET (e.g. a POST-only action)
            model = _model_of_queryset_holder(api_class)
            api = True
        else:
            model = _model_of_queryset_holder(view_class) if view_class else None
            api = False
        if model is None:
            if kwargs:
                found.problems.append(
                    f"{route} ({name}) takes {kwargs} but its model is unknown: give the view a `model` or "
                    f"`queryset` so tests/test_outsiders.py can check it"
                )
            elif name:
                found.routes.append(Route(name, route, (), None, "page", api))
            else:
                found.problems.append(f"{route}: give the URL a name so the test can reverse it")
            continue
        if not kwargs:
            found.routes.append(Route(name, route, (), model, "list", api))
            continue
        unknown = [kwarg for kwarg in kwargs if kwarg not in OBJECT_KWARGS]
        if unknown or (view_class is not None and issubclass(view_class, MultipleObjectMixin)):
            found.problems.append(
                f"{route} ({name}): cannot fill URL parameters {unknown or kwargs} with an object of "
                f"{model.__name__}; teach tests/test_outsiders.py how"
            )
            continue
        if not name:
            found.problems.append(f"{route}: give the URL a name so the test can reverse it")
            continue
        found.routes.append(Route(name, route, kwargs, model, "detail", api))
    return found


DISCOVERY = discover()
DETAIL_ROUTES = [r for r in DISCOVERY.routes if r.kind == "detail"]
LIST_ROUTES = [r for r in DISCOVERY.routes if r.kind == "list"]
PAGES = [r for r in DISCOVERY.routes if r.kind == "page"]
MODELS = sorted({r.model for r in DISCOVERY.routes if r.model is not None}, key=lambda m: m._meta.label)


# --- Objects inside 周口甲县 -----------------------------------------------------------
def _factory_for(model):
    name = f"{model.__name__}Factory"
    for module_name in ("tests.factories", f"tests.{model._meta.app_label}.factories"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    return None


def _territory_level(model, world):
    """The narrowest level the model is scoped by, and that level's object in 甲一网格's line."""
    paths = getattr(model, "territory_paths", None)
    if not paths:
        raise AssertionError(
            f"{model.__name__} declares no territory_paths: scoping.for_user cannot scope it, and this test "
            f"cannot place one inside 周口甲县. Declare territory_paths (or extend this test)."
        )
    for level, territory in (("grid", world.grids["a1"].grid), ("station", world.station_a1),
                             ("county", world.county_a)):
        if level in paths:
            return paths[level], territory
    raise AssertionError(f"{model.__name__}.territory_paths names no known level: {paths}")


def inside_object(model, world):
    """An object of `model` in grid 甲一网格 (or its station/county), found or made."""
    lookup, territory = _territory_level(model, world)
    if lookup == "pk":
        return territory
    existing = model._default_manager.filter(**{lookup: territory.pk}).order_by("pk").first()
    if existing is not None:
        return existing
    factory = _factory_for(model)
    if factory is None:
        raise AssertionError(
            f"No {model.__name__} inside 周口甲县 in the world fixture and no {model.__name__}Factory in "
            f"tests/factories.py (or tests/{model._meta.app_label}/factories.py) to make one."
        )
    head, _, rest = lookup.partition("__")
    field_name = head.removesuffix("_id") if not rest else head
    if not rest:
        return factory(**{field_name: territory})
    parent = inside_object(model._meta.get_field(field_name).related_model, world)
    return factory(**{field_name: parent})


def objects_in_county_a(model, world) -> list:
    paths = model.territory_paths
    return list(model._default_manager.filter(**{paths["county"]: world.county_a.pk}).order_by("pk")[:50])


def markers(obj) -> set[str]:
    """Strings that show `obj` on a page: its codes and the links to its detail pages."""
    found = {str(getattr(obj, attr)) for attr in ("code", "account_no") if getattr(obj, attr, None)}
    for route in DETAIL_ROUTES:
        if route.model is type(obj) and not route.api:
            found.add(reverse(route.name, kwargs=_fill(route, obj)))
    return found


def _fill(route: Route, obj) -> dict:
    values = {}
    for kwarg in route.kwargs:
        values[kwarg] = obj.pk if kwarg in ("pk", "id") else getattr(obj, kwarg)
    return values


# --- Who looks ---------------------------------------------------------------------
_INSIDERS = (("grid_manager", Role.GRID_MANAGER, "grid"), ("station_staff", Role.STATION_STAFF, "station"),
             ("county_admin", Role.COUNTY_ADMIN, "county"))


def insider_and_outsider(model, personas, world):
    """The narrowest persona of 甲县 allowed to view `model`, and the same role in 乙县.

    Comparing like with like makes the outsider's 404 meaningful: a 403 would only say
    the role lacks the verb.
    """
    perm = f"{model._meta.app_label}.view_{model._meta.model_name}"
    for attr, role, level in _INSIDERS:
        insider = getattr(personas, attr)
        if insider.has_perm(perm):
            if attr == "grid_manager":
                return insider, personas.outsider
            twin = UserFactory(username=f"outsider_{attr}")
            territory = {"grid": world.grids["b1"].grid, "station": world.station_b1, "county": world.county_b}
            RoleAssignmentFactory(user=twin, role=role, **{level: territory[level]})
            return insider, twin
    return None, personas.outsider


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(client, route: Route, url: str, **params):
    if route.api:
        params.setdefault("page_size", 500)
        return client.get(url, params, HTTP_ACCEPT="application/json")
    return client.get(url, params)


def readable_text(response) -> str:
    """The response as text: HTML/JSON/CSV as is, spreadsheets cell by cell."""
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if "spreadsheetml" in content_type:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
            for cell in row if cell is not None
        )
    if content_type.startswith(("text/", "application/json", "application/vnd.oai")) or not body:
        return body.decode(response.charset or "utf-8")
    raise AssertionError(f"cannot read a {content_type!r} answer: teach tests/test_outsiders.py how")


def api_ids(response) -> set:
    body = json.loads(response.content)
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {row["id"] for row in rows}


# --- The tests ---------------------------------------------------------------------
def test_every_route_with_parameters_has_a_known_model():
    assert not DISCOVERY.problems, "\n".join(DISCOVERY.problems)


def test_discovery_finds_the_pages_and_endpoints_we_know():
    """Guards the walker itself: if it stopped finding routes, every check would pass vacuously."""
    names = {route.name for route in DISCOVERY.routes}
    assert {
        "portal:grid_list", "portal:grid_detail", "portal:transformer_detail", "customers:household_detail",
        "api:household-list", "api:household-detail", "api:county-detail", "home",
    } <= names
    by_name = {route.name: route for route in DISCOVERY.routes}
    assert by_name["customers:household_detail"].model.__name__ == "Household"
    assert by_name["api:lvline-list"].kind == "list" and by_name["api:lvline-list"].api


def test_a_detail_route_whose_model_is_unknown_is_reported():
    def thing(request, pk):
        return HttpResponse("a thing")

    fake_urls = types.ModuleType("fake_urls")
    fake_urls.urlpatterns = [path("things/<int:pk>/", thing, name="thing"), path("things/", thing, name="things")]
    with override_settings(ROOT_URLCONF=fake_urls):
        found = discover()
    assert len(found.problems) == 1
    assert "things/<int:pk>/" in found.problems[0] and "model is unknown" in found.problems[0]
    assert [route.kind for route in found.routes] == ["page"]


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_a_detail_inside_the_other_county_answers_404(route, personas, world):
    target = inside_object(route.model, world)
    insider, outsider = insider_and_outsider(route.model, personas, world)
    url = reverse(route.name, kwargs=_fill(route, target))
    as_outsider = get(client_for(outsider), route, url)
    if insider is None:
        # No role below company admin may view this model: the verb is refused, whatever the id.
        assert as_outsider.status_code == 403, url
        return
    assert as_outsider.status_code == 404, f"{url} as {outsider.username}: {as_outsider.status_code}"
    missing = reverse(route.name, kwargs={k: MISSING_PK if k in ("pk", "id") else "0000000000" for k in route.kwargs})
    assert get(client_for(outsider), route, missing).status_code == 404
    as_insider = get(client_for(insider), route, url)
    assert as_insider.status_code == 200, f"{url} as {insider.username}: {as_insider.status_code}"


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_no_list_shows_the_other_county_to_an_outsider(route, personas, world):
    target = inside_object(route.model, world)
    insider, outsider = insider_and_outsider(route.model, personas, world)
    url = reverse(route.name)
    as_outsider = get(client_for(outsider), route, url)
    if insider is None:
        assert as_outsider.status_code == 403, url
        return
    assert as_outsider.status_code == 200, f"{url} as {outsider.username}: {as_outsider.status_code}"
    as_insider = get(client_for(insider), route, url)
    assert as_insider.status_code == 200, f"{url} as {insider.username}: {as_insider.status_code}"
    inside = objects_in_county_a(route.model, world)
    if route.api:
        assert target.pk in api_ids(as_insider), f"{url}: the insider's own object is missing, the check is void"
        assert not api_ids(as_outsider) & {obj.pk for obj in inside}, url
    target_markers = markers(target)
    assert target_markers, f"{route.model.__name__} has no code and no detail page to recognise it by"
    insider_text = readable_text(as_insider)
    assert any(m in insider_text for m in target_markers), (
        f"{url}: the insider's own object ({target_markers}) is not shown, so the outsider check is void"
    )
    outsider_text = readable_text(as_outsider)
    leaked = {m for obj in inside for m in markers(obj) if m in outsider_text}
    assert not leaked, f"{url} shows {leaked} of 周口甲县 to {outsider.username}"


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_pages_without_a_model_show_nothing_of_the_other_county(route, personas, world):
    every_inside = set()
    for model in MODELS:
        inside_object(model, world)  # make sure every kind has something to leak
    for model in MODELS:
        for obj in objects_in_county_a(model, world):
            every_inside |= markers(obj)
    response = get(client_for(personas.outsider), route, reverse(route.name))
    assert response.status_code < 500
    if response.status_code == 200:
        text = readable_text(response)
        leaked = {m for m in every_inside if m in text}
        assert not leaked, f"{route.route} shows {leaked} of 周口甲县 to the outsider"
