"""seed_demo: counts, consistency, code shapes, determinism, logins, idempotence, COPY path."""

from __future__ import annotations

import hashlib
import io
import re
import sys
import types
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.urls import reverse

from customers import demo as customers_demo
from customers.models import Household
from zhoukou_grid.territory import demo, seeding
from zhoukou_grid.territory.models import County, Grid, LVLine, Role, RoleAssignment, Station, Transformer, Village

pytestmark = pytest.mark.django_db

DEMO = demo.SCALES["demo"]
TINY = demo.SCALES["tiny"]
# Demo logins above grid level; every grid has one grid manager (a demo login or not).
NON_GRID_DEMO_USERS = sum(1 for u in demo.DEMO_USERS if u.role != Role.GRID_MANAGER)


HOUSEHOLD_STEP = next(step for step in customers_demo.SEED_STEPS if step.name == "household")

def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    return {
        "county": County.objects.count(),
        "station": Station.objects.count(),
        "grid": Grid.objects.count(),
        "village": Village.objects.count(),
        "transformer": Transformer.objects.count(),
        "lvline": LVLine.objects.count(),
        "household": Household.objects.count(),
    }


def data_digest() -> str:
    """A digest of every code and name seeded, independent of the ids."""
    digest = hashlib.sha256()
    parts = [
        County.objects.values_list("code", "name"),
        Station.objects.values_list("code", "name", "county__code"),
        Grid.objects.values_list("code", "name", "station__code"),
        Village.objects.values_list("code", "name", "grid__code"),
        Transformer.objects.values_list("code", "name", "grid__code", "rated_kva", "p0_w", "pk_w", "year"),
        Transformer.ties.through.objects.values_list("from_transformer__code", "to_transformer__code"),
        LVLine.objects.values_list("code", "transformer__code", "conductor", "section_mm2", "ampacity_a", "length_m"),
        Household.objects.values_list(
            "account_no", "name", "village__code", "transformer__code", "line__code", "phase", "address"
        ),
    ]
    for queryset in parts:
        for row in sorted(queryset):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def demo_world():
    output = seed("--scale", "demo")
    return output


def test_it_seeds_exactly_the_demo_scale(demo_world):
    assert table_counts() == DEMO.expected_counts()
    assert DEMO.expected_counts() == {
        "county": 1, "station": 3, "grid": 12, "village": 40, "transformer": 150, "lvline": 400, "household": 6000,
    }
    county = County.objects.get()
    assert (county.code, county.name) == ("411627", "太康县")


def test_the_territory_has_the_sizes_of_the_domain(demo_world):
    grids_per_station = Counter(Grid.objects.values_list("station_id", flat=True))
    assert set(grids_per_station.values()) <= set(range(2, 7))
    for grid in Grid.objects.all():
        assert grid.villages.exists()
        assert 1 <= grid.transformers.count() <= 30
    households_per_transformer = Counter(Household.objects.values_list("transformer_id", flat=True))
    assert len(households_per_transformer) == DEMO.transformers  # every district serves someone
    assert min(households_per_transformer.values()) >= 20
    assert max(households_per_transformer.values()) <= 300
    lines_per_transformer = Counter(LVLine.objects.values_list("transformer_id", flat=True))
    assert len(lines_per_transformer) == DEMO.transformers
    assert min(lines_per_transformer.values()) >= 1


def test_every_household_lives_in_the_grid_of_its_transformer_and_on_its_lines(demo_world):
    assert not Household.objects.exclude(village__grid=F("transformer__grid")).exists()
    assert not Household.objects.filter(line__isnull=True).exists()
    assert not Household.objects.exclude(line__transformer=F("transformer")).exists()
    # Most households of a district live in the village the district is named after.
    home = sum(1 for name, village in Household.objects.values_list("transformer__name", "village__name")
               if name.startswith(village))
    assert home / DEMO.households > 0.8


