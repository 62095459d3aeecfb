"""The API fuzzing harness: schemathesis against ``/api/v1/schema/`` as every role.

How one generated request is judged (`run_case`):

1. The case's ids and codes are pointed at real objects some of the time (`aim`): a
   path ``{id}`` or a body field such as ``grid``/``village``/``alert`` gets an object of
   either county (or keeps the generated value), chosen by a stable hash of the generated
   value, so a derandomized run sends the same requests every time. Without this almost
   every request would answer 404 or "no such code" and the code behind it would go
   untested.
2. The same request is sent as each of `ROLES` (company admin, county admin of 甲县,
   station staff of 甲一所, grid manager of 甲一网格, the clerk of a second village of
   甲一网格, the grid manager of 乙县, a user with no role, and anonymous), each inside a savepoint that is rolled back afterwards: no
   example leaks into the next, whatever it created, changed or deleted. The work a
   request hands to `transaction.on_commit` (the eager Celery tasks of a projection run,
   notification e-mails) runs inside that savepoint before it is rolled back, as it would
   run when the request commits.
3. Checks: schemathesis' `not_a_server_error`, `status_code_conformance`,
   `content_type_conformance`, `response_headers_conformance` and
   `response_schema_conformance`, then `check_territory`: every object a JSON answer
   names (rows, nested objects, foreign keys given as codes or ids, links to pages) must
   be visible to the caller through `scoping.for_user`.

The world (`build_world`) is built once per test module in a transaction that is rolled
back at the end of the module (like Django's `setUpTestData`); the schema is loaded at
import time (schemathesis' pytest fixture loader does not work with pytest 9) from the
same view that serves ``/api/v1/schema/``, and a test checks that both documents agree.

Each operation is one ordinary pytest test (`fuzz_operation`): Hypothesis draws
`MAX_EXAMPLES` cases from schemathesis' positive and negative strategies, derandomized,
so every run (SQLite or PostgreSQL, one process or xdist) sends the same requests.
schemathesis' own ``@schema.parametrize()`` was not used: it reports operations as
subtests, and under ``pytest -n 2 --dist loadfile`` (``make test``) only 2 of 48 of them ran
while the run passed.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from django.core import signals
from django.db import close_old_connections, connection, transaction
from django.db.models import Model, Q
from django.urls import Resolver404, resolve

# --- The schema -----------------------------------------------------------------------
SCHEMA_PATH = "/api/v1/schema/"


class _SchemaReader:
    """Just enough of a logged-in user to be served the schema without a database."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    pk = None

    def has_perm(self, perm, obj=None):
        return False


def served_schema(user=None) -> dict:
    """The JSON document the schema view at `SCHEMA_PATH` answers (English texts)."""
    from django.utils import translation
    from rest_framework.test import APIRequestFactory, force_authenticate

    request = APIRequestFactory().get(SCHEMA_PATH, {"format": "json"})
    force_authenticate(request, user=user or _SchemaReader())
    with translation.override("en"):
        response = resolve(SCHEMA_PATH).func(request)
        response.render()
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


def load_schema():
    """The schemathesis schema of the API, served in-process by Django's WSGI handler."""
    import schemathesis
    from django.core.wsgi import get_wsgi_application
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_dict(served_schema())
    project = schema.config
    # Positive and negative data; authentication is ours (a token per role), never generated.
    project.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                              with_security_parameters=False, database="none", deterministic=True)
    schema.app = get_wsgi_application()
    return schema


# Examples per operation. Each is sent as all seven roles: about 115 operations x 8 x 7
# = 6,400 requests.
MAX_EXAMPLES = 8
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
# The write operations of the second write file (xdist --dist loadfile runs files in parallel).
WORK_PATHS = r"^/api/v1/(rounds|visits|visit-logs|hazards|issues|projection-runs|projection-settings|alerts|measures)/"


def operations(schema, *, methods, path_regex=None, exclude_path_regex=None) -> list:
    """The schema's operations to fuzz, as (label, APIOperation), in a stable order."""
    import re

    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods:
            continue
        if path_regex and not re.search(path_regex, operation.path):
            continue
        if exclude_path_regex and re.search(exclude_path_regex, operation.path):
            continue
        found.append((f"{operation.method.upper()} {operation.path}", operation))
    return sorted(found, key=lambda item: item[0])


