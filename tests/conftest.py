"""Named personas and a small two-county world every test can stand on.

World: county 周口甲县 (station 甲一所 with grids 甲一网格 and 甲二网格, station 甲二所
with grid 甲三网格) and county 周口乙县 (station 乙一所, grid 乙一网格). Each grid has
one village, one transformer with one LV line and two households.

Personas: `company_admin`, `county_admin` (甲县), `station_staff` (甲一所),
`grid_manager` (甲一网格), `outsider` (grid manager of 乙一网格), `nobody` (no role).
`without_personal_data`: the same roles without `customers.view_personal_data`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.factories import (
    CountyFactory,
    GridFactory,
    HouseholdFactory,
    LVLineFactory,
    RoleAssignmentFactory,
    StationFactory,
    TransformerFactory,
    UserFactory,
    VillageFactory,
)
from zhoukou_grid.territory.models import Role


def _grid_with_assets(grid):
    village = VillageFactory(grid=grid)
    transformer = TransformerFactory(grid=grid)
    line = LVLineFactory(transformer=transformer)
    households = [
        HouseholdFactory(village=village, transformer=transformer, line=line),
        HouseholdFactory(village=village, transformer=transformer, line=line),
    ]
    return SimpleNamespace(grid=grid, village=village, transformer=transformer, line=line, households=households)


@pytest.fixture
def world(db):
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
    return SimpleNamespace(
        county_a=county_a, county_b=county_b,
        station_a1=station_a1, station_a2=station_a2, station_b1=station_b1,
        grids=grids,
    )


def _persona(username, role=None, is_staff=False, **territory):
    user = UserFactory(username=username, is_staff=is_staff)
    if role:
        RoleAssignmentFactory(user=user, role=role, **territory)
    return user


@pytest.fixture
def company_admin(world):
    return _persona("company_admin", Role.COMPANY_ADMIN, is_staff=True)


@pytest.fixture
def county_admin(world):
    return _persona("county_admin", Role.COUNTY_ADMIN, is_staff=True, county=world.county_a)


@pytest.fixture
def station_staff(world):
    return _persona("station_staff", Role.STATION_STAFF, station=world.station_a1)


@pytest.fixture
def grid_manager(world):
    user = _persona("grid_manager", Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    world.grids["a1"].grid.manager = user
    world.grids["a1"].grid.save(update_fields=["manager"])
    return user


@pytest.fixture
def outsider(world):
    """A grid manager of the other county: everything of 甲县 is invisible to them."""
    return _persona("outsider", Role.GRID_MANAGER, grid=world.grids["b1"].grid)


@pytest.fixture
def clerk_village(world):
    """A second village of 甲一网格, kept by the village clerk."""
    return VillageFactory(grid=world.grids["a1"].grid, name="书记村")


@pytest.fixture
def village_clerk(clerk_village):
    """The clerk of 书记村: that village's returning list, nothing else."""
    return _persona("village_clerk", Role.VILLAGE_CLERK, village=clerk_village)


@pytest.fixture
def nobody(world):
    return _persona("nobody")


@pytest.fixture
def without_personal_data(monkeypatch):
    """A role setup where no role holds `customers.view_personal_data` (the demo roles all
    hold it, which hides a page or answer that shows a full number to everyone): every
    persona logged in afterwards sees ID and phone numbers masked only."""
    from zhoukou_grid.core.scoping import ROLE_PERMISSIONS

    for role, permissions in list(ROLE_PERMISSIONS.items()):
        monkeypatch.setitem(ROLE_PERMISSIONS, role, permissions - {"customers.view_personal_data"})


@pytest.fixture
def personas(company_admin, county_admin, station_staff, grid_manager, outsider, nobody):
    return SimpleNamespace(
        company_admin=company_admin, county_admin=county_admin, station_staff=station_staff,
        grid_manager=grid_manager, outsider=outsider, nobody=nobody,
    )


@pytest.fixture(autouse=True)
def _cache_of_its_own(request, settings):
    """Every test starts with an empty cache of its own: a fresh key prefix per test.

    The cache is shared (Redis in CI, between test processes and across runs) and a value
    cached by an earlier test (a user's unread-notification count, say) would change what
    a later test measures, its query counts included. A test that reads what a separate
    worker process writes to the cache is marked `shared_cache` and keeps the prefix.
    """
    import uuid

    if request.node.get_closest_marker("shared_cache"):
        return
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"{config.get('KEY_PREFIX', '')}-{uuid.uuid4().hex[:12]}"}
        for alias, config in settings.CACHES.items()
    }


# --- Nothing outside the repository is read ---------------------------------------------
# Whoever clones the project has only the repository: a test or code path that opens a
# file beside the clone (a sibling folder of notes or samples) passes on our machines and
# fails on theirs. An audit hook records every such open; the fixture below fails the test
# that caused it.
_REPO = Path(__file__).resolve().parents[1]
_OUTSIDE_READS: list[str] = []


def _record_outside_reads(event: str, args: tuple) -> None:
    if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.fsdecode(args[0])
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    path = os.path.normpath(path)
    if is_beside_repository(path):
        _OUTSIDE_READS.append(path)


# What lay beside the clone when the tests started (a folder of notes or samples, another
# checkout). Files that tests create later (temporary files, when the clone sits in the
# system's temporary folder) and pytest's own temporary folders are not "beside" it.
_SIBLINGS = frozenset(
    name for name in os.listdir(_REPO.parent) if name != _REPO.name and not name.startswith("pytest-of-")
)


def is_beside_repository(path: str, siblings: frozenset[str] | None = None) -> bool:
    """True for a path in something that lay beside the clone, outside the clone itself."""
    parent = str(_REPO.parent)
    if not path.startswith(parent + os.sep):
        return False
    first = path[len(parent) + 1:].split(os.sep, 1)[0]
    return first in (_SIBLINGS if siblings is None else siblings)


sys.addaudithook(_record_outside_reads)


@pytest.fixture(autouse=True)
def _nothing_read_beside_the_repository():
    start = len(_OUTSIDE_READS)
    yield
    read = _OUTSIDE_READS[start:]
    if read:
        pytest.fail(f"read a file outside the repository: {read[0]}")
