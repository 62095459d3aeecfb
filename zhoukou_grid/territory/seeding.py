"""Writes the generated demo data (zhoukou_grid.territory.demo) into the database.

The run is a list of steps, in order (`seed_steps()`). A table step yields row tuples
that are written in batches: PostgreSQL COPY from an in-memory buffer per batch, Django's
bulk_create on other databases. Ids are assigned by the generator (from the first free
id of each table) so no id has to be fetched back; the sequences are reset afterwards.
A step that needs the ORM (the demo users) is a `DbStep`. Each app adds its own
steps (returning residents, key customers, load data) as `SEED_STEPS` in its
`demo` module (see `seed_steps`): each step gets the shared `SeedContext`, its own
`random.Random` seeded from (seed, step name), and the scale.

Memory stays bounded at city scale: the context keeps the territory and the 60,000
transformers; households are streamed one batch at a time.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from zhoukou_grid.territory.demo import (
    DEMO_USERS,
    TABLE_STEPS,
    DemoUser,
    Scale,
    SeedContext,
    TableStep,
    grid_manager_accounts,
)
from zhoukou_grid.territory.models import County, Grid, Role, RoleAssignment, Station, UserProfile, Village

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class DbStep:
    """A step that writes through the ORM; `run` returns the number of rows it wrote."""

    name: str
    run: Callable[[SeedContext, random.Random, Scale], int]


@dataclass(frozen=True)
class StepStats:
    name: str
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


# --- Writers --------------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        # bytea in COPY's text format: \x<hex>, with the backslash itself escaped.
        return "\\\\x" + bytes(value).hex()
    return str(value)


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _copy_batch(cursor, sql: str, batch: list[tuple]) -> None:
    buffer = io.StringIO()
    write = buffer.write
    for row in batch:
        write("\t".join([_copy_text(v) for v in row]))
        write("\n")
    buffer.seek(0)
    raw = getattr(cursor, "cursor", cursor)
    if hasattr(raw, "copy_expert"):  # psycopg2
        raw.copy_expert(sql, buffer)
    else:  # psycopg 3
        with raw.copy(sql) as copy:
            copy.write(buffer.getvalue())


def write_rows(model: type[models.Model], fields: tuple[str, ...], rows: Iterable[tuple], *,
               batch_size: int, progress: Callable[[int], None] | None = None) -> int:
    """Write `rows` (tuples of the model's attribute values in `fields` order) in batches.
    PostgreSQL: COPY; otherwise bulk_create. Returns the number of rows written."""
    written = 0
    if connection.vendor == "postgresql":
        opts = model._meta
        columns = ", ".join(connection.ops.quote_name(opts.get_field(f).column) for f in fields)
        sql = f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor:
            for batch in _batches(rows, batch_size):
                _copy_batch(cursor, sql, batch)
                written += len(batch)
                if progress:
                    progress(written)
    else:
        # bulk_create stamps auto_now(_add) fields with the current time; the generator's own
        # dates (a plan drafted before it was approved) must be kept, as COPY keeps them.
        stamped = [f for f in model._meta.concrete_fields
                   if f.name in fields and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))]
        saved = [(f, f.auto_now, f.auto_now_add) for f in stamped]
        try:
            for f in stamped:
                f.auto_now = f.auto_now_add = False
            for batch in _batches(rows, batch_size):
                model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in batch])
                written += len(batch)
                if progress:
                    progress(written)
        finally:
            for f, auto_now, auto_now_add in saved:
                f.auto_now, f.auto_now_add = auto_now, auto_now_add
    return written


# --- The demo users ---------------------------------------------------------------------

def _territory_for(spec: DemoUser, ctx: SeedContext, taken_grid_ids: set[int]) -> dict[str, models.Model]:
    if spec.role == Role.COMPANY_ADMIN:
        return {}
    if spec.role == Role.COUNTY_ADMIN:
        county = County.objects.filter(code=spec.territory_code).first() or County.objects.get(
            pk=next(iter(ctx.counties))
        )
        return {"county": county}
    if spec.role == Role.STATION_STAFF:
        station = Station.objects.filter(code=spec.territory_code).first() or Station.objects.get(
            pk=next(iter(ctx.stations))
        )
        return {"station": station}
    if spec.role == Role.VILLAGE_CLERK:
        village = Village.objects.filter(code=spec.territory_code).first() or Village.objects.get(
            pk=next(iter(ctx.villages))
        )
        return {"village": village}
    grid = Grid.objects.filter(code=spec.territory_code).exclude(pk__in=taken_grid_ids).first()
    if grid is None:
        grid = Grid.objects.get(pk=next(g for g in ctx.grids if g not in taken_grid_ids))
    taken_grid_ids.add(grid.pk)
    return {"grid": grid}


def create_demo_users(ctx: SeedContext, rng: random.Random, scale: Scale) -> int:
    """Create (or reset) one login per role over the seeded territory. Grid managers are
    also set as the manager of their grid. Passwords must pass the project's validators."""
    user_model = get_user_model()
    taken_grid_ids: set[int] = set()
    for spec in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=spec.username)
        user.first_name = spec.display_name
        user.is_superuser = spec.superuser
        user.is_staff = spec.staff
        user.is_active = True
        validate_password(spec.password, user)
        user.set_password(spec.password)
        user.save()
        RoleAssignment.objects.filter(user=user).delete()
        territory = _territory_for(spec, ctx, taken_grid_ids)
        RoleAssignment.objects.create(user=user, role=spec.role, **territory)
        if "grid" in territory:
            Grid.objects.filter(pk=territory["grid"].pk).update(manager=user)
        UserProfile.objects.update_or_create(user=user, defaults={"phone": work_phone(rng)})
    return len(DEMO_USERS)