def fuzz_operation(operation, world) -> None:
    """Generate `MAX_EXAMPLES` requests (valid and invalid) for one operation and judge each.

    Hypothesis drives schemathesis' strategies directly, one ordinary pytest test per
    operation: schemathesis' own `parametrize()` makes subtests, and under pytest-xdist
    (`make test` runs -n 2) most of them silently never ran.
    """
    from hypothesis import given
    from hypothesis import strategies as st
    from schemathesis.generation import GenerationMode

    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @fuzz_settings()
    @given(case=strategy)
    def fuzz(case):
        run_case(case, world)

    fuzz()


def fuzz_settings():
    """Hypothesis settings of the fuzz tests: bounded, derandomized (the same requests on
    every run, so CI is reproducible), no deadline (CI machines vary) and no health checks
    about slow or filtered data (the requests go through Django and a database)."""
    from hypothesis import HealthCheck, Phase, settings

    return settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate])  # no shrinking: derandomized runs repeat anyway


# --- Roles ----------------------------------------------------------------------------
ROLES = ("company_admin", "county_admin", "station_staff", "grid_manager", "village_clerk", "outsider", "nobody",
         "anonymous")


# --- The world ------------------------------------------------------------------------
def build_world():
    """Two counties with something of every kind the API answers, and the personas.

    Mirrors the `world` fixture of tests/conftest.py (same codes) and adds, in grids
    甲一网格 (the grid manager's), 甲三网格 (another station of 甲县) and 乙一网格
    (乙县): residents, key customers with plans, rounds with targets and visits, a visit
    log, service-card records (by village and of a visit), hazards, issues, projection
    runs, projections, alerts with measures and history, season outlook runs with items,
    projection and outlook settings, and import jobs.
    """
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from tests.conftest import _grid_with_assets, _persona
    from tests.customers.factories import ServicePlanFactory
    from tests.factories import (
        CountyFactory,
        GridFactory,
        KeyCustomerFactory,
        ReturningResidentFactory,
        StationFactory,
        VillageFactory,
    )
    from tests.loadforecast.factories import (
        AlertFactory,
        AlertHistoryFactory,
        AssetProjectionFactory,
        MeasureFactory,
        OutlookItemFactory,
        OutlookRunFactory,
        OutlookSettingsFactory,
        ProjectionRunFactory,
        ProjectionSettingsFactory,
    )
    from tests.visits.factories import (
        CustomerIssueFactory,
        HazardFactory,
        RoundFactory,
        RoundTargetFactory,
        ServiceCardRecordFactory,
        VisitFactory,
        VisitLogFactory,
    )
    from zhoukou_grid.territory.models import Role

    county_a = CountyFactory(code="411601", name="周口甲县")
    county_b = CountyFactory(code="411602", name="周口乙县")
    station_a1 = StationFactory(county=county_a, code="JA-GDS-01", name="甲一所")
    station_a2 = StationFactory(county=county_a, code="JA-GDS-02", name="甲二所")
    station_b1 = StationFactory(county=county_b, code="YI-GDS-01", name="乙一所")
    grids = {
        "a1": _grid_with_assets(GridFactory(station=station_a1, code="JA-WG-01", name="甲一网格")),
        "a2": _grid_with_assets(GridFactory(station=station_a1, code="JA-WG-02", name="甲二网格")),
        "a3": _grid_with_assets(GridFactory(station=station_a2, code="JA-WG-03", name="甲三网格")),
        "b1": _grid_with_assets(GridFactory(station=station_b1, code="YI-WG-01", name="乙一网格")),
    }
    personas = SimpleNamespace(
        company_admin=_persona("company_admin", Role.COMPANY_ADMIN, is_staff=True),
        county_admin=_persona("county_admin", Role.COUNTY_ADMIN, is_staff=True, county=county_a),
        station_staff=_persona("station_staff", Role.STATION_STAFF, station=station_a1),
        grid_manager=_persona("grid_manager", Role.GRID_MANAGER, grid=grids["a1"].grid),
        outsider=_persona("outsider", Role.GRID_MANAGER, grid=grids["b1"].grid),
        nobody=_persona("nobody"),
    )
    # A clerk of a second village of 甲一网格, with one resident of their own.
    clerk_village = VillageFactory(grid=grids["a1"].grid, name="书记村")
    personas.village_clerk = _persona("village_clerk", Role.VILLAGE_CLERK, village=clerk_village)
    ReturningResidentFactory(village=clerk_village, source="village")
    for key, manager in (("a1", personas.grid_manager), ("b1", personas.outsider)):
        grids[key].grid.manager = manager
        grids[key].grid.save(update_fields=["manager"])
    # Two transformers of different grids tied (load transfers between them).
    grids["a1"].transformer.ties.add(grids["a2"].transformer)

    today = timezone.localdate()
    for key in ("a1", "a3", "b1"):
        g = grids[key]
        station = g.grid.station
        ReturningResidentFactory(village=g.village, household=g.households[0], account_no=g.households[0].account_no)
        customer = KeyCustomerFactory(grid=g.grid, village=g.village, transformer=g.transformer,
                                      contact_phone="13812341234")
        ServicePlanFactory(customer=customer, version=1, status="approved")
        ServicePlanFactory(customer=customer, version=2, status="draft")
        rnd = RoundFactory(county=station.county, station=station, period_start=today,
                           period_end=today + dt.timedelta(days=13))
        RoundTargetFactory(round=rnd, grid=g.grid, village=g.village)
        manager = g.grid.manager or personas.grid_manager
        VisitFactory(round=rnd, grid=g.grid, grid_manager=manager, village=g.village)
        VisitFactory(round=rnd, grid=g.grid, grid_manager=manager, household=g.households[1], village=None)
        done = VisitFactory(round=rnd, grid=g.grid, grid_manager=manager, village=g.village, status="done",
                            done_at=timezone.now())
        VisitLogFactory(visit=done)
        ServiceCardRecordFactory(grid=g.grid, grid_manager=manager, village=g.village, round=rnd)
        ServiceCardRecordFactory(grid=g.grid, grid_manager=manager, visit=done, village=None, round=rnd,
                                 handed_out=1, posted=1)
        HazardFactory(grid=g.grid, household=g.households[0], found_by=manager)
        HazardFactory(grid=g.grid, village=g.village, found_by=manager, status="notified")
        CustomerIssueFactory(grid=g.grid, village=g.village, raised_by=manager)
        run = ProjectionRunFactory(station=station, run_date=today, status="done")
        AssetProjectionFactory(run=run, grid=g.grid, transformer=g.transformer)
        AssetProjectionFactory(run=run, grid=g.grid, transformer=None, line=g.line, date=today)
        alert = AlertFactory(grid=g.grid, transformer=g.transformer, last_run=run, status="open")
        AlertFactory(grid=g.grid, transformer=None, line=g.line, status="acknowledged")
        MeasureFactory(alert=alert)
        AlertHistoryFactory(alert=alert)
        outlook = OutlookRunFactory(station=station, run_date=today)
        OutlookItemFactory(run=outlook, grid=g.grid, transformer=g.transformer)
        OutlookItemFactory(run=outlook, grid=g.grid, transformer=None, line=g.line, level=2)
    for county in (county_a, county_b):
        ProjectionSettingsFactory(county=county, station=None, values={"horizon_days": 14})
    ProjectionSettingsFactory(county=county_a, station=station_a1, values={})
    ProjectionSettingsFactory(county=county_b, station=station_b1, values={})
    for county in (county_a, county_b):
        OutlookSettingsFactory(county=county, station=None)
    OutlookSettingsFactory(county=county_a, station=station_a1, values={})
    OutlookSettingsFactory(county=county_b, station=station_b1, values={})
    for persona in (personas.county_admin, personas.grid_manager, personas.outsider):
        make_import_job(persona)

    tokens = {role: Token.objects.create(user=getattr(personas, role)).key for role in ROLES if role != "anonymous"}
    return SimpleNamespace(county_a=county_a, county_b=county_b, station_a1=station_a1, station_a2=station_a2,
                           station_b1=station_b1, grids=grids, personas=personas, tokens=tokens)