def test_codes_have_the_shapes_of_the_county_spreadsheets(demo_world):
    shapes = {
        County: r"^4116\d\d$",
        Station: r"^TK-GDS-\d\d$",
        Grid: r"^TK-WG-\d{4}$",
        Village: r"^411627[12]\d\d2\d\d$",
        Transformer: r"^TQ411627\d{5}$",
    }
    for model, shape in shapes.items():
        codes = list(model.objects.values_list("code", flat=True))
        assert codes and all(re.fullmatch(shape, c) for c in codes), model
        assert len(set(codes)) == len(codes)
    for grid in Grid.objects.select_related("station"):
        # TK-WG-0201 is the first grid of station TK-GDS-02.
        assert grid.code[6:8] == grid.station.code[-2:]
        assert grid.name.startswith(grid.station.name.removesuffix("供电所")) and grid.name.endswith("网格")
    for village in Village.objects.select_related("grid__station"):
        assert village.name.endswith("村")
    for code, transformer_code in LVLine.objects.values_list("code", "transformer__code"):
        assert re.fullmatch(re.escape(transformer_code) + r"-L\d+", code)
    accounts = list(Household.objects.values_list("account_no", flat=True))
    assert all(re.fullmatch(r"^4127\d{6}$", a) for a in accounts)
    assert len(set(accounts)) == len(accounts)
    village_names = Village.objects.values_list("grid_id", "name")
    assert len(set(village_names)) == len(village_names)  # unique within a grid


def test_it_reproduces_the_territory_of_the_sample_spreadsheets(demo_world):
    zhukou = Station.objects.get(code="TK-GDS-02")
    assert zhukou.name == "朱口供电所"
    grid = Grid.objects.get(code="TK-WG-0201")
    assert grid.name == "朱口一网格" and grid.station == zhukou
    villages = dict(grid.villages.values_list("code", "name"))
    assert villages["411627108201"] == "朱口村"
    assert villages["411627108202"] == "后常营村"
    assert "小王庄村" not in villages.values()
    assert Village.objects.get(name="小王庄村").grid.code == "TK-WG-0202"
    # The heads of household of the sample returning-resident list live where it says.
    # (Namesakes elsewhere are fine: common names repeat in a county.)
    assert Household.objects.filter(name="董华", village__name="朱口村", address__contains="朱口村一组").exists()
    assert Household.objects.filter(name="常文", village__name="后常营村").exists()
    assert Household.objects.filter(name="朱明兰", village__grid__code="TK-WG-0202").exists()
    for (grid_code, village_name), heads in customers_demo.PINNED_HOUSEHOLDS.items():
        names = set(Household.objects.filter(village__grid__code=grid_code, village__name=village_name)
                    .values_list("name", flat=True))
        assert {name for name, _ in heads} <= names


def test_assets_have_plausible_ratings_losses_years_and_ampacities(demo_world):
    ratings = Counter(Transformer.objects.values_list("rated_kva", flat=True))
    assert set(ratings) <= set(demo.RATINGS_KVA)
    assert ratings[200] + ratings[315] + ratings[400] > DEMO.transformers / 2
    for rated_kva, p0_w, pk_w, year, name in Transformer.objects.values_list("rated_kva", "p0_w", "pk_w", "year", "name"):
        assert 1998 <= year <= 2025
        assert re.fullmatch(r".+村\d+号台区", name)
        if p0_w is not None:
            # Nameplate losses of an S9/S11/S13 unit of that rating: no-load loss about
            # 0.1-0.35 % and load loss about 1-1.8 % of the rating.
            assert (p0_w, pk_w) in {series[rated_kva] for series in demo.LOSSES_W.values()}
            assert 0.0008 <= p0_w / (rated_kva * 1000) <= 0.0035
            assert 0.009 <= pk_w / (rated_kva * 1000) <= 0.018
    assert Transformer.objects.filter(p0_w__isnull=True).count() < DEMO.transformers / 4
    sections = set(LVLine.objects.values_list("section_mm2", "ampacity_a", "conductor"))
    assert sections <= {(70, 215, "JKLYJ-1/70"), (95, 275, "JKLYJ-1/95"), (120, 320, "JKLYJ-1/120")}
    phases = Counter(Household.objects.values_list("phase", flat=True))
    assert set(phases) == {"A", "B", "C", "ABC"}
    assert phases["ABC"] < DEMO.households * 0.15


