"""import_data / export_data exactly as docs/import-formats.md: exit codes, counts, --json,
--as, --errors-out, round trip, formula escaping, the shared sample files."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from python_calamine import CalamineWorkbook

from customers.models import Household
from tests.imports.conftest import csv_bytes, xlsx_bytes
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import County, Grid, Station, Transformer, Village

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
VILLAGE_HEADER = ["网格编码", "村编码", "村名称"]


def command(name, *args):
    """(exit code, stdout, stderr) of a management command run in-process."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_valid_file_exits_0_and_writes(tmp_path, county_admin):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]]))
    code, out, _err = command("import_data", "villages", path, "--as", "county_admin")
    assert code == 0
    assert "1 new, 0 updated, 0 unchanged, 0 rejected" in out
    assert Village.objects.filter(code="411601000001").exists()


def test_rejected_rows_exit_1_and_write_nothing(tmp_path, county_admin):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"],
                                                  ["YI-WG-01", "411601000002", "越界村"]]))
    code, out, _err = command("import_data", "villages", path, "--as", "county_admin")
    assert code == 1
    assert "row 3, column 网格编码" in out
    assert not Village.objects.filter(code__startswith="411601").exists()


def test_json_prints_one_object_with_counts_and_errors(tmp_path, county_admin):
    path = write(tmp_path, "v.csv", csv_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"],
                                                ["NOPE", "411601000002", "二村"]], encoding="gbk"))
    code, out, _err = command("import_data", "villages", path, "--as", "county_admin", "--json", "--dry-run")
    summary = json.loads(out)
    assert code == 1
    assert {k: summary[k] for k in ("new", "updated", "unchanged", "rejected", "dry_run", "written")} == {
        "new": 1, "updated": 0, "unchanged": 0, "rejected": 1, "dry_run": True, "written": False}
    assert summary["errors"] == [{"row": 3, "column": "网格编码", "value": "NOPE",
                                  "message": summary["errors"][0]["message"]}]
    assert summary["errors"][0]["message"].startswith("Unknown grid code")


def test_dry_run_of_a_valid_file_exits_0_and_writes_nothing(tmp_path, county_admin):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]]))
    audits = AuditLog.objects.count()
    code, out, _err = command("import_data", "villages", path, "--dry-run", "--as", "county_admin")
    assert code == 0 and "dry run" in out
    assert not Village.objects.filter(code="411601000001").exists()
    assert AuditLog.objects.count() == audits


def test_skip_invalid_writes_the_valid_rows_and_the_errors_file_lists_the_rejected(tmp_path, county_admin):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([["村庄表"], VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"],
                                                  ["YI-WG-01", "411601000002", "越界村"]]))
    errors_out = tmp_path / "errors.xlsx"
    code, _out, _err = command("import_data", "villages", path, "--skip-invalid", "--errors-out", str(errors_out),
                               "--as", "county_admin")
    assert code == 1
    assert Village.objects.filter(code="411601000001").exists()
    assert not Village.objects.filter(code="411601000002").exists()
    rows = CalamineWorkbook.from_path(str(errors_out)).get_sheet_by_index(0).to_python()
    assert rows[0] == ["Error", "Row in the file", *VILLAGE_HEADER]
    assert len(rows) == 2
    assert rows[1][0].startswith("Unknown grid code")
    assert rows[1][1:] == [4.0, "YI-WG-01", "411601000002", "越界村"]


@pytest.mark.parametrize("args, message", [
    (["nosuchkind", "x.csv"], "Unknown kind of data"),
    (["villages", "/nonexistent/file.xlsx"], "Cannot read the file"),
    (["villages", "FILE", "--as", "ghost"], "Unknown user: ghost"),
    (["villages", "FILE", "--as", "grid_manager"], "may not import"),
])
def test_unusable_arguments_exit_2_with_a_message_on_stderr(tmp_path, grid_manager, args, message):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]]))
    code, _out, err = command("import_data", *[path if a == "FILE" else a for a in args])
    assert code == 2
    assert message in err
    assert not Village.objects.filter(code="411601000001").exists()


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a spreadsheet"),
    (b"", "empty"),
    (xlsx_bytes([["a", "b"], [1, 2]]), "No header row found"),
    (xlsx_bytes([["网格编码", "村名称"], ["JA-WG-01", "x"]]), "The required column 村编码 is missing"),
])
def test_an_unusable_file_exits_2_and_json_says_why(tmp_path, company_admin, data, message):
    path = write(tmp_path, "upload.xlsx", data)
    code, out, err = command("import_data", "villages", path, "--json")
    assert code == 2
    assert message in err
    assert message in json.loads(out)["message"]


