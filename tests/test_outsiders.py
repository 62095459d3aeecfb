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
import uuid
from dataclasses import dataclass, field

import pytest
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.views.generic.list import MultipleObjectMixin

from tests.factories import RoleAssignmentFactory, UserFactory
from zhoukou_grid.core.models import ImportJob, Notification
from zhoukou_grid.territory.models import Role

# Routes outside this test's subject: the Django admin has its own staff-only rules; users are
# not territory objects (a user is in a county through their roles): the users page's scoping
# is tests/zhoukou_grid/test_users_page.py's.
SKIPPED_PREFIXES = ("admin/", "users/")
# URL parameters that name the object of the route's model.
OBJECT_KWARGS = {"pk", "id", "code", "account_no", "slug"}
MISSING_PK = 987654321


def _import_kinds():
    from zhoukou_grid.core.importing.spec import all_kinds

    return [(kind.name, kind.model) for kind in all_kinds()]


# Teaching the test about function views (no `model` attribute to read):
# a parameter that is the primary key of a model ...
MODEL_OF_KWARG = {"job_id": ImportJob}
# ... and a parameter that is not an object: each value is a case of its own, whose page
# lists the rows of a model (imports: an XLSX template or an export per kind of data).
VALUES_OF_KWARG = {"kind": _import_kinds}


def make_import_job(owner, world):
    """A previewed import by `owner` with one rejected row (so it has an error workbook)."""
    from zhoukou_grid.core.importing.jobs import import_job_preview
    from zhoukou_grid.core.importing.spec import get_kind

    data = "网格编码,村编码,村名称\r\nNO-SUCH-GRID,411627555001,外村\r\n".encode("utf-8-sig")
    return import_job_preview(user=owner, kind=get_kind("villages"), data=data, file_name="村名单.csv",
                              skip_invalid=False)


# Models a user sees because they own the row, not through territory: how to make one,
# and which permission makes a persona its owner.
def make_notification(owner, world):
    from tests.factories import NotificationFactory

    return NotificationFactory(user=owner)


# Every role holds view_grid: any portal user is the owner of their notifications.
OWNED_MODELS = {ImportJob: (make_import_job, "zhoukou_grid.add_importjob"),
                Notification: (make_notification, "zhoukou_grid.view_grid")}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", for reverse()
    route: str
    kwargs: tuple[str, ...]
    model: type[Model] | None
    kind: str  # "detail", "list" or "page" (no model)
    api: bool
    # Parameters that are not an object (e.g. an import kind), fixed per case.
    fixed: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.name + "".join(f"[{value}]" for _, value in self.fixed)

    def url(self, obj=None) -> str:
        kwargs = dict(self.fixed)
        for kwarg in self.kwargs:
            kwargs[kwarg] = obj.pk if kwarg in ("pk", "id") or kwarg in MODEL_OF_KWARG else getattr(obj, kwarg)
        return reverse(self.name, kwargs=kwargs)


@dataclass
class Discovery:
    routes: list[Route] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The service card's public pages (namespace "card"): no account, no territory; walked by
    # the anonymous card holder below.
    card_routes: list[str] = field(default_factory=list)