def make_import_job(owner):
    """A previewed import by `owner` with one rejected row (so it has errors and a workbook)."""
    from zhoukou_grid.core.importing.jobs import import_job_preview
    from zhoukou_grid.core.importing.spec import get_kind

    data = "网格编码,村编码,村名称\r\nNO-SUCH-GRID,411627555001,外村\r\n".encode("utf-8-sig")
    return import_job_preview(user=owner, kind=get_kind("villages"), data=data, file_name="村名单.csv",
                              skip_invalid=False)


@contextmanager
def world_for_module(django_db_blocker, settings_override):
    """Build the world in a transaction that is rolled back when the module is done."""
    with django_db_blocker.unblock(), settings_override:
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            world = build_world()
            world.pools = object_pools()
            yield world
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- Pointing generated values at real objects ---------------------------------------
def _models():
    from customers.models import Household, KeyCustomer, ReturningResident
    from loadforecast.models import (
        Alert,
        AssetProjection,
        Measure,
        OutlookItem,
        OutlookRun,
        OutlookSettings,
        ProjectionRun,
        ProjectionSettings,
    )
    from visits.models import CustomerIssue, Hazard, Round, RoundTarget, ServiceCardRecord, Visit, VisitLog
    from zhoukou_grid.core.models import ImportJob
    from zhoukou_grid.territory.models import County, Grid, LVLine, Station, Transformer, Village

    return SimpleNamespace(**{m.__name__: m for m in (
        Household, KeyCustomer, ReturningResident, Alert, AssetProjection, Measure, OutlookItem, OutlookRun,
        OutlookSettings, ProjectionRun, ProjectionSettings, CustomerIssue, Hazard, Round, RoundTarget,
        ServiceCardRecord, Visit, VisitLog, County, Grid, ImportJob, LVLine, Station, Transformer, Village)})


