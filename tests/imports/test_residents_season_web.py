"""The season of a residents list on the web (`--season` of docs/import-formats.md): chosen on
the upload form (coming season by default, or last season), refused in Chinese when it is
neither, carried through the preview, the confirmation and the worker, shown on the job's page
and in the history. And after an import, a link to exactly the rows it wrote, within the
viewer's territory."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import ReturningResident
from tests.imports.conftest import csv_bytes
from zhoukou_grid.celery import app
from zhoukou_grid.core.importing.tasks import run_import_job
from zhoukou_grid.core.models import ImportJob

pytestmark = pytest.mark.django_db
HEADER = ["姓名", "联系电话", "村", "返乡日期", "返程日期"]
# The import day of the fixtures (2026-12-10) is in the 2027 season: the coming one; 2026 is the last.
THIS = csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", ""],
                  ["丙", "13800000003", "后常营村", "腊月二十", ""]])
LAST = csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", "正月初六"],
                  ["乙", "13800000002", "朱口村", "腊月二十", ""]])


def post_upload(client, data, *, season=None, name="list.csv"):
    form = {"kind": "residents", "file": SimpleUploadedFile(name, data), "skip_invalid": "on"}
    if season is not None:
        form["season"] = str(season)
    return client.post(reverse("imports:new"), form)


def job_of(response) -> ImportJob:
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportJob.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def queued(settings):
    """Redis configured, eager mode off and no worker: the test runs the task itself."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def manager(client, taikang, import_day, settings):
    settings.REDIS_URL = ""
    client.force_login(taikang.manager)
    return taikang.manager


def test_the_form_offers_the_coming_season_by_default_and_last_season(client, manager):
    page = client.get(reverse("imports:new")).content.decode()
    assert 'name="season"' in page
    assert '<option value="2027" selected>2027 (coming season)</option>' in page
    assert '<option value="2026">2026 (last season)</option>' in page


def test_another_season_is_refused_in_chinese_and_nothing_is_stored(client, manager, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = post_upload(client, LAST, season=2020)
    assert response.status_code == 200
    assert "请为名单选择本季或上一季春节。" in response.content.decode()
    assert not ImportJob.objects.exists() and not ReturningResident.objects.exists()


def test_last_season_chosen_on_the_web_is_kept_through_preview_and_confirm(client, manager):
    this = job_of(post_upload(client, THIS))  # no choice: the coming season
    assert this.season == 2027
    client.post(reverse("imports:preview", args=[this.pk]))
    last = job_of(post_upload(client, LAST, season=2026))
    assert (last.status, last.season, last.counts["new"], last.counts["updated"]) == ("previewed", 2026, 2, 0)
    page = client.get(reverse("imports:preview", args=[last.pk])).content.decode()
    assert "Season of the list 2026 (last season)" in page
    client.post(reverse("imports:preview", args=[last.pk]))
    last.refresh_from_db()
    assert last.status == "done"
    seasons = sorted(ReturningResident.objects.values_list("name", "season", "arrival_date"))
    assert seasons == [("丙", 2027, date(2027, 1, 27)), ("乙", 2026, date(2026, 2, 7)),
                       ("甲", 2026, date(2026, 2, 13)), ("甲", 2027, date(2027, 2, 2))]
    history = client.get(reverse("imports:history")).content.decode()
    assert "2026 (last season)" in history and "2027 (coming season)" in history


def test_the_season_travels_with_the_job_to_the_worker(client, taikang, import_day, queued,
                                                       django_capture_on_commit_callbacks):
    client.force_login(taikang.manager)
    with django_capture_on_commit_callbacks(execute=False):
        job = job_of(post_upload(client, LAST, season=2026))
    assert job.status == "queued" and job.season == 2026
    assert run_import_job(str(job.pk)) == "previewed"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("imports:preview", args=[job.pk]))
    assert len(callbacks) == 1
    assert run_import_job(str(job.pk)) == "done"
    assert dict(ReturningResident.objects.values_list("name", "season")) == {"甲": 2026, "乙": 2026}
    # Read against the 2026 New Year (2026-02-17): 腊月二十六 is 2026-02-13, not 2027-02-02.
    assert ReturningResident.objects.get(name="甲").arrival_date == date(2026, 2, 13)


def _listed(client, url) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {resident.name for resident in response.context["object_list"]}


