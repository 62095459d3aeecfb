"""An export from a list page (/imports/export/<kind>/?<filters>) keeps the rows the list
shows: each kind names its list's FilterSet (`ImportKind.filterset_class`)."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from customers.filters import HouseholdFilterSet, KeyCustomerFilterSet, ReturningResidentFilterSet
from tests.factories import KeyCustomerFactory, ReturningResidentFactory
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.territory.filters import VillageFilterSet

pytestmark = pytest.mark.django_db


def exported(client, kind: str, **filters) -> str:
    response = client.get(reverse("imports:export", args=[kind]), {"format": "csv", **filters})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_each_list_kind_names_its_lists_filterset():
    assert get_kind("households").filterset_class is HouseholdFilterSet
    assert get_kind("residents").filterset_class is ReturningResidentFilterSet
    assert get_kind("keycustomers").filterset_class is KeyCustomerFilterSet
    assert get_kind("villages").filterset_class is VillageFilterSet


def test_a_households_export_applies_the_lists_filters(client, county_admin, world):
    client.force_login(county_admin)
    a1, a2 = world.grids["a1"], world.grids["a2"]
    everything = exported(client, "households")
    assert all(h.account_no in everything for h in a1.households + a2.households)
    text = exported(client, "households", grid=a2.grid.pk)
    assert all(h.account_no in text for h in a2.households)
    assert not any(h.account_no in text for h in a1.households)


def test_a_residents_export_applies_the_lists_filters(client, county_admin, world):
    client.force_login(county_admin)
    a1, a2 = world.grids["a1"], world.grids["a2"]
    ReturningResidentFactory(village=a1.village, name="甲一归人", arrival_date=date(2027, 1, 20))
    ReturningResidentFactory(village=a2.village, name="甲二归人", arrival_date=date(2027, 1, 20))
    ReturningResidentFactory(village=a2.village, name="甲二晚归", arrival_date=date(2027, 2, 3))
    everything = exported(client, "residents")
    assert {"甲一归人", "甲二归人", "甲二晚归"} <= set(everything.replace("\r", "").replace("\n", ",").split(","))
    text = exported(client, "residents", grid=a2.grid.pk)
    assert "甲二归人" in text and "甲二晚归" in text and "甲一归人" not in text
    text = exported(client, "residents", grid=a2.grid.pk, arrival_to="2027-01-31")
    assert "甲二归人" in text and "甲二晚归" not in text


def test_a_keycustomers_export_applies_the_lists_filters(client, county_admin, world):
    client.force_login(county_admin)
    school = KeyCustomerFactory(grid=world.grids["a1"].grid, name="甲一小学", category="school")
    waterworks = KeyCustomerFactory(grid=world.grids["a2"].grid, name="甲二水厂", category="water")
    everything = exported(client, "keycustomers")
    assert school.account_no in everything and waterworks.account_no in everything
    text = exported(client, "keycustomers", grid=world.grids["a2"].grid.pk)
    assert waterworks.account_no in text and school.account_no not in text
    text = exported(client, "keycustomers", category="school")
    assert school.account_no in text and waterworks.account_no not in text
