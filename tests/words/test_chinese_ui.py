"""Every page of every role, in Chinese, says nothing in English or in the code's own words
(`plan.printed`, `p_hh`, a section of the domain document, database ids...). The walk follows the links of
each demo role from its home page (on the demo data), a few pages per kind of address."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from zhoukou_grid.territory import demo

pytestmark = pytest.mark.django_db

# Latin-letter tokens a Chinese page may show: units, file formats, brand and standard names.
ALLOWED = {
    "kW", "kVA", "kWh", "MW", "MWh", "kV", "V", "A", "km", "m", "h", "min", "mm", "XLSX", "XLS", "CSV", "PDF",
    "Excel", "WPS", "API", "QR", "ID", "A4", "LV", "SMS", "WeChat", "App", "IP", "PNG", "JPG", "JPEG", "HEIC",
    "MB", "KB", "GB", "x", "pp", "P", "UTC", "No", "W", "cos", "Pk", "P0",
    # Phases of a line, and the language switch's own name for English.
    "ABC", "B", "C", "English",
    # The check character of an ID number (4116…352X), masked or not.
    "X",
}
# A code (county, station, grid, transformer, line, account) is letters and digits with dashes.
CODE = re.compile(r"^(?=.*\d)[A-Za-z0-9]+(?:[-_/][A-Za-z0-9]+)+$|^[A-Z]{1,4}\d+$|^\d+[A-Za-z]{1,3}$")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]*[A-Za-z0-9]|[A-Za-z]")
# Scripts, and data marked as not for translation (login names, file names: `translate="no"`).
DROP = re.compile(r"<(script|style|svg)\b.*?</\1>|<!--.*?-->|<(span|code|td)\b[^>]*translate=\"no\"[^>]*>.*?</\2>",
                  re.S | re.I)
TAG = re.compile(r"<[^>]+>")
ATTRS = re.compile(r'\s(?:title|placeholder|aria-label|alt)="([^"]*)"')
LINK = re.compile(r'href="(/[^"#]*)"')
# The Django admin's own pages (beyond its index) are Django's; the portal's pages are walked.
SKIP = re.compile(r"^/(static|media|admin/.|api/|accounts/logout|imports/template|imports/export|"
                  r"audit/export|.*export|.*\.(xlsx|csv|pdf|png|jpg)$)")
PER_SHAPE = 2
LIMIT = 400


def words_on(page: str) -> list[str]:
    body = DROP.sub(" ", page)
    texts = [TAG.sub(" ", body), *ATTRS.findall(body)]
    found = []
    for text in texts:
        for word in WORD.findall(html.unescape(text)):
            if word in ALLOWED or CODE.match(word) or word.rstrip(".") in ALLOWED:
                continue
            found.append(word)
    return found


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", urlsplit(path).path) + ("?" + re.sub(r"=[^&]*", "", urlsplit(path).query)
                                                      if urlsplit(path).query else "")


def walk(client: Client, *, limit: int = LIMIT, per_shape: int = PER_SHAPE) -> dict[str, list[str]]:
    """The pages reached from home (a few per kind of address), with their offending words."""
    pages: dict[str, list[str]] = {}
    _walk(client, limit, per_shape, pages)
    return {path: words for path, words in pages.items() if words}


def walk_paths(client: Client, *, limit: int = LIMIT, per_shape: int = 1) -> list[str]:
    """The HTML pages a role reaches from home, one per kind of address."""
    pages: dict[str, list[str]] = {}
    _walk(client, limit, per_shape, pages)
    return list(pages)


def _walk(client: Client, limit: int, per_shape: int, pages: dict[str, list[str]]) -> None:
    seen, shapes, queue = set(), Counter(), ["/"]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or SKIP.match(path):
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = response.content.decode()
        pages[path] = sorted(set(words_on(page)))
        for link in LINK.findall(page):
            link = html.unescape(link)
            if link not in seen and shapes[shape(link)] < per_shape:
                shapes[shape(link)] += 1
                queue.append(link)


@pytest.fixture
def demo_data(settings):
    call_command("seed_demo", "--scale", "demo", stdout=io.StringIO())
    # The audit log holds rows of the kinds people read there (actions, objects, details).
    from django.contrib.auth import get_user_model

    from zhoukou_grid.core.audit import audit_record

    for username in ("county_admin", "station_staff", "grid_manager"):
        user = get_user_model().objects.get(username=username)
        audit_record(user=user, action="plan.printed", object_type="serviceplan", object_id=1,
                     detail={"customer": 1, "personal_data": True})
        audit_record(user=user, action="visitlog.submitted", object_type="visits.visitlog", object_id=1,
                     detail={"visit": 1, "hazards": 1})
        audit_record(user=user, action="resident.revealed", object_type="customers.returningresident", object_id=1,
                     detail={"field": "phone"})


@pytest.mark.parametrize("username", [spec.username for spec in demo.DEMO_USERS])
def test_every_page_of_the_role_is_in_chinese(demo_data, username):
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    offenders = walk(client)
    assert not offenders, "\n".join(f"{path}: {' '.join(words)}" for path, words in sorted(offenders.items()))


def test_the_check_finds_english_and_internal_words():
    page = '<p title="Show">周口 plan.printed 电量 12 kW · TK-WG-0201 p_hh docs/domain.md 6.5</p><script>var x="Hi"</script>'
    assert words_on(page) == ["plan.printed", "p_hh", "docs/domain.md", "Show"]


def test_the_audit_log_reads_in_words():
    from django.utils import translation

    from zhoukou_grid.core.audit_labels import action_label, detail_text, object_type_label

    with translation.override("zh-hans"):
        assert action_label("plan.printed") == "服务方案打印"
        assert words_on(action_label("visitlog.submitted")) == []
        assert object_type_label("customers.returningresident") == "返乡人员"
        assert words_on(detail_text({"personal_data": True, "field": "phone", "grids": [1, 2]})) == []