def work_phone(rng: random.Random) -> str:
    """A mobile number for a member of staff's profile (the one printed for customers)."""
    return f"1{rng.choice('35789')}{rng.randrange(10 ** 9):09d}"


def create_grid_managers(ctx: SeedContext, rng: random.Random, scale: Scale) -> int:
    """A manager for every grid the demo users left without one. They have no password
    (an admin sets one); they make the grid lists and service cards look like the real thing."""
    user_model = get_user_model()
    managed = set(Grid.objects.filter(pk__in=list(ctx.grids), manager__isnull=False).values_list("pk", flat=True))
    accounts = [a for a in grid_manager_accounts(ctx, rng) if a[0] not in managed]
    if not accounts:
        return 0
    users = []
    for _, username, name in accounts:
        user = user_model(username=username, first_name=name)
        user.set_unusable_password()
        users.append(user)
    user_model.objects.bulk_create(
        users, batch_size=1000, update_conflicts=True, unique_fields=["username"], update_fields=["first_name"]
    )
    user_ids = dict(user_model.objects.filter(username__in=[u.username for u in users]).values_list("username", "pk"))
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user_id=user_ids[username], role=Role.GRID_MANAGER, grid_id=grid_id)
         for grid_id, username, _ in accounts],
        batch_size=1000,
    )
    Grid.objects.bulk_update(
        [Grid(pk=grid_id, manager_id=user_ids[username]) for grid_id, username, _ in accounts],
        ["manager"], batch_size=1000,
    )
    UserProfile.objects.bulk_create(
        [UserProfile(user_id=user_ids[username], phone=work_phone(rng)) for _, username, _ in accounts],
        batch_size=1000, update_conflicts=True, unique_fields=["user"], update_fields=["phone"],
    )
    return len(accounts)


SEED_STEPS: list[TableStep | DbStep] = [
    *TABLE_STEPS,
    DbStep("users", create_demo_users),
    DbStep("grid_managers", create_grid_managers),
]


def _project_apps() -> list[str]:
    base = Path(settings.BASE_DIR).resolve()
    return [
        config.name for config in apps.get_app_configs()
        if config.name != "zhoukou_grid" and Path(config.path).resolve().is_relative_to(base)
    ]


def seed_steps() -> list[TableStep | DbStep]:
    """The territory, network and user steps, then the `SEED_STEPS` of each
    project app's `demo` module in INSTALLED_APPS order (customers with its households, visits, loadforecast):
    each app keeps its demo data (returning residents, key customers, load data) in its own
    `demo` module."""
    steps = list(SEED_STEPS)
    for app_name in _project_apps():
        module_name = f"{app_name}.demo"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        steps.extend(getattr(module, "SEED_STEPS", ()))
    return steps