# Body fields written as the code (account number) of an object, and the model.
def code_fields():
    m = _models()
    return {"county": (m.County, "code"), "station": (m.Station, "code"), "grid": (m.Grid, "code"),
            "village": (m.Village, "code"), "transformer": (m.Transformer, "code"), "line": (m.LVLine, "code"),
            "neighbour": (m.Transformer, "code"), "ties": (m.Transformer, "code"),
            "household": (m.Household, "account_no"), "villages": (m.Village, "code"),
            "account_numbers": (m.Household, "account_no")}


# Body fields written as the id of an object.
def id_fields():
    m = _models()
    return {"visit": m.Visit, "alert": m.Alert, "ids": m.ReturningResident, "residents_confirmed": m.ReturningResident}


def object_pools() -> dict:
    """Every id and code of every model, of both counties, in a stable order."""
    pools = {}
    m = _models()
    for model in vars(m).values():
        pools[(model, "pk")] = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
    for model, field in code_fields().values():
        pools[(model, field)] = list(model._default_manager.order_by("pk").values_list(field, flat=True))
    return pools


def _stable_index(value, size: int) -> int:
    return zlib.crc32(repr(value).encode()) % size


def _aimed(value, pool: list):
    """A real value from `pool` for most generated values; the generated value itself for some."""
    if not pool or isinstance(value, (dict, list, bool)) or value is None:
        return value
    slot = _stable_index(value, len(pool) + 2)
    if slot >= len(pool):
        return value  # a value nobody has, or garbage: kept as generated
    aimed = pool[slot]
    return str(aimed) if isinstance(value, str) and not isinstance(aimed, str) else aimed


def aim(case, pools: dict) -> None:
    """Point the case's object ids and codes at real objects of either county (in place)."""
    if case.operation.method.upper() == "GET" and "{" not in case.operation.path and case.query:
        # Random filters mostly match nothing: a third of the list requests go without them,
        # so the territory check sees full pages.
        if _stable_index(sorted(case.query.items(), key=repr), 3) == 0:
            case.query = {}
    if "id" in (case.path_parameters or {}):
        model = endpoint_viewset_model(case.operation.path)
        if model is not None:
            case.path_parameters["id"] = _aimed(case.path_parameters["id"], pools[(model, "pk")])
    body = case.body
    if isinstance(body, dict):
        for key, (model, field) in code_fields().items():
            if key in body:
                pool = pools[(model, field)]
                body[key] = [_aimed(v, pool) for v in body[key]] if isinstance(body[key], list) else _aimed(
                    body[key], pool)
        for key, model in id_fields().items():
            if key in body:
                pool = pools[(model, "pk")]
                body[key] = [_aimed(v, pool) for v in body[key]] if isinstance(body[key], list) else _aimed(
                    body[key], pool)


# --- Which model an endpoint answers ---------------------------------------------------
def _view_class(path: str):
    try:
        match = resolve(path)
    except Resolver404:
        return None, None
    return getattr(match.func, "cls", None) or getattr(match.func, "view_class", None), match