# The namespace of the pages a service card's QR code opens without an account.
CARD_NAMESPACE = "card"


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
        if namespace == CARD_NAMESPACE:
            found.card_routes.append(name)
            continue
        api_class = getattr(callback, "cls", None)
        view_class = getattr(callback, "view_class", None)
        if api_class is not None:
            actions = getattr(callback, "actions", None)
            if actions is not None and "get" not in actions:
                continue  # a viewset route without GET (e.g. a POST-only action)
            model = _model_of_queryset_holder(api_class)
            api = True
        else:
            model = _model_of_queryset_holder(view_class or callback)
            api = False
        if not name:
            found.problems.append(f"{route}: give the URL a name so the test can reverse it")
            continue
        value_kwargs = [kwarg for kwarg in kwargs if kwarg in VALUES_OF_KWARG]
        if value_kwargs == list(kwargs) and len(kwargs) == 1:
            for value, kind_model in VALUES_OF_KWARG[kwargs[0]]():
                found.routes.append(Route(name, route, (), kind_model, "list", api, fixed=((kwargs[0], value),)))
            continue
        if model is None and len(kwargs) == 1 and kwargs[0] in MODEL_OF_KWARG:
            model = MODEL_OF_KWARG[kwargs[0]]
        if model is None:
            if kwargs:
                found.problems.append(
                    f"{route} ({name}) takes {kwargs} but its model is unknown: give the view a `model` or "
                    f"`queryset` (or teach tests/test_outsiders.py in MODEL_OF_KWARG / VALUES_OF_KWARG)"
                )
            else:
                found.routes.append(Route(name, route, (), None, "page", api))
            continue
        if not kwargs:
            found.routes.append(Route(name, route, (), model, "list", api))
            continue
        unknown = [kwarg for kwarg in kwargs if kwarg not in OBJECT_KWARGS and kwarg not in MODEL_OF_KWARG]
        if unknown or len(kwargs) > 1 or (view_class is not None and issubclass(view_class, MultipleObjectMixin)):
            found.problems.append(
                f"{route} ({name}): cannot fill URL parameters {unknown or kwargs} with an object of "
                f"{model.__name__}; teach tests/test_outsiders.py how"
            )
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


def inside_object(model, world, personas):
    """An object of `model` in grid 甲一网格 (or its station/county), found or made."""
    if model in OWNED_MODELS:
        maker, perm = OWNED_MODELS[model]
        owner = insider_and_outsider(model, personas, world, perm=perm)[0]
        existing = model._default_manager.filter(user=owner).first()
        return existing or maker(owner, world)
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
    parent = inside_object(model._meta.get_field(field_name).related_model, world, personas)
    return factory(**{field_name: parent})


def objects_in_county_a(model, world, personas) -> list:
    """Every object of `model` the outsider must not see (at most 50)."""
    if model in OWNED_MODELS:
        return [inside_object(model, world, personas)]
    county_lookup = model.territory_paths["county"]
    return list(model._default_manager.filter(**{county_lookup: world.county_a.pk}).order_by("pk")[:50])


OWNER_CHAINS = (("transformer",), ("line",), ("alert", "transformer"), ("alert", "line"), ("station",), ("county",),
                ("village",))


def markers(obj) -> set[str]:
    """Strings that show `obj` on a page: its codes and the links to its detail pages."""
    found = {str(getattr(obj, attr)) for attr in ("code", "account_no") if getattr(obj, attr, None)}
    if obj._meta.label == "zhoukou_grid.Village":
        # Village lists (the residents template's drop-down) name villages, not codes.
        found.add(obj.name)
    if not found:
        # A row without a code of its own (a run, an alert, a measure, settings) is recognised
        # by the code of the asset or territory it belongs to.
        for chain in OWNER_CHAINS:
            owner = obj
            for attr in chain:
                owner = getattr(owner, attr, None)
            if getattr(owner, "code", None):
                found.add(str(owner.code))
                break
    for route in DETAIL_ROUTES:
        if route.model is type(obj) and not route.api:
            found.add(route.url(obj))
    return found


def markers_of_county_a(world, personas) -> set[str]:
    """Markers of every object of 周口甲县, of every model some route shows."""
    result = set()
    for model in MODELS:
        inside_object(model, world, personas)  # make sure every kind has something to leak
        for obj in objects_in_county_a(model, world, personas):
            result |= markers(obj)
    return result


# --- Who looks ---------------------------------------------------------------------
_INSIDERS = (("grid_manager", Role.GRID_MANAGER, "grid"), ("station_staff", Role.STATION_STAFF, "station"),
             ("county_admin", Role.COUNTY_ADMIN, "county"))


