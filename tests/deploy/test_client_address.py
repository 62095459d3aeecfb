"""Behind nginx every request reaches gunicorn from 127.0.0.1: login throttling must still
count per real client (the address nginx puts in X-Forwarded-For), and nobody else may
choose the address with that header."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from zhoukou_grid.core.proxy import client_ip

WRONG = {"username": "grid_manager", "password": "not-the-password"}
RIGHT = {"username": "grid_manager", "password": "correct-horse-battery-9"}


@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("127.0.0.1", "10.1.2.3", "10.1.2.3"),           # from nginx on this host
    ("::1", "10.1.2.3", "10.1.2.3"),
    ("127.0.0.1", "6.6.6.6, 10.1.2.3", "10.1.2.3"),  # only the entry the nearest proxy added
    ("10.9.9.9", "10.1.2.3", "10.9.9.9"),           # not from this host: the header is ignored
    ("127.0.0.1", "not-an-address", "127.0.0.1"),
    ("127.0.0.1", "", "127.0.0.1"),
])
def test_the_client_address(remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_behind_nginx_a_lock_holds_one_client_not_everyone(client, grid_manager):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked = client.post(reverse("login"), WRONG, HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert locked.status_code == 429
    assert client.post(reverse("login"), RIGHT, HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 429
    # The same user on another phone, through the same nginx, still gets in.
    assert client.post(reverse("login"), RIGHT, HTTP_X_FORWARDED_FOR="10.0.0.2").status_code == 302


def test_a_client_elsewhere_cannot_escape_the_lock_with_the_header(client, grid_manager):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), WRONG, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="10.0.0.3")
    again = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="10.0.0.4")
    assert again.status_code == 429
