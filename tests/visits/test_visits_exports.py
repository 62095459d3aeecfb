"""Export kinds `visits`, `hazards`, `issues`: scoped, audited, formula-escaped, no query per row."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory
from tests.visits.test_selectors import small_world  # noqa: F401  (visits, logs, hazards, issues, cards)
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog


def _export(kind: str, username: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_data", kind, "--format", "csv", "--as", username, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))


def test_the_kinds_are_export_only(world, personas):
    for name in ("visits", "hazards", "issues"):
        kind = get_kind(name)
        assert not kind.may_import(personas.company_admin)
        assert kind.may_export(personas.grid_manager)
        assert not kind.may_export(personas.nobody)


def test_visits_export_holds_the_log_figures_and_is_scoped(world, personas, small_world):  # noqa: F811
    rows = _export("visits", "grid_manager")
    assert {row["grid_code"] for row in rows} == {"JA-WG-01"}
    done = [row for row in rows if row["status"] == "done"]
    assert len(done) == 1
    (visit,) = done
    assert (visit["cards_handed_out"], visit["cards_posted"], visit["guidance"]) == ("2", "1", "payment;balance")
    assert (visit["hazards_found"], visit["issues_raised"], visit["target_type"]) == ("1", "1", "household")
    assert visit["target_code"] == world.grids["a1"].households[0].account_no
    missed = [row for row in rows if row["status"] == "missed"]
    assert [row["missed_reason"] for row in missed] == ["家中无人"]
    assert len(_export("visits", "station_staff")) == 5
    assert {row["grid_code"] for row in _export("visits", "outsider")} == {"YI-WG-01"}
    audits = AuditLog.objects.filter(action="export", detail__kind="visits")
    assert audits.count() == 3 and set(audits.values_list("object_type", flat=True)) == {"visits.visit"}


def test_hazards_and_issues_exports_are_scoped_and_mark_overdue(world, personas, small_world):  # noqa: F811
    HazardFactory(grid=world.grids["b1"].grid, description="=HYPERLINK(\"x\")")
    hazards = _export("hazards", "station_staff")
    assert len(hazards) == 2
    assert sorted(row["overdue"] for row in hazards) == ["", "yes"]
    assert {row["status"] for row in hazards} == {"found", "rechecked"}
    outsider = _export("hazards", "outsider")
    assert [row["description"] for row in outsider] == ["'=HYPERLINK(\"x\")"]  # formula escaped
    raised = timezone.now() - timedelta(days=3)
    CustomerIssueFactory(grid=world.grids["a1"].grid, raised_at=raised, due_at=raised + timedelta(hours=4))
    issues = _export("issues", "grid_manager")
    assert sorted((row["status"], row["overdue"]) for row in issues) == [("open", "yes"), ("resolved", "")]
    assert _export("issues", "outsider") == []
    assert AuditLog.objects.filter(action="export", detail__kind="issues").count() == 2


@pytest.mark.parametrize("name", ["visits", "hazards", "issues"])
def test_an_export_takes_the_same_queries_for_few_or_many_rows(world, personas, name):
    kind = get_kind(name)
    grid = world.grids["a1"].grid

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            list(kind.export_rows(kind.export_queryset(personas.company_admin)))
        return len(captured)

    factory = {"visits": VisitFactory, "hazards": HazardFactory, "issues": CustomerIssueFactory}[name]
    factory(grid=grid)
    queries()  # the first call also looks up the user's territory (then cached)
    few = queries()
    factory.create_batch(15, grid=grid)
    assert queries() == few == 1


def test_the_export_page_serves_the_visits_kind_scoped(client, world, personas, small_world):  # noqa: F811
    client.force_login(personas.outsider)
    response = client.get("/imports/export/visits/?format=csv")
    if response.status_code == 404 and not AuditLog.objects.exists():
        pytest.skip("no export page at /imports/export/<kind>/")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "JA-WG-01" not in body and "YI-WG-01" in body


def test_hazard_and_issue_exports_follow_their_boards_filters(client, world, personas):
    grid_a1, grid_a2 = world.grids["a1"].grid, world.grids["a2"].grid
    HazardFactory(grid=grid_a1, description="甲一隐患")
    HazardFactory(grid=grid_a2, description="甲二隐患")
    CustomerIssueFactory(grid=grid_a1, description="甲一诉求")
    CustomerIssueFactory(grid=grid_a2, description="甲二诉求")
    client.force_login(personas.station_staff)

    def exported(kind: str, **filters) -> str:
        response = client.get(f"/imports/export/{kind}/", {"format": "csv", **filters})
        assert response.status_code == 200
        return b"".join(response.streaming_content).decode("utf-8-sig")

    assert "甲一隐患" in exported("hazards") and "甲二隐患" in exported("hazards")
    text = exported("hazards", grid=grid_a2.pk)
    assert "甲二隐患" in text and "甲一隐患" not in text
    text = exported("issues", grid=grid_a1.pk)
    assert "甲一诉求" in text and "甲二诉求" not in text
