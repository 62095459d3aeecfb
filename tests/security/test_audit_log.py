"""The audit-log page: company admins see everything, county admins their county's users'
rows; filters by user, date range and kind; paged with a pinned query count; CSV/XLSX
export of the log itself, audited too. Plus: downloads of personal data write their row."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.factories import RoleAssignmentFactory, UserFactory
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role

pytestmark = pytest.mark.django_db
URL = "/audit/"


def client_for(user, language="en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def trail(personas, world):
    """Rows by users of 甲县 (grid manager, station staff), of 乙县 (the outsider) and a system task."""
    AuditLog.objects.all().delete()
    rows = {
        "gm": audit_record(user=personas.grid_manager, action="resident.revealed", object_type="returningresident",
                           object_id=11),
        "staff": audit_record(user=personas.station_staff, action="export", object_type="customers.household",
                              detail={"rows": 3}),
        "outsider": audit_record(user=personas.outsider, action="resident.revealed", object_type="returningresident",
                                 object_id=99),
        "system": audit_record(user=None, action="alerts.notified", object_type="loadforecast.projectionrun"),
    }
    return rows


def listed_ids(response) -> set[int]:
    return {row.pk for row in response.context["object_list"]}


def test_each_row_records_the_county_of_the_acting_user(trail, world):
    assert trail["gm"].county == world.county_a
    assert trail["staff"].county == world.county_a
    assert trail["outsider"].county == world.county_b
    assert trail["system"].county is None


def test_a_county_admin_sees_only_their_countys_users(personas, trail):
    response = client_for(personas.county_admin).get(URL)
    assert response.status_code == 200
    assert listed_ids(response) == {trail["gm"].pk, trail["staff"].pk}


def test_a_company_admin_sees_everything(personas, trail):
    response = client_for(personas.company_admin).get(URL)
    assert listed_ids(response) >= {row.pk for row in trail.values()}


@pytest.mark.parametrize("persona", ["station_staff", "grid_manager", "nobody"])
def test_other_roles_are_refused(personas, trail, persona):
    user = getattr(personas, persona)
    assert client_for(user).get(URL).status_code == 403
    assert client_for(user).get(reverse("audit_log_export")).status_code == 403


def test_filters_by_user_kind_and_date_range(personas, trail):
    client = client_for(personas.company_admin)
    by_user = client.get(URL, {"user": personas.grid_manager.pk})
    assert listed_ids(by_user) == {trail["gm"].pk}
    by_kind = client.get(URL, {"action": "resident.revealed"})
    assert listed_ids(by_kind) == {trail["gm"].pk, trail["outsider"].pk}
    old = timezone.now() - timedelta(days=40)
    AuditLog.objects.filter(pk=trail["staff"].pk).update(created_at=old)
    day = timezone.localdate(old).isoformat()
    by_date = client.get(URL, {"date_from": day, "date_to": day})
    assert listed_ids(by_date) == {trail["staff"].pk}
    since = client.get(URL, {"date_from": (timezone.localdate() - timedelta(days=1)).isoformat()})
    assert trail["staff"].pk not in listed_ids(since) and trail["gm"].pk in listed_ids(since)


def test_a_county_admin_cannot_pick_another_countys_user(personas, trail):
    response = client_for(personas.county_admin).get(URL, {"user": personas.outsider.pk})
    assert response.context["filterset"].form.errors["user"]  # not a choice of theirs
    assert trail["outsider"].pk not in listed_ids(response)
    assert personas.outsider.username not in response.content.decode()


def test_the_list_is_paged_with_a_pinned_query_count(personas, world):
    def add(n):
        start = AuditLog.objects.count()
        users = [UserFactory(username=f"gm{start}-{index}") for index in range(n)]
        for user in users:
            RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)
        for index in range(n * 10):
            audit_record(user=users[index % n], action=f"kind.{index % 7}", object_type="visit", object_id=index)

    client = client_for(personas.county_admin)
    add(2)
    client.get(URL)  # warm: the notification badge's count is cached after the first page
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    add(8)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert response.context["paginator"].count == 100
    assert len(response.context["object_list"]) == 50
    assert len(many) == len(few), "\n".join(q["sql"][:150] for q in many.captured_queries)
    assert len(many) <= 16


def test_the_page_is_chinese_by_default_and_in_the_admin_navigation(personas, trail):
    page = client_for(personas.county_admin, language="zh-hans").get(URL).content.decode()
    assert '<html lang="zh-hans">' in page
    english = client_for(personas.county_admin).get(reverse("home")).content.decode()
    assert f'href="{URL}"' in english and "Audit log" in english
    assert f'href="{URL}"' not in client_for(personas.station_staff).get(reverse("home")).content.decode()


def test_the_csv_export_is_scoped_escaped_and_audited(personas, trail):
    AuditLog.objects.filter(pk=trail["gm"].pk).update(object_id="=HYPERLINK(\"http://x\")")
    response = client_for(personas.county_admin).get(reverse("audit_log_export"), {"format": "csv"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Time", "Performed by", "Kind of action"]
    users = {row[1] for row in rows[1:]}
    assert users == {"grid_manager", "station_staff"}
    assert "'=HYPERLINK(\"http://x\")" in {row[4] for row in rows[1:]}  # a formula is defused
    export = AuditLog.objects.get(action="export", object_type="zhoukou_grid.auditlog")
    assert export.user == personas.county_admin
    assert export.detail["rows"] == 2 and export.detail["format"] == "csv"


def test_the_xlsx_export_follows_the_filters_and_is_audited(personas, trail):
    response = client_for(personas.company_admin).get(reverse("audit_log_export"),
                                                      {"format": "xlsx", "action": "resident.revealed"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 3  # header + the two reveals
    assert {row[2] for row in values[1:]} == {"resident.revealed"}
    export = AuditLog.objects.get(action="export", object_type="zhoukou_grid.auditlog")
    assert export.detail == {"format": "xlsx", "rows": 2, "filters": {"action": "resident.revealed"}}


# --- Downloads with personal data write their row ------------------------------------------------
def test_a_list_export_is_audited(personas, world):
    client = client_for(personas.county_admin)
    response = client.get(reverse("imports:export", args=["households"]), {"format": "csv"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    row = AuditLog.objects.get(action="export")
    assert row.user == personas.county_admin and row.object_type == "customers.household"


def test_an_import_error_workbook_download_is_audited(personas, world):
    from zhoukou_grid.core.importing.jobs import import_job_preview
    from zhoukou_grid.core.importing.spec import get_kind

    data = "网格编码,村编码,村名称\r\nNO-SUCH-GRID,411627555001,外村\r\n".encode("utf-8-sig")
    job = import_job_preview(user=personas.county_admin, kind=get_kind("villages"), data=data, file_name="v.csv",
                             skip_invalid=False)
    response = client_for(personas.county_admin).get(reverse("imports:errors", args=[job.pk]))
    assert response.status_code == 200
    row = AuditLog.objects.get(action="import.errors_downloaded")
    assert row.object_id == str(job.pk) and row.detail == {"kind": "villages", "rejected": 1}
    assert "v_errors.xlsx" in response["Content-Disposition"]


def test_an_import_error_workbook_download_through_the_api_is_audited_the_same_way(personas, world):
    from zhoukou_grid.core.importing.jobs import import_job_preview
    from zhoukou_grid.core.importing.spec import get_kind

    data = "网格编码,村编码,村名称\r\nNO-SUCH-GRID,411627555001,外村\r\n".encode("utf-8-sig")
    job = import_job_preview(user=personas.county_admin, kind=get_kind("villages"), data=data, file_name="v.csv",
                             skip_invalid=False)
    response = client_for(personas.county_admin).get(reverse("api:importjob-errors-xlsx", args=[job.pk]))
    assert response.status_code == 200
    assert "v_errors.xlsx" in response["Content-Disposition"]
    row = AuditLog.objects.get(action="import.errors_downloaded")
    assert row.user == personas.county_admin
    assert row.object_id == str(job.pk) and row.detail == {"kind": "villages", "rejected": 1}