# --- The run ----------------------------------------------------------------------------

def seeded_models() -> list[type[models.Model]]:
    return [apps.get_model(step.model) for step in TABLE_STEPS]


def has_seeded_data() -> bool:
    """True when any territory, network or household row exists."""
    return any(model.objects.exists() for model in seeded_models() if not model._meta.auto_created)


def wipe_seeded_data() -> None:
    """Empty the territory, network and household tables and every table that refers to
    them (role assignments, residents, ...); users stay."""
    tables = [model._meta.db_table for model in seeded_models()]
    sql = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # TRUNCATE refuses tables with foreign-key checks still queued in this
            # transaction (rows written earlier in it): run those checks now.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        connection.ops.execute_sql_flush(sql)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _first_free_ids(steps: list[TableStep | DbStep]) -> dict[str, int]:
    first_ids = {}
    for step in steps:
        if isinstance(step, TableStep) and "id" in step.fields:
            model = apps.get_model(step.model)
            first_ids[step.name] = (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    return first_ids


class _Progress:
    """Prints a step's running count every few seconds."""

    def __init__(self, name: str, out: ProgressCallback | None, every_seconds: float = 5.0):
        self.name, self.out, self.every = name, out, every_seconds
        self.started = self.last = time.perf_counter()

    def __call__(self, rows: int) -> None:
        now = time.perf_counter()
        if self.out and now - self.last >= self.every:
            self.last = now
            self.out(f"  {self.name:<18} {rows:>10,} rows  {rows / (now - self.started):>10,.0f} rows/s")


def run_seed(*, scale: Scale, seed: int, out: ProgressCallback | None = None,
             steps: list[TableStep | DbStep] | None = None,
             today: dt.date | None = None) -> tuple[SeedContext, list[StepStats]]:
    """Generate and write every step, all in one transaction. The caller decides whether
    existing data may be kept (see `has_seeded_data`). `today` (default: today in the
    project's time zone) places the demo: the metered days before it, the season to come
    and the one before (`demo.demo_season`)."""
    steps = seed_steps() if steps is None else steps
    stats: list[StepStats] = []
    is_postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if is_postgres:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: checked per row at
            # commit, millions of queued trigger events. Check each COPY as it ends instead.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        ctx = SeedContext(seed=seed, scale=scale, first_ids=_first_free_ids(steps),
                          today=today or timezone.localdate())
        for step in steps:
            rng = random.Random(f"{seed}:{step.name}")
            started = time.perf_counter()
            if isinstance(step, TableStep):
                rows = write_rows(
                    apps.get_model(step.model), step.fields, step.generate(ctx, rng, scale),
                    batch_size=scale.batch_size, progress=_Progress(step.name, out),
                )
            else:
                rows = step.run(ctx, rng, scale)
            stat = StepStats(step.name, rows, time.perf_counter() - started)
            ctx.counts[step.name] = rows
            stats.append(stat)
            if out:
                out(f"{stat.name:<20} {stat.rows:>10,} rows  {stat.seconds:>7.1f} s  "
                    f"{stat.rows_per_second:>10,.0f} rows/s")
        explicit_id_models = [apps.get_model(s.model) for s in steps if isinstance(s, TableStep) and "id" in s.fields]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), explicit_id_models):
                cursor.execute(sql)
            if is_postgres:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return ctx, stats


# --- Logins -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    territory: str


def demo_logins() -> list[DemoLogin]:
    """The demo users that exist, with their (seeded) password and territory."""
    user_model = get_user_model()
    users = {u.username: u for u in user_model.objects.filter(username__in=[d.username for d in DEMO_USERS])}
    logins = []
    for spec in DEMO_USERS:
        user = users.get(spec.username)
        if user is None:
            continue
        assignments = RoleAssignment.objects.filter(user=user).select_related("county", "station", "grid")
        territories = [f"{a.territory} ({a.territory.code})" if a.territory else "全市 / all" for a in assignments]
        logins.append(DemoLogin(Role(spec.role).label, spec.username, spec.password, ", ".join(territories) or "-"))
    return logins


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A plain-text table that stays aligned with Chinese (double-width) characters."""
    widths = [max(_display_width(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c) + " " * (w - _display_width(str(c))) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