def _example_path(template: str) -> str:
    return template.replace("{id}", "1")


def endpoint_viewset_model(template: str) -> type[Model] | None:
    """The model of the viewset behind an operation path (its `queryset`), like tests/test_outsiders.py."""
    from tests.test_outsiders import _model_of_queryset_holder

    cls, _ = _view_class(_example_path(template))
    return _model_of_queryset_holder(cls) if cls is not None else None


# Operations whose rows are not of the viewset's model: the model of the rows.
def response_model_overrides():
    from customers.models import ServicePlan
    from visits.models import RoundTarget

    return {("GET", "/api/v1/keycustomers/{id}/plans/"): ServicePlan,
            ("POST", "/api/v1/keycustomers/{id}/plans/draft/"): ServicePlan,
            ("POST", "/api/v1/keycustomers/{id}/plans/approve/"): ServicePlan,
            ("GET", "/api/v1/rounds/{id}/targets/"): RoundTarget}


# Operations that answer no row of a model at the top (a report, a token, counters); what
# they name inside is still checked field by field.
NO_ROWS = {
    ("GET", "/api/v1/me/"), ("POST", "/api/v1/auth/token/"),
    ("GET", "/api/v1/import-jobs/{id}/errors/"), ("GET", "/api/v1/import-jobs/{id}/errors.xlsx/"),
    ("GET", "/api/v1/import-jobs/{id}/status/"),
    ("POST", "/api/v1/residents/mark-arrived/"), ("POST", "/api/v1/residents/mark-departed/"),
    ("POST", "/api/v1/residents/{id}/reveal/"),
    ("POST", "/api/v1/rounds/{id}/add-targets/"), ("POST", "/api/v1/rounds/{id}/schedule/"),
    ("POST", "/api/v1/visits/{id}/missed/"),
}


def response_model(method: str, template: str) -> type[Model] | None:
    """The model of the rows an operation answers; None for `NO_ROWS`. Raises when unknown."""
    key = (method.upper(), template)
    if key in NO_ROWS:
        return None
    overrides = response_model_overrides()
    if key in overrides:
        return overrides[key]
    model = endpoint_viewset_model(template)
    if model is None:
        raise LookupError(f"{method} {template}: the model of its answer is unknown; give the view a `queryset` "
                          f"or teach tests/fuzz/harness.py (response_model_overrides or NO_ROWS)")
    return model


# --- What the caller may see -------------------------------------------------------------
def visible_values(user, model, field: str, values: set) -> set:
    """Which of `values` (of `field`) name objects of `model` visible to `user` through for_user.

    Context, as the viewsets document it: a user sees the county and station above their
    territory, and the rows attached to that station or county alone (its rounds, runs
    and settings), never the other grids under it.
    """
    from zhoukou_grid.core.importing.jobs import jobs_visible_to
    from zhoukou_grid.core.models import ImportJob
    from zhoukou_grid.core.scoping import for_user, territory_of

    values = {str(v) for v in values}
    if model is ImportJob:
        rows = jobs_visible_to(user)
    elif not getattr(model, "territory_paths", None):
        return values  # not a scoped model (a user, a checklist item)
    else:
        rows = for_user(user, model)
        paths = model.territory_paths
        territory = territory_of(user)
        if "grid" not in paths and not territory.is_empty and not territory.everything:
            context = Q(pk__in=[])
            if "station" in paths and territory.context_station_ids:
                context |= Q(**{f"{paths['station']}__in": territory.context_station_ids})
            if "county" in paths and territory.context_county_ids:
                station_free = {f"{paths['station']}__isnull": True} if "station" in paths else {}
                context |= Q(**{f"{paths['county']}__in": territory.context_county_ids, **station_free})
            rows = rows | model._default_manager.filter(context)
    lookup_values = values
    if field == "pk" and model._meta.pk.get_internal_type() in ("BigAutoField", "AutoField", "IntegerField"):
        lookup_values = {int(v) for v in values if v.lstrip("-").isdigit()}
    return {str(v) for v in rows.filter(**{f"{field}__in": lookup_values}).values_list(field, flat=True)}


@dataclass
class Named:
    model: type
    lookup: dict
    where: str

    def __str__(self):
        return f"{self.model.__name__} {self.lookup} at {self.where}"