def _twin(attr, role, level, world):
    """The same role as persona `attr`, over the matching territory of 周口乙县."""
    user = UserFactory(username=f"outsider_{attr}")
    territory = {"grid": world.grids["b1"].grid, "station": world.station_b1, "county": world.county_b}
    if not user.role_assignments.exists():
        RoleAssignmentFactory(user=user, role=role, **{level: territory[level]})
    return user


def insider_and_outsider(model, personas, world, *, perm=None, allowed=None):
    """The narrowest persona of 甲县 allowed to see the thing, and the same role in 乙县.

    Comparing like with like makes the outsider's 404 meaningful: a 403 would only say
    the role lacks the verb. `allowed(user)` overrides the permission test.
    """
    perm = perm or f"{model._meta.app_label}.view_{model._meta.model_name}"
    for attr, role, level in _INSIDERS:
        insider = getattr(personas, attr)
        if (allowed(insider) if allowed else insider.has_perm(perm)):
            if attr == "grid_manager":
                return insider, personas.outsider
            return insider, _twin(attr, role, level, world)
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

        workbook = load_workbook(io.BytesIO(body))
        texts = [str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
                 for cell in row if cell is not None]
        # Drop-down lists (data validation) name codes too.
        for sheet in workbook.worksheets:
            texts += [str(rule.formula1) for rule in sheet.data_validations.dataValidation]
        for sheet_name in workbook.sheetnames:
            texts.append(sheet_name)
        return "\n".join(texts)
    if content_type.startswith(("text/", "application/json", "application/vnd.oai", "application/manifest+json")) \
            or not body:
        return body.decode(response.charset or "utf-8")
    raise AssertionError(f"cannot read a {content_type!r} answer: teach tests/test_outsiders.py how")


def api_ids(response) -> set:
    body = json.loads(response.content)
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {str(row["id"]) for row in rows}  # JSON ids as text: UUID primary keys (import jobs) compare too


def missing_url(route: Route, target) -> str:
    missing = uuid.uuid4() if isinstance(target.pk, uuid.UUID) else MISSING_PK
    kwargs = dict(route.fixed)
    for kwarg in route.kwargs:
        kwargs[kwarg] = missing if kwarg in ("pk", "id") or kwarg in MODEL_OF_KWARG else "0000000000"
    return reverse(route.name, kwargs=kwargs)


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
    perm = OWNED_MODELS[route.model][1] if route.model in OWNED_MODELS else None
    insider, outsider = insider_and_outsider(route.model, personas, world, perm=perm)
    target = inside_object(route.model, world, personas)
    url = route.url(target)
    as_outsider = get(client_for(outsider), route, url)
    if insider is None:
        # No role below company admin may view this model: the verb is refused, whatever the id.
        assert as_outsider.status_code == 403, url
        return
    assert as_outsider.status_code == 404, f"{url} as {outsider.username}: {as_outsider.status_code}"
    assert get(client_for(outsider), route, missing_url(route, target)).status_code == 404
    as_insider = get(client_for(insider), route, url)
    assert as_insider.status_code == 200, f"{url} as {insider.username}: {as_insider.status_code}"


@pytest.mark.parametrize("route", [r for r in LIST_ROUTES if not r.fixed], ids=str)
def test_no_list_shows_the_other_county_to_an_outsider(route, personas, world):
    perm = OWNED_MODELS[route.model][1] if route.model in OWNED_MODELS else None
    insider, outsider = insider_and_outsider(route.model, personas, world, perm=perm)
    target = inside_object(route.model, world, personas)
    url = route.url()
    as_outsider = get(client_for(outsider), route, url)
    if insider is None:
        assert as_outsider.status_code == 403, url
        return
    assert as_outsider.status_code == 200, f"{url} as {outsider.username}: {as_outsider.status_code}"
    as_insider = get(client_for(insider), route, url)
    assert as_insider.status_code == 200, f"{url} as {insider.username}: {as_insider.status_code}"
    inside = objects_in_county_a(route.model, world, personas)
    if route.api:
        assert str(target.pk) in api_ids(as_insider), f"{url}: the insider's own object is missing, the check is void"
        assert not api_ids(as_outsider) & {str(obj.pk) for obj in inside}, url
    target_markers = markers(target)
    assert target_markers, f"{route.model.__name__} has no code and no detail page to recognise it by"
    insider_text = readable_text(as_insider)
    assert any(m in insider_text for m in target_markers), (
        f"{url}: the insider's own object ({target_markers}) is not shown, so the outsider check is void"
    )
    outsider_text = readable_text(as_outsider)
    leaked = {m for obj in inside for m in markers(obj) if m in outsider_text}
    assert not leaked, f"{url} shows {leaked} of 周口甲县 to {outsider.username}"


