"""A territory built like tests/fixtures/samples/villages.csv (太康县 › 朱口供电所 › 朱口一网格 with
朱口村 and 后常营村), the people who work in it, and the import day of the samples."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.factories import (
    CountyFactory,
    GridFactory,
    HouseholdFactory,
    RoleAssignmentFactory,
    StationFactory,
    TransformerFactory,
    UserFactory,
    VillageFactory,
)
from zhoukou_grid.territory.models import Role

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
ZHUKOU_XLSX = SAMPLES / "示例_朱口村返乡人员摸底表.xlsx"
HOUCHANGYING_CSV = SAMPLES / "示例_后常营村.csv"
# A day in the 2027 season (the Lunar New Year is 2027-02-06): the samples' dates without a
# year (1月19日, 腊月二十八) are read relative to it.
IMPORT_DAY = date(2026, 12, 10)


@pytest.fixture
def import_day(monkeypatch):
    """Pin the import day of every import in the test (web, command and worker alike)."""
    monkeypatch.setattr("zhoukou_grid.core.importing.engine.local_today", lambda: IMPORT_DAY)
    return IMPORT_DAY


@pytest.fixture
def taikang(db):
    county = CountyFactory(code="411627", name="太康县")
    station = StationFactory(county=county, code="TK-GDS-02", name="朱口供电所")
    grid = GridFactory(station=station, code="TK-WG-0201", name="朱口一网格")
    zhukou = VillageFactory(grid=grid, code="411627108201", name="朱口村")
    houchangying = VillageFactory(grid=grid, code="411627108202", name="后常营村")
    other_grid = GridFactory(station=station, code="TK-WG-0202", name="朱口二网格")
    xiaowang = VillageFactory(grid=other_grid, code="411627108203", name="小王庄村")
    transformer = TransformerFactory(grid=grid, code="TK-TQ-0001")
    households = {
        "董华": HouseholdFactory(village=zhukou, transformer=transformer, name="董华", account_no="4116270000001"),
        "常文": HouseholdFactory(village=houchangying, transformer=transformer, name="常文",
                               account_no="4116270000002"),
    }
    admin = UserFactory(username="taikang_admin")
    RoleAssignmentFactory(user=admin, role=Role.COUNTY_ADMIN, county=county)
    manager = UserFactory(username="zhukou_manager")
    RoleAssignmentFactory(user=manager, role=Role.GRID_MANAGER, grid=grid)
    other_manager = UserFactory(username="xiaowang_manager")
    RoleAssignmentFactory(user=other_manager, role=Role.GRID_MANAGER, grid=other_grid)
    return SimpleNamespace(county=county, station=station, grid=grid, zhukou=zhukou, houchangying=houchangying,
                           other_grid=other_grid, xiaowang=xiaowang, transformer=transformer, households=households,
                           admin=admin, manager=manager, other_manager=other_manager)