def _reference_keys():
    """Keys of a JSON object whose value names another object, by code or by id."""
    m = _models()
    from customers.models import KeyCustomer
    from visits.models import Photo

    by_code = {"county": m.County, "station": m.Station, "grid": m.Grid, "village": m.Village,
               "transformer": m.Transformer, "line": m.LVLine, "neighbour": m.Transformer, "ties": m.Transformer,
               "household": m.Household, "asset_code": None}
    by_id = {"county": m.County, "station": m.Station, "grid": m.Grid, "village": m.Village,
             "household": m.Household, "key_customer": KeyCustomer, "round": m.Round, "visit": m.Visit,
             "alert": m.Alert, "run": m.ProjectionRun, "hazard": m.Hazard, "residents_confirmed": m.ReturningResident,
             "rescheduled_from": m.Visit, "target_id": m.RoundTarget, "last_run": m.ProjectionRun, "photo": Photo}
    nested = {"hazards": m.Hazard, "issues": m.CustomerIssue, "photos": Photo, "planned_measures": m.Measure,
              "visit": m.Visit, "rescheduled_as": m.Visit, "results": None}
    return by_code, by_id, nested


def row_reference_overrides():
    """Keys that name another model than `_reference_keys` says, in rows of a given model."""
    m = _models()
    return {m.OutlookItem: {"run": m.OutlookRun}}


# Keys whose dicts carry no object of their own (checked key by key inside).
PLAIN_KEYS = {"roles", "checklist", "events", "history", "unplaced", "counts", "timings", "thresholds",
              "settings_snapshot", "skipped", "measures", "values", "effective", "errors"}


def named_objects(body, model: type | None) -> list[Named]:
    """Every object a JSON answer names: rows of `model`, nested objects, references, links."""
    found: list[Named] = []
    by_code, by_id, nested = _reference_keys()
    overrides = row_reference_overrides()

    def row(obj, row_model, where):
        if not isinstance(obj, dict):
            return
        if "id" in obj and row_model is not None:
            found.append(Named(row_model, {"pk": obj["id"]}, where))
        fields(obj, where, overrides.get(row_model, {}))

    def fields(obj, where, own=None):
        for key, value in obj.items():
            here = f"{where}.{key}"
            if key == "id":
                continue
            if key == "territory" and isinstance(value, dict):
                level_model = {"county": by_id["county"], "station": by_id["station"], "grid": by_id["grid"]}.get(
                    value.get("level"))
                if level_model is not None and value.get("id") is not None:
                    found.append(Named(level_model, {"pk": value["id"]}, here))
                continue
            if key in nested and isinstance(value, (dict, list)):
                for i, item in enumerate(value if isinstance(value, list) else [value]):
                    if isinstance(item, dict) and "id" not in item:
                        fields(item, f"{here}[{i}]")  # a value, not a row (a plan's hazard list)
                    else:
                        row(item, nested[key] or model, f"{here}[{i}]")
                continue
            if isinstance(value, dict):
                if "id" in value and key not in PLAIN_KEYS:
                    raise AssertionError(f"{here}: an object of an unknown model; teach tests/fuzz/harness.py "
                                         f"(_reference_keys)")
                fields(value, here)
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        if "id" in item and key not in PLAIN_KEYS:
                            raise AssertionError(f"{here}[{i}]: an object of an unknown model; teach "
                                                 f"tests/fuzz/harness.py (_reference_keys)")
                        fields(item, f"{here}[{i}]")
                    else:
                        scalar(key, item, f"{here}[{i}]", own)
                continue
            scalar(key, value, here, own)

    def scalar(key, value, where, own=None):
        if value is None or value == "" or isinstance(value, bool):
            return
        if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
            link = _linked_object(value)
            if link is not None:
                found.append(Named(link[0], link[1], where))
            return
        if isinstance(value, int) and own and key in own:
            found.append(Named(own[key], {"pk": value}, where))
        elif isinstance(value, int) and key in by_id:
            found.append(Named(by_id[key], {"pk": value}, where))
        elif isinstance(value, str) and key in by_code and by_code[key] is not None:
            target = by_code[key]
            field = "account_no" if target is by_code["household"] else "code"
            if target is by_code["village"]:
                # A visit names its village by name (not unique): any visible village of that name will do.
                found.append(Named(target, {"__code_or_name": value}, where))
            else:
                found.append(Named(target, {field: value}, where))

    if isinstance(body, dict) and "results" in body and "count" in body:
        rows = body["results"]
    elif isinstance(body, list):
        rows = body
    else:
        rows = [body]
    for i, obj in enumerate(rows):
        if model is None:
            if isinstance(obj, dict):
                fields(obj, f"$[{i}]")
        else:
            row(obj, model, f"$[{i}]")
    return found


