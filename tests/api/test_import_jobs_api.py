"""The import-job API: upload (check, then import unless dry_run), status, errors, the error
workbook and run, per persona, on the same job machinery as the web UI."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from python_calamine import CalamineWorkbook

from customers.models import Household, ReturningResident
from tests.imports.conftest import _english, _media_root, csv_bytes  # noqa: F401 - autouse fixtures
from tests.imports.residents_world import import_day  # noqa: F401 - fixture
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.territory.models import Village

# The import day pins the season of the dates (2027-01-25 is in the coming one).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_day")]
URL = "/api/v1/import-jobs/"
RESIDENT_HEADER = ["姓名", "身份证号码", "手机号", "所在村", "预计返乡日期", "返乡人数"]


def residents_csv(village_name, count=2, bad_rows=()):
    rows = [["某某村2027年春节返乡人员登记表"], RESIDENT_HEADER]
    rows += [[f"返乡人{i}", "", f"1380000{i:04d}", village_name, "2027-01-25", "2"] for i in range(count)]
    rows += list(bad_rows)
    return csv_bytes(rows, encoding="gb18030")


def upload(client, kind, data, name="名单.csv", **options):
    form = {"kind": kind, "file": SimpleUploadedFile(name, data)}
    form.update({key: "true" if value else "false" for key, value in options.items()})
    return client.post(URL, form, format="multipart")


def job_url(job_id, suffix=""):
    return f"{URL}{job_id}/{suffix}"


# --- Uploads per persona ---------------------------------------------------------------
def test_a_county_admin_uploads_villages_households_and_residents(api, county_admin, world):
    client = api(county_admin)
    a1 = world.grids["a1"]

    villages = upload(client, "villages", csv_bytes([["网格编码", "村编码", "村名称"], [a1.grid.code, "411601900001",
                                                                                     "新建村"]]))
    assert villages.status_code == 201, villages.json()
    assert villages.json()["status"] == "done" and villages.json()["counts"]["new"] == 1
    assert Village.objects.filter(code="411601900001", grid=a1.grid).exists()

    households = upload(client, "households", csv_bytes([["户号", "户名", "村编码", "台区编号"],
                                                        ["4116019000001", "王五", "411601900001",
                                                         a1.transformer.code]]))
    assert households.status_code == 201 and households.json()["status"] == "done", households.json()
    assert Household.objects.filter(account_no="4116019000001", village__code="411601900001").exists()

    residents = upload(client, "residents", residents_csv(a1.village.name, count=3))
    body = residents.json()
    assert residents.status_code == 201 and body["status"] == "done", body
    assert body["counts"] == {"new": 3, "updated": 0, "unchanged": 0, "rejected": 0, "unlinked": 3}
    assert body["header_row"] == 2 and body["errors"] == [] and body["errors_xlsx_url"] is None
    assert ReturningResident.objects.filter(village=a1.village).count() == 3
    assert AuditLog.objects.filter(action="import", user=county_admin).count() == 3


def test_a_grid_manager_uploads_residents_of_own_villages_but_no_territory(api, grid_manager, world):
    client = api(grid_manager)
    own = upload(client, "residents", residents_csv(world.grids["a1"].village.name))
    assert own.status_code == 201 and own.json()["status"] == "done", own.json()
    assert ReturningResident.objects.filter(village=world.grids["a1"].village).count() == 2

    # A village of another grid is "not in your territory", like a missing one: nothing written.
    other = upload(client, "residents", residents_csv(world.grids["a2"].village.name))
    body = other.json()
    assert other.status_code == 201 and body["status"] == "previewed" and body["counts"]["rejected"] == 2
    assert {error["message"] for error in body["errors"]} == {
        "This village is not in your territory. Write the village name as in the template's list (a group may "
        "follow, as in 朱口村一组), or its code."}
    assert not ReturningResident.objects.filter(village=world.grids["a2"].village).exists()

    # Territory kinds need their model's add/change permission, as on the web.
    refused = upload(client, "villages", csv_bytes([["网格编码", "村编码", "村名称"], ["JA-WG-01", "411601900002", "x"]]))
    assert refused.status_code == 403
    assert not Village.objects.filter(code="411601900002").exists()
    assert ImportJob.objects.filter(user=grid_manager).count() == 2


def test_nobody_without_a_role_may_upload_and_anonymous_gets_401(api, nobody, world):
    assert upload(api(nobody), "residents", residents_csv("x")).status_code == 403
    assert upload(api(), "residents", residents_csv("x")).status_code == 401
    assert api().get(URL).status_code == 401
    assert not ImportJob.objects.exists()


def test_an_unknown_kind_is_a_400_naming_the_known_kinds(api, county_admin):
    response = upload(api(county_admin), "lottery", b"a,b\r\n1,2\r\n")
    assert response.status_code == 400
    assert "Unknown kind of data: lottery" in response.json()["kind"][0] and "residents" in response.json()["kind"][0]


# --- Visibility --------------------------------------------------------------------------
def test_an_outsider_never_sees_another_users_job(api, grid_manager, outsider, company_admin, world):
    job_id = upload(api(grid_manager), "residents", residents_csv(world.grids["a1"].village.name,
                                                                  bad_rows=[["坏号", "", "1399", "测试", "2027-01-25",
                                                                             "1"]]),
                    dry_run=True).json()["id"]
    as_outsider = api(outsider)
    for suffix in ("", "status/", "errors/", "errors.xlsx/"):
        assert as_outsider.get(job_url(job_id, suffix)).status_code == 404, suffix
        assert as_outsider.get(job_url("5f0e8a52-0d4b-4c7c-9a39-2a1a7f6f0c11", suffix)).status_code == 404
    assert as_outsider.post(job_url(job_id, "run/")).status_code == 404
    assert as_outsider.get(URL).json()["count"] == 0
    owner_list = api(grid_manager).get(URL).json()
    assert [row["id"] for row in owner_list["results"]] == [job_id]
    assert owner_list["results"][0]["page_url"] == f"/imports/{job_id}/"
    # A company admin sees every job (as in the web history), but only the owner may run it.
    assert api(company_admin).get(job_url(job_id)).status_code == 200
    assert api(company_admin).post(job_url(job_id, "run/")).status_code == 403


def test_the_job_list_costs_a_fixed_number_of_queries(api, county_admin, world, django_assert_max_num_queries):
    client = api(county_admin)
    for _ in range(3):
        upload(client, "residents", residents_csv(world.grids["a1"].village.name), dry_run=True)
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert response.json()["count"] == 3


# --- Dry run, errors, run ----------------------------------------------------------------
def test_a_dry_run_checks_and_writes_nothing(api, county_admin, world):
    response = upload(api(county_admin), "residents", residents_csv(world.grids["a1"].village.name, count=4),
                      dry_run=True)
    body = response.json()
    assert response.status_code == 201 and body["status"] == "previewed" and body["can_run"] is True
    assert body["counts"]["new"] == 4 and body["progress"] == 100
    assert not ReturningResident.objects.exists()
    assert not AuditLog.objects.filter(action="import").exists()


def test_errors_are_listed_with_the_excel_row_and_the_column_as_written(api, county_admin, world):
    village = world.grids["a1"].village.name
    bad = [["浮点身份证", "4.11627199001011E+17", "13900001111", village, "2027-01-26", "1"],
           ["短号", "", "1390000", village, "2027-01-26", "1"],
           ["外村人", "", "13900002222", world.grids["b1"].village.name, "2027-01-26", "1"]]
    client = api(county_admin)
    body = upload(client, "residents", residents_csv(village, count=2, bad_rows=bad), dry_run=True).json()
    assert body["counts"]["rejected"] == 3 and body["errors_total"] == 3 and body["can_run"] is False
    errors = client.get(job_url(body["id"], "errors/")).json()
    assert errors["count"] == 3
    assert [(e["row"], e["column"], e["value"]) for e in errors["results"]] == [
        # Personal cells are quoted masked: the errors are stored with the job (docs/personal-data.md).
        (5, "身份证号码", "4.1****E+17"), (6, "手机号", "****"), (7, "所在村", world.grids["b1"].village.name)]
    assert errors["results"][0]["message"].startswith("Excel stored this ID number as a number")
    assert "11 digits (this one has 7)" in errors["results"][1]["message"]
    paged = client.get(job_url(body["id"], "errors/"), {"page_size": 2, "page": 2}).json()
    assert [e["row"] for e in paged["results"]] == [7]

    # Rows rejected without skip_invalid: the job cannot run, and says why.
    refused = client.post(job_url(body["id"], "run/"))
    assert refused.status_code == 409 and "cannot be confirmed" in refused.json()["detail"]
    assert not ReturningResident.objects.exists()

    workbook = client.get(job_url(body["id"], "errors.xlsx/"))
    assert workbook.status_code == 200 and workbook["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(workbook.content)).get_sheet_by_index(0).to_python()
    assert rows[0][2:] == RESIDENT_HEADER
    assert [row[1] for row in rows[1:]] == [5.0, 6.0, 7.0] and [row[2] for row in rows[1:]] == ["浮点身份证", "短号", "外村人"]
    assert all(row[0] for row in rows[1:])


def test_run_imports_the_valid_rows_once(api, county_admin, world):
    village = world.grids["a1"].village.name
    client = api(county_admin)
    body = upload(client, "residents", residents_csv(village, count=3, bad_rows=[["短号", "", "1390", village,
                                                                                  "2027-01-26", "1"]]),
                  dry_run=True, skip_invalid=True).json()
    assert body["status"] == "previewed" and body["can_run"] is True and not ReturningResident.objects.exists()
    first = client.post(job_url(body["id"], "run/"))
    assert first.status_code == 200 and first.json()["status"] == "done", first.json()
    assert first.json()["counts"]["new"] == 3 and first.json()["counts"]["rejected"] == 1
    second = client.post(job_url(body["id"], "run/"))
    assert second.status_code == 200 and second.json()["status"] == "done"
    assert ReturningResident.objects.count() == 3
    assert AuditLog.objects.filter(action="import", object_id=body["id"]).count() == 1
    assert client.get(job_url(body["id"], "status/")).json() == {
        "status": "done", "status_label": "Done", "finished": True, "phase": "", "phase_label": "", "percent": 100,
        "counts": {"new": 3, "updated": 0, "unchanged": 0, "rejected": 1, "unlinked": 3}, "message": ""}


@pytest.fixture
def background(settings):
    """Redis configured and eager mode off, without a worker: the test runs the task itself."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    yield
    app.conf.task_always_eager = previous


