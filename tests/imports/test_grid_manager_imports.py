"""A grid manager's residents import: found from the residents list, the valid rows imported
straight from the preview, no misleading hint when every row is rejected, errors as cards,
a link to the residents afterwards, and people's names (not logins) on the pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import ReturningResident
from tests.imports.residents_world import HOUCHANGYING_CSV
from tests.imports.test_residents_jobs import upload
from zhoukou_grid.core.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, taikang, import_day, settings):
    settings.REDIS_URL = ""
    taikang.manager.first_name, taikang.manager.last_name = "伟", "张"
    taikang.manager.save()
    client.force_login(taikang.manager)
    return taikang.manager


def test_the_residents_list_of_a_grid_manager_leads_to_the_upload(client, manager):
    page = client.get(reverse("customers:resident_list")).content.decode()
    assert f'href="{reverse("imports:new")}?kind=residents"' in page


def test_the_valid_rows_are_imported_from_the_preview_without_uploading_again(client, manager):
    job, url = upload(client, HOUCHANGYING_CSV.read_bytes(), skip_invalid=False)
    assert (job.status, job.counts["new"], job.counts["rejected"]) == ("previewed", 11, 1)
    page = client.get(url).content.decode()
    assert "Import the 11 valid rows" in page and 'name="valid_rows_only"' in page
    client.post(url, {"valid_rows_only": "1"})
    job.refresh_from_db()
    assert job.status == "done" and job.skip_invalid and ReturningResident.objects.count() == 11
    done = client.get(url).content.decode()
    assert f'href="{reverse("customers:resident_list")}"' in done


def test_without_the_button_a_preview_with_rejected_rows_is_not_confirmed(client, manager):
    job, url = upload(client, HOUCHANGYING_CSV.read_bytes(), skip_invalid=False)
    client.post(url)
    job.refresh_from_db()
    assert job.status == "previewed" and not ReturningResident.objects.exists()


def test_with_every_row_rejected_the_page_does_not_suggest_valid_rows_only(client, manager):
    data = "姓名,身份证号,联系电话,村,返乡日期\r\n张三,123,1,不存在村,2027-01-20\r\n".encode("utf-8-sig")
    job, url = upload(client, data, skip_invalid=False)
    assert job.counts["rejected"] >= 1 and job.counts.get("new", 0) == 0
    page = client.get(url).content.decode()
    assert "Import valid rows only" not in page and "valid_rows_only" not in page
    assert "Every row was rejected" in page
    # Errors are a card per row on phones: each cell carries its label.
    assert page.count('class="import-error-card"') == len(job.errors) >= 1


def test_import_pages_show_the_persons_name_not_the_login(client, manager):
    job, url = upload(client, HOUCHANGYING_CSV.read_bytes())
    for page in (client.get(url).content.decode(), client.get(reverse("imports:history")).content.decode()):
        assert "张伟" in page and "zhukou_manager" not in page
    assert ImportJob.objects.count() == 1