def _linked_object(url: str):
    """(model, lookup) of a portal link to one object's page, or None."""
    from tests.test_outsiders import MODEL_OF_KWARG, OBJECT_KWARGS, _model_of_queryset_holder

    path = url.split("?", 1)[0]
    cls, match = _view_class(path)
    if match is None:
        return None
    kwargs = match.kwargs
    for name, value in kwargs.items():
        if name in MODEL_OF_KWARG:
            return MODEL_OF_KWARG[name], {"pk": value}
    model = _model_of_queryset_holder(cls) if cls is not None else None
    if model is None:
        model = _model_of_queryset_holder(match.func)
    names = [name for name in kwargs if name in OBJECT_KWARGS]
    if model is None or not names:
        if kwargs:
            raise AssertionError(f"{url}: a link whose object is unknown; teach tests/fuzz/harness.py")
        return None
    return model, {("pk" if names[0] in ("pk", "id") else names[0]): kwargs[names[0]]}


def leaks(user, body, model) -> list[str]:
    """The objects a JSON answer names that `user` may not see."""
    from django.contrib.auth.models import AnonymousUser

    user = user or AnonymousUser()
    wanted: dict[tuple, dict[str, Named]] = {}
    for named in named_objects(body, model):
        (field, value), = named.lookup.items()
        wanted.setdefault((named.model, field), {}).setdefault(str(value), named)
    problems = []
    for (target, field), by_value in wanted.items():
        if field == "__code_or_name":
            seen = visible_values(user, target, "code", set(by_value)) | visible_values(
                user, target, "name", set(by_value))
        else:
            seen = visible_values(user, target, field, set(by_value))
        problems += [str(named) for value, named in by_value.items() if value not in seen]
    return problems


# --- One request per role, each rolled back ----------------------------------------------
class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """A savepoint around one request: on_commit work runs inside it, then it is undone."""
    try:
        with transaction.atomic():
            start = len(connection.run_on_commit)
            yield
            # What would run when the request's transaction commits (eager Celery tasks, e-mails).
            while len(connection.run_on_commit) > start:
                _sids, callback, _robust = connection.run_on_commit.pop(start)
                callback()
            raise _Rollback
    except _Rollback:
        pass


@contextmanager
def request_signals_quiet():
    """Django's handler closes "old" connections at each request's start and end: that
    would close the test's transaction. Django's test client disconnects them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


CHECKS = None  # filled lazily: schemathesis' check functions


def checks():
    global CHECKS
    if CHECKS is None:
        from schemathesis.checks import not_a_server_error
        from schemathesis.specs.openapi.checks import (
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                  response_headers_conformance, response_schema_conformance]
    return CHECKS


STATS = {"requests": 0, "examples": 0, "territory_checked": 0}


def run_case(case, world) -> None:
    """Send `case` as every role, each in its own rolled-back savepoint, and check every answer."""
    aim(case, world.pools)
    method, template = case.operation.method.upper(), case.operation.path
    model = response_model(method, template)
    STATS["examples"] += 1
    for role in ROLES:
        headers = {} if role == "anonymous" else {"Authorization": f"Token {world.tokens[role]}"}
        user = None if role == "anonymous" else getattr(world.personas, role)
        if user is not None:
            for attr in ("_zg_territory", "_zg_roles", "_zg_role_perms", "_perm_cache"):
                user.__dict__.pop(attr, None)
        with rolled_back(), request_signals_quiet():
            response = case.call(headers=headers)
            STATS["requests"] += 1
            try:
                case.validate_response(response, checks=checks(), headers=headers)
            except Exception as error:
                error.add_note(f"as {role}")
                raise
            content_type = next((value for name, value in response.headers.items()
                                 if name.lower() == "content-type"), "")
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            if response.status_code < 300 and "json" in content_type and response.content:
                found = leaks(user, response.json(), model)
                STATS["territory_checked"] += 1
                assert not found, f"{method} {case.formatted_path} as {role} answers outside the territory: {found}"