@pytest.mark.parametrize("route", [r for r in LIST_ROUTES if r.fixed], ids=str)
def test_no_download_per_kind_shows_the_other_county_to_an_outsider(route, personas, world):
    """Exports and templates per kind of data: the outsider's file names nothing of 甲县."""
    county_a = markers_of_county_a(world, personas)
    url = route.url()

    def shows_county_a(user) -> bool:
        response = get(client_for(user), route, url)
        if response.status_code != 200:
            return False
        text = readable_text(response)
        return any(m in text for m in county_a)

    # The narrowest persona whose file shows something of 甲县; the outsider has the same role.
    insider, outsider = insider_and_outsider(route.model, personas, world, allowed=shows_county_a)
    if insider is None:
        assert get(client_for(personas.county_admin), route, url).status_code in (403, 404), (
            f"{url}: no persona of 甲县 finds anything of 甲县 in it, so the outsider check would be void"
        )
        return
    as_outsider = get(client_for(outsider), route, url)
    assert as_outsider.status_code == 200, f"{url} as {outsider.username}: {as_outsider.status_code}"
    outsider_text = readable_text(as_outsider)
    leaked = {m for m in county_a if m in outsider_text}
    assert not leaked, f"{url} shows {leaked} of 周口甲县 to {outsider.username}"


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_pages_without_a_model_show_nothing_of_the_other_county(route, personas, world):
    county_a = markers_of_county_a(world, personas)
    response = get(client_for(personas.outsider), route, route.url())
    assert response.status_code < 500
    if response.status_code == 200:
        text = readable_text(response)
        leaked = {m for m in county_a if m in text}
        assert not leaked, f"{route.route} shows {leaked} of 周口甲县 to the outsider"


# --- The village clerk: one village, every route ----------------------------------------
def _outside_village(model, obj, village) -> bool:
    """Whether `obj` lies outside `village` (anything with no village path does)."""
    paths = getattr(model, "territory_paths", None) or {}
    if "village" not in paths or model in OWNED_MODELS:
        return True
    return not model._default_manager.filter(pk=obj.pk).filter(**{paths["village"]: village.pk}).exists()


def markers_outside_village(world, personas, village) -> set[str]:
    result = set()
    for model in MODELS:
        inside_object(model, world, personas)
        for obj in objects_in_county_a(model, world, personas):
            if _outside_village(model, obj, village):
                result |= markers(obj)
    return result


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_a_village_clerk_gets_nothing_outside_their_village(route, personas, world, village_clerk, clerk_village):
    """A clerk of another village of the same grid: every detail of 甲一网格 answers 404 (or
    403 for a verb the role lacks), exactly like a missing id."""
    target = inside_object(route.model, world, personas)
    assert _outside_village(route.model, target, clerk_village)
    response = get(client_for(village_clerk), route, route.url(target))
    assert response.status_code in (403, 404), f"{route.url(target)} as the clerk: {response.status_code}"
    if response.status_code == 404:
        assert get(client_for(village_clerk), route, missing_url(route, target)).status_code == 404


