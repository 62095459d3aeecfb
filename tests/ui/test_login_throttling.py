"""Login throttling: failed logins lock the username on that address, with a friendly page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

WRONG = {"username": "grid_manager", "password": "not-the-password"}
RIGHT = {"username": "grid_manager", "password": "correct-horse-battery-9"}


def fail(client, times, **extra):
    return [client.post(reverse("login"), WRONG, **extra) for _ in range(times)]


def test_a_few_wrong_passwords_only_show_the_form_again(client, grid_manager):
    responses = fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert all(response.status_code == 200 for response in responses)
    assert "form" in responses[-1].context
    assert client.post(reverse("login"), RIGHT).status_code == 302


def test_too_many_wrong_passwords_lock_the_username_on_that_address(client, grid_manager):
    responses = fail(client, settings.AXES_FAILURE_LIMIT)
    locked = responses[-1]
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "登录失败次数过多" in body
    assert "15 分钟" in body
    # Even the right password is refused while the lock lasts.
    again = client.post(reverse("login"), RIGHT)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_page_speaks_english_after_the_switch(client, grid_manager):
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    locked = fail(client, settings.AXES_FAILURE_LIMIT)[-1]
    body = locked.content.decode()
    assert locked.status_code == 429
    assert "Too many failed logins" in body
    assert "15 minutes" in body


def test_the_lock_is_per_username_and_address(client, grid_manager, station_staff):
    fail(client, settings.AXES_FAILURE_LIMIT)
    # Another user behind the same carrier address can still log in...
    other = client.post(reverse("login"), {"username": "station_staff", "password": "correct-horse-battery-9"})
    assert other.status_code == 302
    client.logout()
    # ...and so can the same user from another address.
    elsewhere = client.post(reverse("login"), RIGHT, REMOTE_ADDR="10.20.30.40")
    assert elsewhere.status_code == 302