def test_the_finished_import_links_to_exactly_the_rows_it_wrote(client, manager, taikang):
    first = job_of(post_upload(client, THIS))
    client.post(reverse("imports:preview", args=[first.pk]))
    again = csv_bytes([HEADER, ["甲", "13800000001", "朱口村", "腊月二十六", "正月初九"],  # updated
                       ["丙", "13800000003", "后常营村", "腊月二十", ""],  # unchanged: not written
                       ["丁", "13800000004", "朱口村", "腊月二十二", ""]])  # new
    second = job_of(post_upload(client, again))
    page = client.get(reverse("imports:preview", args=[second.pk])).content.decode()
    assert "data-import-rows" not in page  # previewed: nothing written yet
    client.post(reverse("imports:preview", args=[second.pk]))
    second.refresh_from_db()
    assert (second.counts["new"], second.counts["updated"], second.counts["unchanged"]) == (1, 1, 1)
    rows_url = f'{reverse("customers:resident_list")}?import_job={second.pk}&amp;season=all'
    page = client.get(reverse("imports:preview", args=[second.pk])).content.decode()
    assert f'href="{rows_url}"' in page
    assert f'href="{rows_url}"' in client.get(reverse("imports:history")).content.decode()
    url = rows_url.replace("&amp;", "&")
    assert _listed(client, url) == {"甲", "丁"}
    assert _listed(client, url.replace(str(second.pk), str(first.pk))) == {"丙"}
    # The list without the link shows every row of the season; a malformed id matches nothing.
    assert _listed(client, reverse("customers:resident_list")) == {"甲", "丙", "丁"}
    assert _listed(client, f'{reverse("customers:resident_list")}?import_job=nonsense') == set()
    # Someone outside the territory: no job page, and the same link lists nothing.
    client.force_login(taikang.other_manager)
    assert client.get(reverse("imports:preview", args=[second.pk])).status_code == 404
    assert _listed(client, url) == set()
    # The county admin sees the rows of the manager's job in their county (not the job itself).
    client.force_login(taikang.admin)
    assert _listed(client, url) == {"甲", "丁"}
    # The API filters the same way.
    client.force_login(taikang.manager)
    api = client.get(f"/api/v1/residents/?import_job={second.pk}").json()
    assert sorted(r["name"] for r in api["results"]) == ["丁", "甲"] and {r["season"] for r in api["results"]} == {2027}


# --- Households and key customers: the same link, by the job recorded on each row written ------

HOUSEHOLDS = ["户号", "户名", "村编码", "台区编号"]


def _import(kind, rows, user, *, xlsx=False):
    from tests.imports.conftest import xlsx_bytes
    from zhoukou_grid.core.importing.service import import_file
    from zhoukou_grid.core.importing.spec import get_kind

    data = xlsx_bytes(rows, text_columns=[0]) if xlsx else csv_bytes(rows)
    result = import_file(kind=get_kind(kind), data=data, file_name=f"{kind}.xlsx" if xlsx else f"{kind}.csv",
                         user=user)
    assert result.written, result.errors
    return ImportJob.objects.filter(kind=kind).order_by("-created_at").first()


def test_a_households_import_links_to_the_households_it_wrote(client, taikang, import_day):
    other = "4116270000003"
    _import("households", [HOUSEHOLDS, [other, "王五", "411627108203", "TK-TQ-0001"]], taikang.admin)
    job = _import("households", [HOUSEHOLDS, ["4116270000001", "董华（改）", "411627108201", "TK-TQ-0001"],
                                 ["4116270000009", "新户", "411627108202", "TK-TQ-0001"]], taikang.admin)
    assert (job.counts["new"], job.counts["updated"]) == (1, 1)
    client.force_login(taikang.admin)
    url = f'{reverse("customers:household_list")}?import_job={job.pk}'
    assert f'href="{url}"' in client.get(reverse("imports:preview", args=[job.pk])).content.decode()
    assert {h.account_no for h in client.get(url).context["object_list"]} == {"4116270000001", "4116270000009"}
    # A grid manager of another grid sees none of them (their territory holds only 4116270000003).
    client.force_login(taikang.other_manager)
    assert list(client.get(url).context["object_list"]) == []
    assert client.get(reverse("imports:preview", args=[job.pk])).status_code == 404


def test_a_key_customers_import_links_to_the_customers_it_wrote(client, taikang, import_day):
    header = ["户号", "客户名称", "类别", "网格编码"]
    _import("keycustomers", [header, ["4116279000001", "水厂", "water", "TK-WG-0201"]], taikang.admin, xlsx=True)
    job = _import("keycustomers", [header, ["4116279000002", "敬老院", "敬老院", "TK-WG-0201"]], taikang.admin,
                  xlsx=True)
    client.force_login(taikang.admin)
    url = f'{reverse("customers:keycustomer_list")}?import_job={job.pk}'
    assert f'href="{url}"' in client.get(reverse("imports:history")).content.decode()
    assert [c.name for c in client.get(url).context["object_list"]] == ["敬老院"]
