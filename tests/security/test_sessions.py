"""Session limits and logout everywhere: idle and absolute limits, logout by POST from
every page, "sign out on all devices" (self and admin), password change ends the others."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from zhoukou_grid.core.models import AuditLog, LoginSession
from zhoukou_grid.core.security import LOGIN_AT, SEEN_AT

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def logged_in(user) -> Client:
    client = Client()
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def age_session(client, **seconds_ago):
    """Move the session's clocks back: login_at / seen_at that many seconds ago."""
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"login_at": LOGIN_AT, "seen_at": SEEN_AT}[key]] = now - ago
    session.save()


def is_logged_in(client) -> bool:
    response = client.get(reverse("home"))
    return response.status_code == 200


# --- Idle and absolute limits ---------------------------------------------------------------
def test_an_office_session_ends_after_the_idle_limit(station_staff):
    client = logged_in(station_staff)
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT - 60)
    assert is_logged_in(client)  # within the limit: still in, and the clock restarts
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT + 60)
    response = client.get(reverse("portal:grid_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    # The login page says why, in the portal's default language.
    assert "由于长时间未操作，您已退出登录" in client.get(response["Location"]).content.decode()


def test_a_field_session_survives_longer_idle_periods(grid_manager):
    assert settings.SESSION_IDLE_TIMEOUT_FIELD > settings.SESSION_IDLE_TIMEOUT
    client = logged_in(grid_manager)
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT + 60)
    assert is_logged_in(client)  # a grid manager in a household for 31 minutes keeps the session
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT_FIELD + 60)
    assert not is_logged_in(client)


def test_an_active_session_still_ends_at_the_absolute_limit(county_admin):
    client = logged_in(county_admin)
    age_session(client, login_at=settings.SESSION_ABSOLUTE_TIMEOUT - 60, seen_at=10)
    assert is_logged_in(client)
    age_session(client, login_at=settings.SESSION_ABSOLUTE_TIMEOUT + 60, seen_at=10)
    assert not is_logged_in(client)


def test_an_expired_session_gets_no_api_answer_either(grid_manager):
    client = logged_in(grid_manager)
    assert client.get("/api/v1/grids/").status_code == 200
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT_FIELD + 60)
    assert client.get("/api/v1/grids/").status_code in (401, 403)