def test_with_redis_the_import_goes_to_the_worker_like_the_web_confirm(api, county_admin, world,
                                                                      background, django_capture_on_commit_callbacks):
    client = api(county_admin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(client, "residents", residents_csv(world.grids["a1"].village.name))
    body = response.json()
    # Checked in the request (the preview is in the answer), imported on the worker.
    assert response.status_code == 201 and body["status"] == "queued" and body["counts"]["new"] == 2
    assert len(callbacks) == 1 and not ReturningResident.objects.exists()
    status = client.get(job_url(body["id"], "status/")).json()
    assert status["finished"] is False and status["phase_label"] == "Waiting for a worker"
    # A second run while queued enqueues nothing more.
    with django_capture_on_commit_callbacks(execute=False) as again:
        assert client.post(job_url(body["id"], "run/")).status_code == 202
    assert again == []
    assert run_import_job(body["id"]) == "done"
    assert ReturningResident.objects.count() == 2
    assert client.get(job_url(body["id"], "status/")).json()["finished"] is True


# --- Refused files -----------------------------------------------------------------------
def test_an_oversize_upload_is_refused_with_a_clear_message_and_no_job(api, county_admin, settings):
    data = b"a" * (settings.IMPORT_MAX_UPLOAD_BYTES + 1)
    response = upload(api(county_admin), "residents", data, name="big.csv")
    assert response.status_code == 400
    assert response.json()["file"] == [
        "The file is too large (20.0\xa0MB). The limit is 20.0\xa0MB: split it into smaller files."]
    assert not ImportJob.objects.exists()


def test_a_file_that_is_not_a_spreadsheet_is_a_rejected_job_with_its_message(api, county_admin):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    body = upload(api(county_admin), "residents", png, name="photo.xlsx").json()
    assert body["status"] == "rejected" and body["message"]
    assert body["counts"]["new"] == 0 and not ReturningResident.objects.exists()


def test_the_schema_validates_and_documents_the_import_jobs(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--lang", "en", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/import-jobs/:", "/api/v1/import-jobs/{id}/status/:", "/api/v1/import-jobs/{id}/errors/:",
                 "/api/v1/import-jobs/{id}/errors.xlsx/:", "/api/v1/import-jobs/{id}/run/:"):
        assert path in text
    assert "multipart/form-data" in text and "PaginatedImportErrorList" in text
