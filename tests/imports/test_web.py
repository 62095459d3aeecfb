"""The web flow: upload -> preview with errors -> confirm -> rows exist; templates,
exports and who may see which job."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from python_calamine import CalamineWorkbook

from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.territory.models import Village

pytestmark = pytest.mark.django_db
VILLAGE_HEADER = ["网格编码", "村编码", "村名称"]


def upload(client, rows, kind="villages", skip_invalid=False, name="村庄.xlsx"):
    data = {"kind": kind, "file": SimpleUploadedFile(name, xlsx_bytes(rows))}
    if skip_invalid:
        data["skip_invalid"] = "on"
    return client.post(reverse("imports:new"), data)


def test_upload_preview_confirm_writes_the_rows(client, county_admin):
    client.force_login(county_admin)
    response = upload(client, [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"], ["JA-WG-02", "411601000002", "新二村"]])
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:preview", args=[job.pk])
    assert job.status == "previewed" and job.counts["new"] == 2
    assert not Village.objects.filter(code__startswith="411601").exists()
    page = client.get(response.url)
    assert page.status_code == 200 and "Confirm the import" in page.content.decode()
    confirmed = client.post(response.url, follow=True)
    assert "Import done: 2 new" in confirmed.content.decode()
    assert Village.objects.filter(code__startswith="411601").count() == 2
    job.refresh_from_db()
    assert job.status == "done" and job.finished_at
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1
    # Confirming twice writes nothing more.
    client.post(response.url)
    assert AuditLog.objects.filter(action="import").count() == 1


def test_the_preview_shows_the_errors_and_offers_no_confirm(client, county_admin):
    client.force_login(county_admin)
    response = upload(client, [["村庄表"], VILLAGE_HEADER + ["备注"], ["JA-WG-01", "411601000001", "新一村", ""],
                               ["YI-WG-01", "411601000002", "越界村", "x"]])
    page = client.get(response.url).content.decode()
    assert "Unknown grid code" in page and "YI-WG-01" in page
    assert "<td class=\"num\">4</td><td>网格编码</td>" in page
    assert "备注" in page  # named as an ignored column
    assert "Confirm the import" not in page
    job = ImportJob.objects.get()
    client.post(response.url)
    assert not Village.objects.filter(code__startswith="411601").exists()
    job.refresh_from_db()
    assert job.status == "previewed"
    workbook = client.get(reverse("imports:errors", args=[job.pk]))
    assert workbook.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(workbook.content)).get_sheet_by_index(0).to_python()
    assert rows[0][2:5] == VILLAGE_HEADER and rows[1][1] == 4.0 and rows[1][2] == "YI-WG-01"


def test_valid_rows_only_imports_them_and_keeps_the_error_workbook(client, county_admin):
    client.force_login(county_admin)
    response = upload(client, [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"], ["NOPE", "411601000002", "x"]],
                      skip_invalid=True)
    assert "Import the valid rows" in client.get(response.url).content.decode()
    client.post(response.url)
    assert list(Village.objects.filter(code__startswith="411601").values_list("code", flat=True)) == ["411601000001"]
    assert client.get(reverse("imports:errors", args=[ImportJob.objects.get().pk])).status_code == 200


def test_a_file_that_is_not_a_spreadsheet_is_rejected_with_its_message(client, county_admin):
    client.force_login(county_admin)
    png = SimpleUploadedFile("photo.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    response = client.post(reverse("imports:new"), {"kind": "villages", "file": png})
    job = ImportJob.objects.get()
    assert job.status == "rejected"
    assert "not a spreadsheet" in client.get(response.url).content.decode()


def test_an_oversize_upload_is_refused(client, county_admin, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    client.force_login(county_admin)
    rows = [VILLAGE_HEADER] + [["JA-WG-01", f"4116010{n:05d}", f"村{n}"] for n in range(300)]
    response = upload(client, rows)
    assert response.status_code == 200
    assert "The file is too large" in response.content.decode()
    assert not ImportJob.objects.exists() and not Village.objects.filter(code__startswith="411601").exists()


def test_the_kind_is_preselected_and_limited_to_what_the_user_may_import(client, county_admin):
    client.force_login(county_admin)
    page = client.get(reverse("imports:new") + "?kind=transformers").content.decode()
    assert '<option value="transformers" selected>' in page
    assert 'value="households"' in page


def test_a_grid_manager_may_import_residents_but_not_the_territory(client, grid_manager):
    client.force_login(grid_manager)
    page = client.get(reverse("imports:new"))
    assert page.status_code == 200
    offered = [value for value, _label in page.context["form"].fields["kind"].choices]
    assert "residents" in offered and "villages" not in offered and "households" not in offered
    response = upload(client, [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]])
    assert response.status_code == 200 and "villages" in response.context["form"].errors["kind"][0]
    assert client.get(reverse("imports:template", args=["villages"])).status_code == 403
    assert client.get(reverse("imports:template", args=["residents"])).status_code == 200
    assert not ImportJob.objects.exists()


def test_nobody_without_an_import_verb_gets_the_import_page(client, station_staff, nobody):
    for user in (nobody,):
        client.force_login(user)
        assert client.get(reverse("imports:new")).status_code == 403


def test_a_job_is_visible_to_its_owner_and_company_admins_only(client, county_admin, outsider, company_admin):
    client.force_login(county_admin)
    upload(client, [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]])
    job = ImportJob.objects.get()
    urls = [reverse("imports:preview", args=[job.pk]), reverse("imports:errors", args=[job.pk])]
    client.force_login(outsider)
    assert [client.get(url).status_code for url in urls] == [404, 404]
    assert client.post(urls[0]).status_code == 404
    assert "村庄.xlsx" not in client.get(reverse("imports:history")).content.decode()
    client.force_login(company_admin)
    assert client.get(urls[0]).status_code == 200
    history = client.get(reverse("imports:history")).content.decode()
    assert "村庄.xlsx" in history and "<td>Villages</td>" in history
    # Only the owner confirms.
    assert client.post(urls[0]).status_code == 403
    assert not Village.objects.filter(code="411601000001").exists()


def test_the_celery_task_runs_a_job_by_id_once(client, county_admin):
    client.force_login(county_admin)
    upload(client, [VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]])
    job = ImportJob.objects.get()
    assert run_import_job(str(job.pk)) == "done"
    assert run_import_job(str(job.pk)) == "done"
    assert Village.objects.filter(code="411601000001").count() == 1
    assert AuditLog.objects.filter(action="import").count() == 1


def test_the_template_has_headers_example_text_columns_and_territory_lists(client, county_admin, world):
    client.force_login(county_admin)
    response = client.get(reverse("imports:template", args=["households"]))
    assert response.status_code == 200
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    rows = workbook.get_sheet_by_index(0).to_python()
    assert rows[1] == ["户号", "户名", "村编码", "村名称", "台区编号", "线路编号", "相别", "地址"]
    assert rows[2][0] == "4100000001"
    lists = workbook.get_sheet_by_name("lists").to_python()
    village_codes = {row[0] for row in lists[1:]}
    assert world.grids["a1"].village.code in village_codes
    assert world.grids["b1"].village.code not in village_codes
    import zipfile
    sheet_xml = zipfile.ZipFile(io.BytesIO(response.content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<dataValidation" in sheet_xml and '"A,B,C,ABC"' in sheet_xml
    assert "lists!$A$2" in sheet_xml
    # The template itself imports: the example row only fails on its example codes.
    data = response.content
    from zhoukou_grid.core.importing.service import import_file
    from zhoukou_grid.core.importing.spec import get_kind
    result = import_file(kind=get_kind("households"), data=data, file_name="t.xlsx", user=county_admin, dry_run=True)
    assert result.header_row == 2 and result.counts["rejected"] == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_download_scoped_and_filtered(client, station_staff, world, fmt):
    client.force_login(station_staff)
    response = client.get(reverse("imports:export", args=["villages"]), {"format": fmt})
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if fmt == "csv":
        assert content.startswith(b"\xef\xbb\xbf")
        text = content.decode("utf-8-sig")
    else:
        text = str(CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python())
    assert world.grids["a1"].village.code in text and world.grids["a2"].village.code in text
    assert world.grids["a3"].village.code not in text and world.grids["b1"].village.code not in text
    filtered = client.get(reverse("imports:export", args=["villages"]), {"format": "csv", "q": world.grids["a2"].village.name})
    text = b"".join(filtered.streaming_content).decode("utf-8-sig")
    assert world.grids["a2"].village.code in text and world.grids["a1"].village.code not in text
    assert AuditLog.objects.filter(action="export", user=station_staff).count() == 2


def test_the_error_workbook_lists_every_rejected_row_beyond_the_stored_errors(client, county_admin, monkeypatch):
    from zhoukou_grid.core.importing import service

    monkeypatch.setattr(service, "MAX_STORED_ERRORS", 2)
    client.force_login(county_admin)
    rows = [VILLAGE_HEADER] + [["NOPE", f"4116010000{n:02d}", f"村{n}"] for n in range(5)]
    response = upload(client, rows)
    job = ImportJob.objects.get()
    assert len(job.errors) == 2 and job.counts["rejected"] == 5
    assert "3 more errors are in the error workbook" in client.get(response.url).content.decode()
    workbook = client.get(reverse("imports:errors", args=[job.pk]))
    rows = CalamineWorkbook.from_filelike(io.BytesIO(workbook.content)).get_sheet_by_index(0).to_python()
    assert [row[1] for row in rows[1:]] == [2.0, 3.0, 4.0, 5.0, 6.0]
