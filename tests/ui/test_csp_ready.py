"""Pages carry no inline script, style or event handler, so a strict CSP can be switched on."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script without src
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),  # onclick=, onload=, ...
    re.compile(r"javascript:", re.I),
]


def assert_no_inline_code(body: str, where: str):
    for pattern in INLINE:
        match = pattern.search(body)
        assert match is None, f"{where}: {match.group(0) if match else ''}"


def test_the_login_page_has_no_inline_code(client, world):
    assert_no_inline_code(client.get(reverse("login")).content.decode(), "login")


def test_portal_pages_have_no_inline_code_and_no_outside_assets(client, county_admin, world):
    client.force_login(county_admin)
    a1 = world.grids["a1"]
    urls = [
        reverse("home"), reverse("password_change"),
        reverse("portal:transformer_list"), reverse("portal:transformer_detail", args=[a1.transformer.pk]),
        reverse("portal:grid_detail", args=[a1.grid.pk]), reverse("customers:household_list"),
        reverse("customers:household_detail", args=[a1.households[0].pk]),
    ]
    for url in urls:
        body = client.get(url).content.decode()
        assert_no_inline_code(body, url)
        # Everything is vendored: no stylesheet, script or font from another host.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', body), url