def test_ties_join_at_most_two_neighbours_in_the_same_grid_both_ways(demo_world):
    ties = list(Transformer.ties.through.objects.values_list("from_transformer_id", "to_transformer_id"))
    assert ties
    pairs = set(ties)
    assert all((b, a) in pairs for a, b in pairs)
    grid_of = dict(Transformer.objects.values_list("id", "grid_id"))
    assert all(grid_of[a] == grid_of[b] and a != b for a, b in pairs)
    degree = Counter(a for a, _ in pairs)
    assert max(degree.values()) <= 2
    assert Transformer.objects.count() > len(degree)  # some have no tie at all
    transformer = Transformer.objects.get(pk=ties[0][0])
    assert transformer.ties.filter(pk=ties[0][1]).exists()  # readable through the ORM relation


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    seed("--scale", "demo", "--seed", "7")
    first = data_digest()
    seed("--scale", "demo", "--seed", "7", "--reset")
    assert table_counts() == DEMO.expected_counts()
    assert data_digest() == first
    seed("--scale", "demo", "--seed", "8", "--reset")
    assert data_digest() != first
    assert table_counts() == DEMO.expected_counts()


def test_generation_alone_is_deterministic_without_a_database():
    def rows(seed_value):
        ctx = demo.SeedContext(seed=seed_value, scale=TINY, first_ids={})
        digest = hashlib.sha256()
        for step in demo.TABLE_STEPS:
            rng = __import__("random").Random(f"{seed_value}:{step.name}")
            for row in step.generate(ctx, rng, TINY):
                digest.update(repr(row).encode())
        return digest.hexdigest()

    assert rows(1) == rows(1)
    assert rows(1) != rows(2)


