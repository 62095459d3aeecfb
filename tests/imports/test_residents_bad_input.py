"""Bad input of issue 3, uploaded as residents: a password-protected workbook, a damaged
one, zip bombs, an oversize upload, a CSV in an unknown encoding, a file of another kind.
Each is refused with its reason, in bounded memory, and nothing is written."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes, xlsx_bytes
from tests.imports.office_files import encrypted_workbook, zeros_bomb, zip_declaring, zip_with
from zhoukou_grid.core.importing import spec
from zhoukou_grid.core.importing.parsers import code
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import Column, ImportKind
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.territory.models import Transformer

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "联系电话", "村", "返乡日期"]


def written():
    return ReturningResident.objects.count(), ImportJob.objects.count(), AuditLog.objects.count()


def refused(data: bytes, user, name="返乡人员.xlsx") -> str:
    before = written()
    with pytest.raises(SpreadsheetError) as error:
        import_file(kind=spec.get_kind("residents"), data=data, file_name=name, user=user)
    assert written() == before
    return error.value.message


def test_a_password_protected_workbook_is_recognised_by_its_content(taikang):
    data = encrypted_workbook()
    assert data.startswith(b"\xd0\xcf\x11\xe0") and b"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0" in data
    for name in ("返乡人员.xlsx", "返乡人员.xls", "返乡人员.csv", "list"):
        assert "protected by a password" in refused(data, taikang.manager, name), name


def test_a_damaged_workbook_is_refused(taikang):
    good = xlsx_bytes([HEADER, ["张三", "13800000001", "朱口村", "2027-01-25"]])
    assert "damaged" in refused(good[: len(good) // 2], taikang.manager)
    assert "damaged" in refused(zip_with({"hello.txt": b"not a workbook"}), taikang.manager)


def test_a_zip_bomb_is_refused_from_its_declared_sizes_without_inflating_it(taikang):
    # A sheet declaring 4 GB: refused before anything is inflated.
    lying_big = zip_declaring("xl/worksheets/sheet1.xml", b"<sheetData/>" * 10, 0xFFFFFF00)
    tracemalloc.start()
    try:
        assert "would expand to 4095 MB" in refused(lying_big, taikang.manager)
        # 300 MB of zeros in a 300 KB file: refused for its ratio, in bounded memory.
        bomb = zeros_bomb(300)
        assert len(bomb) < 1_000_000
        tracemalloc.reset_peak()
        assert "would expand to 300 MB" in refused(bomb, taikang.manager)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, peak


def test_a_member_that_lies_about_its_size_is_refused_as_damaged(taikang):
    real = xlsx_bytes([HEADER, ["张三", "13800000001", "朱口村", "2027-01-25"]])
    data = zip_declaring("xl/worksheets/sheet1.xml", b"<x>" + b"0" * 200_000 + b"</x>", 100)
    assert "damaged" in refused(data, taikang.manager)
    assert real  # (a real workbook passes: see the other tests)


def test_a_csv_in_an_unknown_encoding_is_refused_and_utf16_with_a_bom_is_read(taikang, import_day):
    latin1 = "姓名,联系电话,村,返乡日期\r\nCafé,13800000001,Zürich,2027-01-25\r\n".encode().replace(
        "é".encode(), b"\xe9").replace("ü".encode(), b"\xfc")
    message = refused(latin1, taikang.manager, "list.csv")
    assert "cannot be read as text in UTF-8 or GBK" in message
    # Excel's "Unicode text" (UTF-16 with a BOM, tab-separated) is read.
    text = "\ufeff姓名\t联系电话\t村\t返乡日期\r\n张三\t13800000001\t朱口村\t2027-01-25\r\n"
    result = import_file(kind=spec.get_kind("residents"), data=text.encode("utf-16-le"), file_name="list.txt",
                         user=taikang.manager)
    assert result.written and ReturningResident.objects.get().name == "张三"


def test_a_households_file_uploaded_as_residents_says_what_it_looks_like(taikang):
    households = xlsx_bytes([["户号", "户名", "村编码", "台区编号"], ["4116270000009", "张三", "411627108201", "TQ1"]])
    message = refused(households, taikang.admin)
    assert message.startswith("This looks like a file of Households")
    assert "户号" in message and "not of Returning residents" in message


class _LoadLikeKind(ImportKind):
    """Stands in for the load kind when its app has not registered one."""

    name = "load"
    model = Transformer
    verbose_name = "Metered load"
    key_column = "transformer_code"
    columns = (Column("transformer_code", "台区编号", required=True, parser=code()),
               Column("date", "日期", required=True), *(Column(f"p{i}", f"P{i}") for i in range(1, 97)))


def test_a_load_file_uploaded_as_residents_says_this_looks_like_a_load_file(taikang, monkeypatch):
    spec.all_kinds()  # the registry, discovered
    if "load" not in spec._REGISTRY:
        monkeypatch.setitem(spec._REGISTRY, "load", _LoadLikeKind())
    load = spec.get_kind("load")
    curve = [["台区编号", "日期", *[f"P{i}" for i in range(1, 97)]], ["TK-TQ-0001", "2027-01-20", *[12.5] * 96]]
    message = refused(csv_bytes(curve), taikang.admin, "负荷.csv")
    assert message.startswith(f"This looks like a file of {load.verbose_name}"), message


def test_an_upload_over_20_mb_is_refused_and_nothing_is_stored(client, taikang, settings):
    assert settings.IMPORT_MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    client.force_login(taikang.manager)
    line = "张三,13800000001,朱口村,2027-01-25\r\n".encode()
    big = "姓名,联系电话,村,返乡日期\r\n".encode() + line * (21 * 1024 * 1024 // len(line) + 1)
    assert len(big) > 21 * 1024 * 1024
    response = client.post(reverse("imports:new"), {"kind": "residents", "file": SimpleUploadedFile("big.csv", big)})
    assert response.status_code == 200
    assert "The file is too large (21.0\xa0MB). The limit is 20.0\xa0MB" in response.content.decode()
    assert written() == (0, 0, 0)


@pytest.mark.parametrize("make", [encrypted_workbook, lambda: zeros_bomb(50)], ids=["password", "zip bomb"])
def test_the_web_upload_of_a_bad_workbook_shows_the_reason_and_writes_nothing(client, taikang, make):
    client.force_login(taikang.manager)
    response = client.post(reverse("imports:new"), {"kind": "residents",
                                                    "file": SimpleUploadedFile("返乡.xlsx", make())})
    job = ImportJob.objects.get()
    assert job.status == "rejected" and job.message
    page = client.get(response.url).content.decode()
    assert job.message in page and "Confirm the import" not in page
    assert not ReturningResident.objects.exists()