@pytest.mark.parametrize("route", LIST_ROUTES + PAGES, ids=str)
def test_no_list_or_page_shows_a_village_clerk_anything_outside_their_village(route, personas, world,
                                                                               village_clerk, clerk_village):
    outside = markers_outside_village(world, personas, clerk_village)
    response = get(client_for(village_clerk), route, route.url())
    assert response.status_code < 500, f"{route.url()} as the clerk: {response.status_code}"
    if response.status_code == 200:
        text = readable_text(response)
        leaked = {m for m in outside if m in text}
        assert not leaked, f"{route.url()} shows {leaked} outside 书记村 to its clerk"


# --- The anonymous card holder: a service card's QR code, no account ----------------------
def test_the_walk_finds_the_card_holders_pages():
    assert set(DISCOVERY.card_routes) == {"card:public", "card:received", "card:status"}


# Pages that answer without an account by design (the login, health, language, manifest, worker).
OPEN_WITHOUT_ACCOUNT = {"login", "admin:login", "healthz", "set_language", "webapp_manifest", "visits:field_sw"}


def _anonymous_answer_is_closed(route: Route, response) -> bool:
    if route.api:  # refused (401/403), or a verb or format the route does not answer: no data
        return 400 <= response.status_code < 500
    return response.status_code == 302 and response["Location"].startswith(("/accounts/login/", "/admin/login/"))


@pytest.mark.parametrize("route", DETAIL_ROUTES + LIST_ROUTES + PAGES, ids=str)
def test_a_card_holder_without_an_account_gets_no_portal_page(route, personas, world):
    """Holding a card (and having left a request) opens no page of the portal itself."""
    from zhoukou_grid.territory import cards

    grid = world.grids["a1"].grid
    client = Client()
    token = cards.card_tokens_current([grid.pk])[grid.pk]
    assert client.get(reverse("card:public", args=[cards.token_string(token)])).status_code == 200
    url = route.url(inside_object(route.model, world, personas)) if route.kind == "detail" else route.url()
    response = get(client, route, url)
    if route.name in OPEN_WITHOUT_ACCOUNT:
        # Open by design (tests/test_security.py::PUBLIC): they show nothing of 甲县.
        text = readable_text(response) if response.status_code == 200 else ""
        assert not {m for m in markers_of_county_a(world, personas) if m in text}, url
        return
    assert _anonymous_answer_is_closed(route, response), f"{url} answered {response.status_code} to a card holder"


def test_a_card_holder_sees_only_their_cards_contact_and_their_own_request(personas, world):
    """The card's page names its grid's manager, station and villages and nothing else of 甲县
    (no code, no other grid, no asset, no customer); the status page shows the holder's own
    request and nothing for anything else typed."""
    from zhoukou_grid.territory import cards

    grid = world.grids["a1"].grid
    token = cards.card_tokens_current([grid.pk])[grid.pk]
    card = reverse("card:public", args=[cards.token_string(token)])
    # What the card may show: the grid's villages by name; everything else of 甲县 is a leak.
    county_a = markers_of_county_a(world, personas)  # makes one of each kind first
    county_a -= {village.name for village in grid.villages.all()}
    client = Client()
    page = client.get(card)
    assert page.status_code == 200
    text = readable_text(page)
    assert grid.name in text and world.station_a1.name in text  # the check can see what is shown
    leaked = {m for m in county_a if m in text and m not in (grid.name, world.station_a1.name)}
    assert not leaked, f"the card's page shows {leaked}"
    response = client.post(card, {"category": "meter", "village": "", "description": "卡片诉求", "phone": "13800005678",
                                  "website": ""})
    assert response.status_code == 302
    received = readable_text(client.get(response["Location"]))
    assert not {m for m in county_a if m in received}
    reference = __import__("visits.models", fromlist=["CardRequest"]).CardRequest.objects.get(
        issue__description="卡片诉求").reference
    for typed, last4 in ((reference, "5678"), (reference, "0000"), ("FW00000001", "1234"), ("*", "5678")):
        status = readable_text(client.post(reverse("card:status"), {"reference": typed, "last4": last4}))
        assert not {m for m in county_a if m in status}, typed
        assert ("卡片诉求" in status) == (typed == reference and last4 == "5678")