def test_demo_users_hold_their_roles_and_can_log_in(demo_world, client):
    expected = {
        "admin": (Role.COMPANY_ADMIN, None),
        "county_admin": (Role.COUNTY_ADMIN, "411627"),
        "station_staff": (Role.STATION_STAFF, "TK-GDS-02"),
        "grid_manager": (Role.GRID_MANAGER, "TK-WG-0201"),
        "grid_manager2": (Role.GRID_MANAGER, "TK-WG-0202"),
    }
    for username, (role, territory_code) in expected.items():
        assignment = RoleAssignment.objects.get(user__username=username)
        assert assignment.role == role
        assert (assignment.territory.code if assignment.territory else None) == territory_code
    assert get_user_model().objects.get(username="admin").is_superuser
    assert Grid.objects.get(code="TK-WG-0201").manager.username == "grid_manager"
    assert Grid.objects.get(code="TK-WG-0202").manager.username == "grid_manager2"

    printed = demo_world
    for spec in demo.DEMO_USERS:
        assert re.search(rf"{spec.username}\s+{re.escape(spec.password)}\s", printed)
        response = client.post(reverse("login"), {"username": spec.username, "password": spec.password})
        assert response.status_code == 302, spec.username
        assert client.session["_auth_user_id"] == str(get_user_model().objects.get(username=spec.username).pk)
        client.logout()
    response = client.post(reverse("login"), {"username": "grid_manager", "password": "wrong-password-1"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_every_grid_has_one_manager_and_only_demo_logins_have_a_password(demo_world):
    assert not Grid.objects.filter(manager__isnull=True).exists()
    managers = RoleAssignment.objects.filter(role=Role.GRID_MANAGER).select_related("user", "grid")
    assert sorted(a.grid.code for a in managers) == sorted(Grid.objects.values_list("code", flat=True))
    for assignment in managers:
        assert assignment.grid.manager == assignment.user
        assert assignment.user.first_name  # a name for the grid list and the service cards
        is_demo_login = assignment.user.username in {u.username for u in demo.DEMO_USERS}
        assert assignment.user.has_usable_password() == is_demo_login
    assert Grid.objects.get(code="TK-WG-0101").manager.username == "gm_tk-wg-0101"


def test_if_empty_does_not_seed_twice_and_prints_the_logins(demo_world):
    before = data_digest()
    output = seed("--scale", "demo", "--if-empty")
    assert "nothing seeded" in output
    assert "grid_manager" in output and "朱口一网格 (TK-WG-0201)" in output
    assert table_counts() == DEMO.expected_counts()
    assert data_digest() == before
    assert RoleAssignment.objects.count() == NON_GRID_DEMO_USERS + DEMO.grids


def test_it_refuses_to_seed_over_existing_data(demo_world):
    with pytest.raises(CommandError, match="--reset"):
        seed("--scale", "demo")
    assert table_counts() == DEMO.expected_counts()
    with pytest.raises(CommandError):
        seed("--if-empty", "--reset")


def test_it_refuses_to_seed_over_imported_data_without_a_flag():
    County.objects.create(code="411699", name="导入县")
    with pytest.raises(CommandError, match="already holds territory data"):
        seed("--scale", "tiny")
    assert County.objects.count() == 1


def test_if_empty_seeds_an_empty_database():
    output = seed("--scale", "tiny", "--if-empty")
    assert table_counts() == TINY.expected_counts()
    assert "Demo logins" in output


def test_reset_replaces_the_data_and_keeps_the_sequences_usable(demo_world):
    other = get_user_model().objects.create_user("someone", password="not-a-demo-user-9")
    RoleAssignment.objects.create(user=other, role=Role.GRID_MANAGER, grid=Grid.objects.last())
    seed("--scale", "tiny", "--reset")
    assert table_counts() == TINY.expected_counts()
    # Rows referring to the old territory went with it; users stay.
    assert RoleAssignment.objects.count() == NON_GRID_DEMO_USERS + TINY.grids
    assert not RoleAssignment.objects.filter(user__username="someone").exists()
    assert get_user_model().objects.filter(username="someone").exists()
    # New rows written through the ORM get fresh ids after ids were assigned by the seeder.
    station = Station.objects.create(county=County.objects.first(), code="TK-GDS-99", name="新供电所")
    assert station.pk > max(Station.objects.exclude(pk=station.pk).values_list("pk", flat=True))
    household = Household.objects.create(
        account_no="4127999999", name="新户", village=Village.objects.first(),
        transformer=Transformer.objects.filter(grid=Village.objects.first().grid).first(),
    )
    assert household.pk == TINY.households + 1


def test_the_tiny_scale_runs_the_city_code_path_in_many_batches(monkeypatch):
    """Same steps and writer as `city`; on PostgreSQL every batch is one COPY."""
    copies: list[int] = []
    real_copy = seeding._copy_batch

    def counting_copy(cursor, sql, batch):
        assert sql.startswith("COPY ")
        copies.append(len(batch))
        real_copy(cursor, sql, batch)

    monkeypatch.setattr(seeding, "_copy_batch", counting_copy)
    # The core steps and the households: later steps (residents, load data) have tests of their own.
    monkeypatch.setattr(seeding, "seed_steps", lambda: [*seeding.SEED_STEPS, HOUSEHOLD_STEP])
    ctx, stats = seeding.run_seed(scale=TINY, seed=3)
    assert table_counts() == TINY.expected_counts()
    assert {s.name: s.rows for s in stats if s.name in TINY.expected_counts()} == TINY.expected_counts()
    assert County.objects.count() == 2 and Station.objects.filter(county__code="411602").exists()
    assert not Household.objects.exclude(village__grid=F("transformer__grid")).exists()
    assert not Household.objects.exclude(line__transformer=F("transformer")).exists()
    # The context keeps id ranges for later steps (residents, key customers, load data).
    some = next(iter(ctx.transformers.values()))
    assert set(Household.objects.filter(transformer_id=some.id).values_list("id", flat=True)) == set(
        range(some.first_household_id, some.first_household_id + some.household_count)
    )
    if connection.vendor == "postgresql":
        orm_steps = {s.name for s in seeding.SEED_STEPS if isinstance(s, seeding.DbStep)}
        assert orm_steps == {"users", "grid_managers"}
        assert sum(copies) == sum(s.rows for s in stats if s.name not in orm_steps)
        assert max(copies) == TINY.batch_size and len(copies) > TINY.households // TINY.batch_size
    else:
        assert copies == []


def test_rows_are_streamed_one_batch_at_a_time():
    produced = 0

    def rows():
        nonlocal produced
        for index in range(1, 11):
            produced += 1
            yield (index, f"41160{index}", f"县{index}")

    seen = []

    def progress(written):
        # When a batch is written, the generator has not run ahead by more than one batch.
        assert produced - written <= 3
        seen.append(written)

    assert seeding.write_rows(County, ("id", "code", "name"), rows(), batch_size=3, progress=progress) == 10
    assert seen == [3, 6, 9, 10]
    assert County.objects.count() == 10


def test_copy_text_escapes_what_copy_would_misread():
    assert seeding._copy_text(None) == "\\N"
    assert seeding._copy_text("a\tb\\c\nd") == "a\\tb\\\\c\\nd"
    assert seeding._copy_text(315) == "315"


@pytest.mark.parametrize("total, weights", [(40, [1.0, 1.2, 0.7]), (6000, [0.3] * 7), (12, [5, 1, 1, 1])])
def test_split_total_hits_the_total_with_every_part_at_least_one(total, weights):
    parts = demo.split_total(total, weights)
    assert sum(parts) == total and min(parts) >= 1 and len(parts) == len(weights)


def test_split_total_honours_minimums_and_refuses_the_impossible():
    assert demo.split_total(5, [1, 100], minimums=[3, 1]) == [3, 2]
    with pytest.raises(ValueError):
        demo.split_total(2, [1, 1, 1])


def test_chinese_numbers_name_grids_like_the_county_does():
    assert [demo.chinese_number(n) for n in (1, 10, 12, 20, 35)] == ["一", "十", "十二", "二十", "三十五"]


def test_demo_passwords_pass_the_validators_and_the_city_scale_is_the_issue_size():
    assert demo.SCALES["city"].expected_counts() == {
        "county": 10, "station": 200, "grid": 2000, "village": 6000,
        "transformer": 60_000, "lvline": 150_000, "household": 1_500_000,
    }
    assert len({u.password for u in demo.DEMO_USERS}) == len(demo.DEMO_USERS)
    by_role = defaultdict(list)
    for user in demo.DEMO_USERS:
        by_role[user.role].append(user.username)
    assert set(by_role) == set(Role.values)


def test_a_failed_reseed_keeps_the_old_data(demo_world, monkeypatch):
    before = data_digest()

    def broken(ctx, rng, scale):
        yield (next(ctx.id_counter("county")), "411627", "太康县")
        raise RuntimeError("generator failed half-way")

    failing = demo.TableStep("county", "zhoukou_grid.County", ("id", "code", "name"), broken)
    monkeypatch.setattr(seeding, "SEED_STEPS", [failing])
    with pytest.raises(RuntimeError):
        seed("--scale", "demo", "--reset")
    assert data_digest() == before
    assert table_counts() == DEMO.expected_counts()


def test_a_later_app_adds_its_demo_step_in_its_own_demo_module(monkeypatch):
    """How returning residents, key customers and load data will plug in."""
    calls = []

    def later_step(ctx, rng, scale):
        calls.append((dict(ctx.counts), len(ctx.transformers), rng.random()))
        return 0

    fake = types.ModuleType("customers.demo")
    fake.SEED_STEPS = [HOUSEHOLD_STEP, seeding.DbStep("returning_residents", later_step)]
    monkeypatch.setitem(sys.modules, "customers.demo", fake)
    # Only this fake app: the real later apps (loadforecast) add steps of their own.
    monkeypatch.setattr(seeding, "_project_apps", lambda: ["customers"])
    assert [s.name for s in seeding.seed_steps()][-3:] == ["grid_managers", "household", "returning_residents"]
    seed("--scale", "tiny", "--seed", "4")
    seed("--scale", "tiny", "--seed", "4", "--reset")
    assert len(calls) == 2 and calls[0] == calls[1]  # runs last, sees everything, same rng
    counts, transformers, _ = calls[0]
    assert counts["household"] == TINY.households and counts["users"] == len(demo.DEMO_USERS)
    assert transformers == TINY.transformers


def test_seeded_rows_pass_model_validation(demo_world):
    """COPY and bulk_create skip full_clean(): check that what they wrote would pass it."""
    samples = [
        *County.objects.all(), *Station.objects.all(), *Grid.objects.all(), *Village.objects.all(),
        *Transformer.objects.all(), *LVLine.objects.all()[::7],
        *Household.objects.all()[::97],
    ]
    assert len(samples) > 300
    for obj in samples:
        obj.full_clean()


def test_it_refuses_a_production_server_unless_forced(settings):
    settings.DEBUG = False
    settings.TESTING = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        seed("--scale", "tiny")
    assert not County.objects.exists()
    seed("--scale", "tiny", "--force")
    assert table_counts() == TINY.expected_counts()