def test_the_limits_are_configurable_from_the_environment():
    import os
    import subprocess
    import sys

    env = {**os.environ, "SESSION_IDLE_TIMEOUT": "600", "SESSION_IDLE_TIMEOUT_FIELD": "3600",
           "SESSION_ABSOLUTE_TIMEOUT": "7200", "DEBUG": "1"}
    code = ("import django,os;os.environ['DJANGO_SETTINGS_MODULE']='zhoukou_grid.settings';django.setup();"
            "from django.conf import settings as s;"
            "print(s.SESSION_IDLE_TIMEOUT, s.SESSION_IDLE_TIMEOUT_FIELD, s.SESSION_ABSOLUTE_TIMEOUT, s.SESSION_COOKIE_AGE)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=settings.BASE_DIR, check=True).stdout.split()
    assert out == ["600", "3600", "7200", "7200"]


# --- Logout ------------------------------------------------------------------------------------
PAGES = ["home", "portal:grid_list", "customers:household_list", "password_change", "visits:calendar",
         "loadforecast:alert_list"]


@pytest.mark.parametrize("user_attr", ["grid_manager", "station_staff", "county_admin", "company_admin"])
def test_logout_is_on_every_page_as_a_post_form(personas, user_attr):
    client = Client()
    client.force_login(getattr(personas, user_attr))
    for name in PAGES:
        response = client.get(reverse(name))
        if response.status_code == 403:  # a page the role may not open
            continue
        body = response.content.decode()
        assert f'<form method="post" action="{reverse("logout")}"' in body, name
        assert f'action="{reverse("sign_out_everywhere")}"' in body, name
        assert "csrfmiddlewaretoken" in body, name


def test_logout_kills_the_session_and_refuses_a_get(grid_manager):
    client = logged_in(grid_manager)
    key = client.session.session_key
    assert client.get(reverse("logout")).status_code == 405  # a link or an image cannot log anyone out
    assert is_logged_in(client)
    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert not LoginSession.objects.filter(session_key=key).exists()
    # The old cookie is worth nothing afterwards.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert not is_logged_in(replay)


# --- Sign out on all devices --------------------------------------------------------------------
def test_sign_out_everywhere_ends_every_session_and_the_api_token(grid_manager, station_staff):
    phone, desktop = logged_in(grid_manager), logged_in(grid_manager)
    someone_else = logged_in(station_staff)
    token = Token.objects.create(user=grid_manager)
    assert LoginSession.objects.filter(user=grid_manager).count() == 2
    response = desktop.post(reverse("sign_out_everywhere"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert not is_logged_in(phone) and not is_logged_in(desktop)
    assert is_logged_in(someone_else)
    assert not Token.objects.filter(pk=token.pk).exists()
    api = Client().get("/api/v1/grids/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.status_code == 401
    row = AuditLog.objects.get(action="sessions.ended")
    assert row.user == grid_manager and row.detail == {"sessions": 2, "tokens": 1, "reason": "sign_out_everywhere"}


def test_sign_out_everywhere_needs_a_post_with_csrf(grid_manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(grid_manager)
    assert client.get(reverse("sign_out_everywhere")).status_code == 405
    assert client.post(reverse("sign_out_everywhere")).status_code == 403
    assert is_logged_in(client)


def test_an_admin_signs_out_a_user_whose_phone_was_lost(company_admin, grid_manager):
    phone = logged_in(grid_manager)
    Token.objects.create(user=grid_manager)
    admin = Client()
    admin.force_login(company_admin)
    response = admin.post(reverse("admin:auth_user_changelist"),
                          {"action": "sign_out_everywhere", "_selected_action": [grid_manager.pk]})
    assert response.status_code == 302
    assert not is_logged_in(phone)
    assert not Token.objects.filter(user=grid_manager).exists()
    assert is_logged_in(admin)
    row = AuditLog.objects.get(action="sessions.ended")
    assert row.user == company_admin and row.object_id == str(grid_manager.pk)
    assert row.detail["reason"] == "admin_sign_out"


def test_changing_the_password_ends_the_other_sessions_and_the_token(grid_manager):
    phone, desktop = logged_in(grid_manager), logged_in(grid_manager)
    Token.objects.create(user=grid_manager)
    response = desktop.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "河南周口-供电-2027", "new_password2": "河南周口-供电-2027"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert is_logged_in(desktop)  # the session that changed it stays
    assert not is_logged_in(phone)
    assert not Token.objects.filter(user=grid_manager).exists()
    assert LoginSession.objects.filter(user=grid_manager).count() == 1


def test_the_nightly_purge_removes_expired_sessions_and_old_login_records(grid_manager, station_staff):
    from datetime import timedelta

    from django.utils import timezone

    from zhoukou_grid.celery import app
    from zhoukou_grid.core.tasks import purge_stale_sessions

    old, fresh = logged_in(grid_manager), logged_in(station_staff)
    old_key = old.session.session_key
    LoginSession.objects.filter(session_key=old_key).update(
        created_at=timezone.now() - timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT + 60))
    Session.objects.filter(session_key=old_key).update(expire_date=timezone.now() - timedelta(minutes=1))
    assert purge_stale_sessions() == 1
    assert not Session.objects.filter(session_key=old_key).exists()
    assert list(LoginSession.objects.values_list("user__username", flat=True)) == ["station_staff"]
    assert is_logged_in(fresh)
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "zhoukou_grid.core.tasks.purge_stale_sessions" in schedule


def test_an_admin_setting_a_new_password_ends_the_users_sessions_and_token(company_admin, grid_manager):
    phone = logged_in(grid_manager)
    Token.objects.create(user=grid_manager)
    admin = Client()
    admin.force_login(company_admin)
    response = admin.post(reverse("admin:auth_user_password_change", args=[grid_manager.pk]),
                          {"password1": "河南周口-新密码-2027", "password2": "河南周口-新密码-2027"})
    assert response.status_code == 302
    assert not is_logged_in(phone)
    assert not Token.objects.filter(user=grid_manager).exists()
    assert is_logged_in(admin)
    assert AuditLog.objects.get(action="sessions.ended").detail["reason"] == "password_set_by_admin"


def test_health_checks_and_static_files_never_read_the_session(grid_manager):
    """/healthz must answer 503 (not 500) with the database down: the session limits skip it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(grid_manager)
    for url in ("/healthz", "/static/css/portal.css"):
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        assert not [q for q in queries.captured_queries if "django_session" in q["sql"]], url
