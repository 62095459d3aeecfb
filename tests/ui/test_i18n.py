"""The portal speaks Simplified Chinese by default and English after the switch."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db


def switch_to(client, language):
    response = client.post(reverse("set_language"), {"language": language, "next": reverse("home")})
    assert response.status_code == 302


def test_the_login_page_is_chinese_even_for_an_english_browser(client, world):
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in body
    assert "周口网格供电服务平台" in body and "登录" in body
    assert "Log in" not in body and "Password" not in body


def test_home_and_lists_are_chinese_by_default(client, grid_manager, station_staff):
    # Station staff's home shows the territory's counts (a grid manager's shows the day's work).
    client.force_login(station_staff)
    home = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    for chinese in ["首页", "供电所", "网格", "台区", "低压线路", "用户", "额定容量", "网格经理"]:
        assert chinese in home, chinese
    for english in ["Transformers", "Households", "Stations", "LV lines", "Log out", "Grid manager"]:
        assert english not in home, english

    client.force_login(grid_manager)
    listing = client.get(reverse("portal:transformer_list")).content.decode()
    for chinese in ["台区编号", "额定容量", "搜索", "筛选"]:
        assert chinese in listing, chinese
    for english in ["Transformer code", "Search", "Filters", "Sort by", "Rated capacity", "Export"]:
        assert english not in listing, english


def test_the_switch_turns_the_portal_english_and_back(client, grid_manager):
    client.force_login(grid_manager)
    switch_to(client, "en")
    home = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in home
    assert "Transformers" in home and "Households" in home and "Log out" in home
    # Place names stay Chinese (they are data); the labels must not.
    for chinese in ["首页", "额定容量", "退出登录", "网格经理"]:
        assert chinese not in home, chinese
    switch_to(client, "zh-hans")
    assert "退出登录" in client.get(reverse("home")).content.decode()


def test_django_filter_speaks_chinese_too():
    # django-filter ships zh_CN only; its catalog is copied in as zh_Hans.
    # A variable, so makemessages does not copy the msgid into the project's own catalog.
    message = "Range query expects two values."
    with translation.override("zh-hans"):
        assert translation.gettext(message) == "范围查询需要两个值。"


def _po_entries(text: str):
    """(msgid, msgstr) of every live entry of a .po file (plural entries: the first form;
    an entry with a context is keyed as the .mo keys it)."""

    def unquote(chunk: str) -> str:
        joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', chunk))
        return re.sub(r"\\(.)", lambda match: {"n": "\n", "t": "\t"}.get(match.group(1), match.group(1)), joined)

    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        body = "\n".join(lines)
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', body, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', body, re.M)
        context = re.search(r'^msgctxt ((?:".*"\n?)+)', body, re.M)
        if msgid and msgstr:
            key = unquote(msgid.group(1))
            if context:
                # A .mo keys a message with a context as "context\x04msgid".
                key = f"{unquote(context.group(1))}\x04{key}"
            yield key, unquote(msgstr.group(1)), "msgid_plural" in body


def test_the_committed_catalog_is_complete_and_compiled():
    po = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    entries = [entry for entry in _po_entries(text) if entry[0]]
    assert len(entries) > 300
    untranslated = [msgid for msgid, msgstr, _plural in entries if not msgstr]
    assert not untranslated, untranslated[:5]
    # The committed .mo holds exactly these translations (a machine without gettext runs).
    with po.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        msgid for msgid, msgstr, plural in entries
        if (compiled.ngettext(msgid, msgid + "s", 1) if plural else compiled.gettext(msgid)) != msgstr
    ]
    assert not stale, stale[:5]


def test_the_chosen_language_is_remembered_beyond_the_session(client, world):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en"
    assert int(cookie["max-age"]) >= 30 * 24 * 60 * 60


def test_strings_marked_with_the_lazy_alias_are_translated_too(client, county_admin):
    # import_views.py marks its form labels with `_lazy(...)`; the project's makemessages
    # extracts that alias, so the upload form is Chinese as well.
    client.force_login(county_admin)
    body = client.get(reverse("imports:new")).content.decode()
    assert "数据类型" in body and "只导入有效的行" in body
    assert "Kind of data" not in body and "Import valid rows only" not in body
