"""Security baseline: login everywhere, CSRF, deploy checks, no start without a secret."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

BASE_DIR = Path(settings.BASE_DIR)
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
# Answer without a login, by design. Everything else must send an anonymous visitor to a login page.
PUBLIC = {
    "login",  # the login page itself
    "admin:login",
    "healthz",  # load balancers and monitoring
    "set_language",  # /i18n/: switching the language on the login page
    "webapp_manifest",  # browsers fetch the web app manifest without cookies
    "visits:field_sw",  # the service worker: a static file, checked for updates after a session ends
    # The service card's QR code opens these for anyone holding a card (docs/security.md, 2b;
    # tests/security/test_card_holder.py).
    "card:public",
    "card:received",
    "card:status",
}
# The API authenticates itself and answers 401/403 JSON instead of redirecting (tests/api).
API_PREFIX = "api/"


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace, entry


def _sample_url(route: str, values: tuple[str, ...]) -> str:
    """The route with every parameter replaced by a sample value, as a path."""
    value = iter(values)

    def converter(match):
        kind = match.group(1) or "str"
        if kind == "int":
            return "1"
        if kind == "uuid":
            return "00000000-0000-4000-8000-000000000001"  # fixed: xdist workers must collect the same ids
        return next(value, "x")

    # Regex groups: their first plain alternative, e.g. (?P<app_label>auth|customers), else a sample.
    url = re.sub(r"\(\?P<\w+>([\w-]+)[^)]*\)", lambda m: m.group(1), route)
    url = re.sub(r"\(\?P<\w+>[^)]*\)", lambda m: next(value, "x"), url)
    url = re.sub(r"<(?:(\w+):)?\w+>", converter, url)
    return "/" + url.replace("^", "").replace("$", "")


def html_routes():
    """(name, url, route) of every HTML route: the resolver walked, parameters filled with samples."""
    routes = []
    for route, namespace, entry in _walk(get_resolver().url_patterns):
        if route.startswith(API_PREFIX):
            continue
        name = (f"{namespace}:{entry.name}" if namespace else entry.name) if entry.name else route
        url = None
        for values in (("x",) * 5, ("1",) * 5):
            candidate = _sample_url(route, values)
            try:
                if resolve(candidate).func is entry.callback:
                    url = candidate
                    break
            except Resolver404:
                continue
        routes.append((name, url, route))
    return routes


HTML_ROUTES = html_routes()


def test_the_walk_finds_the_portal_pages():
    names = {name for name, url, _ in HTML_ROUTES if url}
    assert {"home", "login", "portal:grid_list", "portal:grid_detail", "customers:household_detail",
            "admin:index", "healthz"} <= names
    unreachable = [(name, route) for name, url, route in HTML_ROUTES if url is None]
    assert not unreachable, f"routes the test cannot build a URL for: {unreachable}"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url"), [(name, url) for name, url, _ in HTML_ROUTES if name not in PUBLIC],
                         ids=lambda value: str(value))
def test_every_page_sends_an_anonymous_visitor_to_the_login(name, url):
    response = Client().get(url)
    assert response.status_code == 302, f"{url} ({name}) answered {response.status_code} without a login"
    location = response["Location"]
    assert location.startswith(LOGIN_PAGES), f"{url} redirects to {location}, not to a login page"
    assert url_has_allowed_host_and_scheme(location, allowed_hosts=None)  # a local redirect


@pytest.mark.django_db
def test_the_public_pages_are_public(world):
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("admin:login")).status_code == 200
    assert client.get(reverse("healthz")).status_code in (200, 503)
    assert {name for name, _, _ in HTML_ROUTES} >= PUBLIC


@pytest.mark.django_db
def test_csrf_is_enforced_on_posts(personas):
    client = Client(enforce_csrf_checks=True)
    # The login form itself: no token, no login.
    response = client.post(reverse("login"), {"username": "grid_manager", "password": "correct-horse-battery-9"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    client.force_login(personas.county_admin)
    assert client.post(reverse("logout")).status_code == 403
    assert "_auth_user_id" in client.session  # still logged in
    response = client.post(reverse("password_change"), {
        "old_password": "correct-horse-battery-9", "new_password1": "a-new-long-pass-77", "new_password2": "a-new-long-pass-77",
    })
    assert response.status_code == 403
    personas.county_admin.refresh_from_db()
    assert personas.county_admin.check_password("correct-horse-battery-9")


@pytest.mark.django_db
def test_a_post_with_the_csrf_token_goes_through(personas):
    """The positive control of the CSRF test: the same logout with the token works."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.county_admin)
    secret = "b" * 32
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    response = client.post(reverse("logout"), HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_responses_carry_the_security_headers(personas):
    client = Client()
    client.force_login(personas.grid_manager)
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert settings.SESSION_COOKIE_HTTPONLY


# --- Settings in a fresh process ------------------------------------------------------
def _run_manage(*args: str, env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment: this process's test switches (browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, for one) are not part of a production environment.
    env = {k: v for k, v in os.environ.items()
           if k not in {"ZG_TESTING", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "PYTEST_XDIST_WORKER",
                        "PYTEST_CURRENT_TEST", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
           and not k.startswith("SECURE_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "portal.zhoukou.example.cn",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_COOKIES": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


# Keys of personal data at rest, required with DEBUG off (docs/personal-data.md).
PERSONAL_DATA_ENV = {
    "PERSONAL_DATA_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "PERSONAL_DATA_HMAC_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
}


def test_check_deploy_is_clean_with_a_production_environment():
    result = _run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_overrides={**PRODUCTION_ENV, **PERSONAL_DATA_ENV, "SECRET_KEY": secrets.token_urlsafe(64)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_complains_without_the_https_settings():
    """The control of the test above: the same command does find problems."""
    result = _run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_overrides={"DEBUG": "0", "ALLOWED_HOSTS": "portal.zhoukou.example.cn", "SECRET_KEY": "short",
                       **PERSONAL_DATA_ENV},
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016"):
        assert check_id in output, check_id


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    result = _run_manage("check", env_overrides={"DEBUG": "0", "ALLOWED_HOSTS": "portal.zhoukou.example.cn"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    # With DEBUG on, the development key is allowed: the refusal is specific.
    assert _run_manage("check", env_overrides={"DEBUG": "1"}).returncode == 0


def test_no_secrets_are_tracked_in_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=BASE_DIR, capture_output=True, text=True, check=True).stdout.split()
    assert not [f for f in files if Path(f).name in {".env", ".env.local", ".env.production"}]
    # Private keys, cloud keys, and secret keys written into code (the development key of
    # settings.py says "insecure" and only serves DEBUG and tests).
    pattern = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|SECRET_KEY\s*=\s*['\"]([^'\"]{20,})")
    offending = []
    for name in files:
        path = BASE_DIR / name
        if name == "tests/test_security.py" or not path.is_file() or path.suffix in {".mo", ".xlsx", ".png", ".woff2"}:
            continue
        for match in pattern.finditer(path.read_text(errors="ignore")):
            if "insecure" not in match.group(0):
                offending.append(f"{name}: {match.group(0)[:40]}")
    assert not offending, offending
