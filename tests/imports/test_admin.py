"""Admin pages scoped to the territory, and the django-import-export resources
generated from the same column specs as the fast engine."""

from __future__ import annotations

import pytest
import tablib
from django.urls import reverse

from customers.models import Household
from zhoukou_grid.core.importing.django_ie import resource_for
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Village

pytestmark = pytest.mark.django_db


def test_admin_changelists_are_scoped_to_the_territory(client, county_admin, world):
    client.force_login(county_admin)
    page = client.get(reverse("admin:zhoukou_grid_village_changelist")).content.decode()
    assert world.grids["a1"].village.code in page and world.grids["a3"].village.code in page
    assert world.grids["b1"].village.code not in page
    other = world.grids["b1"].village
    assert client.get(reverse("admin:zhoukou_grid_village_change", args=[other.pk])).status_code == 302


def test_admin_foreign_key_choices_are_scoped(client, county_admin, world):
    client.force_login(county_admin)
    page = client.get(reverse("admin:zhoukou_grid_village_add")).content.decode()
    assert world.grids["a1"].grid.name in page and world.grids["b1"].grid.name not in page


@pytest.mark.parametrize("name", ["county", "station", "grid", "village", "transformer", "lvline", "auditlog",
                                  "importjob"])
def test_every_admin_changelist_opens_for_a_company_admin(client, company_admin, name):
    client.force_login(company_admin)
    assert client.get(reverse(f"admin:zhoukou_grid_{name}_changelist")).status_code == 200


def test_admin_import_and_export_pages_open(client, company_admin):
    client.force_login(company_admin)
    assert client.get(reverse("admin:customers_household_changelist")).status_code == 200
    assert client.get(reverse("admin:customers_household_import")).status_code == 200
    assert client.get(reverse("admin:customers_household_export")).status_code == 200
    assert client.get(reverse("admin:auth_user_change", args=[company_admin.pk])).status_code == 200


def test_the_audit_trail_is_read_only():
    from django.contrib import admin

    model_admin = admin.site._registry[AuditLog]
    assert not model_admin.has_add_permission(None) and not model_admin.has_change_permission(None)


def test_the_generated_resource_uses_the_spec_headers_and_scope(county_admin, world):
    resource = resource_for(get_kind("villages"))(user=county_admin)
    dataset = tablib.Dataset(headers=["网格编码", "村编码", "Village Name"])
    dataset.append(["JA-WG-01", "４１１６０１０００００１", "新一村"])
    dataset.append(["YI-WG-01", "411601000002", "越界村"])
    result = resource.import_data(dataset, dry_run=False, user=county_admin, raise_errors=False)
    assert result.has_validation_errors() or result.has_errors()
    assert not Village.objects.filter(code__startswith="411601").exists()
    dataset = tablib.Dataset(headers=["网格编码", "村编码", "Village Name"])
    dataset.append(["JA-WG-01", "４１１６０１０００００１", "新一村"])
    result = resource.import_data(dataset, dry_run=False, user=county_admin)
    assert not result.has_errors() and not result.has_validation_errors()
    assert Village.objects.get(code="411601000001").name == "新一村"


def test_the_generated_resource_exports_the_import_columns_with_formulas_escaped(county_admin, world):
    household = world.grids["a1"].households[0]
    Household.objects.filter(pk=household.pk).update(address="@SUM(A1)")
    resource = resource_for(get_kind("households"))(user=county_admin)
    dataset = resource.export(queryset=Household.objects.filter(pk=household.pk))
    assert dataset.headers == ["户号", "户名", "村编码", "村名称", "台区编号", "线路编号", "相别", "地址"]
    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert row["地址"] == "'@SUM(A1)" and row["村编码"] == world.grids["a1"].village.code