def test_the_command_runs_as_a_real_process_with_its_exit_code(tmp_path):
    path = write(tmp_path, "photo.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    env = {**os.environ, "ZG_TESTING": "1", "DATABASE_URL": "sqlite:///" + str(tmp_path / "db.sqlite3")}
    process = subprocess.run([sys.executable, "manage.py", "import_data", "villages", path],
                             cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert process.stderr.startswith("photo.xlsx: ")  # the message follows, in the portal's language


def test_the_shared_samples_import_cleanly_in_order(company_admin):
    for kind in ("stations", "grids", "villages"):
        code, out, err = command("import_data", kind, str(SAMPLES / f"{kind}.csv"), "--json")
        summary = json.loads(out)
        assert code == 0, (kind, summary, err)
        assert summary["rejected"] == 0 and summary["new"] > 0
    assert County.objects.get(code="411627").name == "太康县"
    assert Station.objects.get(code="TK-GDS-02").county.code == "411627"
    assert Grid.objects.get(code="TK-WG-0201").station.code == "TK-GDS-02"
    assert set(Village.objects.filter(grid__code="TK-WG-0201").values_list("name", flat=True)) == {"朱口村", "后常营村"}


def test_a_county_admin_cannot_create_counties_through_stations(tmp_path, county_admin):
    code, out, _err = command("import_data", "stations", str(SAMPLES / "stations.csv"), "--as", "county_admin", "--json")
    assert code == 1
    assert json.loads(out)["errors"][0]["column"] == "县区编码"
    assert not County.objects.filter(code="411627").exists()


@pytest.mark.parametrize("kind", ["stations", "grids", "villages", "transformers", "lvlines", "households"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(tmp_path, county_admin, world, kind, fmt):
    a1 = world.grids["a1"]
    Transformer.objects.get(pk=a1.transformer.pk).ties.add(world.grids["a2"].transformer)
    Household.objects.filter(pk=a1.households[0].pk).update(phase="ABC", address="=1+1 一组", name="-张")
    out = tmp_path / f"{kind}.{fmt}"
    code, _out, _err = command("export_data", kind, "--format", fmt, "--out", str(out), "--as", "county_admin")
    assert code == 0
    code, stdout, _err = command("import_data", kind, str(out), "--as", "county_admin", "--json")
    summary = json.loads(stdout)
    assert code == 0, summary["errors"]
    assert summary["unchanged"] > 0
    assert (summary["new"], summary["updated"], summary["rejected"]) == (0, 0, 0)


def test_exports_are_scoped_to_the_user(county_admin, world):
    code, out, _err = command("export_data", "villages", "--as", "county_admin")
    codes = {row[1] for row in csv.reader(io.StringIO(out.lstrip("\ufeff")))}
    assert world.grids["a1"].village.code in codes
    assert world.grids["b1"].village.code not in codes
    assert AuditLog.objects.filter(action="export", user=county_admin, detail__kind="villages").exists()


def test_csv_exports_start_with_a_bom_and_neutralise_formulas(tmp_path, county_admin, world):
    household = world.grids["a1"].households[0]
    Household.objects.filter(pk=household.pk).update(
        name="=HYPERLINK(\"http://x\")", address="+86 街道")
    out = tmp_path / "h.csv"
    command("export_data", "households", "--out", str(out), "--as", "county_admin")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    row = next(r for r in rows if r[0] == household.account_no)
    assert row[1] == "'=HYPERLINK(\"http://x\")"
    assert row[7] == "'+86 街道"


def test_xlsx_exports_neutralise_formulas_too(tmp_path, county_admin, world):
    for index, prefix in enumerate(["=", "+", "-", "@", "\t"]):
        Household.objects.filter(pk=world.grids["a1"].households[index % 2].pk).update(address=f"{prefix}cmd")
        out = tmp_path / f"h{index}.xlsx"
        command("export_data", "households", "--format", "xlsx", "--out", str(out), "--as", "county_admin")
        rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
        assert f"'{prefix}cmd" in [r[7] for r in rows]


def test_an_xlsx_export_needs_out_and_an_unknown_kind_exits_2(county_admin):
    assert command("export_data", "households", "--format", "xlsx")[0] == 2
    code, _out, err = command("export_data", "nosuchkind")
    assert code == 2 and "Unknown kind" in err


def test_a_county_name_that_does_not_match_its_code_is_rejected(tmp_path, company_admin, world):
    path = write(tmp_path, "s.xlsx", xlsx_bytes([["县区编码", "县区名称", "供电所编码", "供电所名称"],
                                                  ["411601", "周口乙县", "JA-GDS-09", "甲九所"]]))
    code, out, _err = command("import_data", "stations", path, "--json")
    error = json.loads(out)["errors"][0]
    assert code == 1
    assert (error["row"], error["column"], error["value"]) == (2, "县区名称", "周口乙县")
    assert "周口甲县" in error["message"]
    assert not Station.objects.filter(code="JA-GDS-09").exists()


def test_the_errors_file_is_written_even_without_rejected_rows(tmp_path, county_admin):
    path = write(tmp_path, "v.xlsx", xlsx_bytes([VILLAGE_HEADER, ["JA-WG-01", "411601000001", "新一村"]]))
    errors_out = tmp_path / "errors.xlsx"
    errors_out.write_bytes(b"stale")
    code, _out, _err = command("import_data", "villages", path, "--errors-out", str(errors_out), "--as", "county_admin")
    assert code == 0
    rows = CalamineWorkbook.from_path(str(errors_out)).get_sheet_by_index(0).to_python()
    assert rows == [["Error", "Row in the file", *VILLAGE_HEADER]]
