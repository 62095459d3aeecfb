"""Security headers on a page, an API answer and a static file: CSP, nosniff, referrer,
framing, COOP, Permissions-Policy, and HSTS once the request came over TLS."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def parse_csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def answers(personas):
    """A page, an API answer (token) and a static file, each as the portal serves it."""
    client = Client()
    client.force_login(personas.grid_manager)
    page = client.get(reverse("home"))
    token = Token.objects.create(user=personas.station_staff)
    api = Client().get("/api/v1/grids/", HTTP_AUTHORIZATION=f"Token {token.key}")
    static = Client().get("/static/css/portal.css")
    assert (page.status_code, api.status_code, static.status_code) == (200, 200, 200)
    return {"page": page, "api": api, "static": static}


def test_the_csp_is_strict_on_a_page_an_api_answer_and_a_static_file(personas):
    for where, response in answers(personas).items():
        csp = parse_csp(response["Content-Security-Policy"])
        assert csp["default-src"] == ["'self'"], where
        assert csp["script-src"] == ["'self'"], where  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["style-src"] == ["'self'"], where
        assert csp["object-src"] == ["'none'"], where
        assert csp["frame-ancestors"] == ["'none'"], where
        assert csp["base-uri"] == ["'none'"], where
        assert csp["form-action"] == ["'self'"], where
        assert set(csp["img-src"]) == {"'self'", "data:"}, where
        assert "unsafe" not in response["Content-Security-Policy"], where


def test_the_other_headers_are_on_every_kind_of_answer(personas):
    for where, response in answers(personas).items():
        assert response["X-Content-Type-Options"] == "nosniff", where
        assert response["Referrer-Policy"] == "same-origin", where
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", where
        policy = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()"):
            assert feature in policy, (where, policy)
        # Without TLS no HSTS: a browser would pin a plain-HTTP intranet host.
        assert "Strict-Transport-Security" not in response, where
    # Framing: the page refuses it twice (old and new browsers).
    assert answers_page_header(personas, "X-Frame-Options") == "DENY"


def answers_page_header(personas, name):
    client = Client()
    client.force_login(personas.county_admin)
    return client.get(reverse("home"))[name]


def test_the_login_page_and_the_api_docs_carry_the_csp(personas):
    login = Client().get(reverse("login"))
    assert parse_csp(login["Content-Security-Policy"])["script-src"] == ["'self'"]
    client = Client()
    client.force_login(personas.county_admin)
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert parse_csp(docs["Content-Security-Policy"])["script-src"] == ["'self'"]
    body = docs.content.decode()
    # The start-up script is a file of its own, served as JavaScript from the same view.
    assert "<script>" not in body and "<style>" not in body
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_hsts_is_sent_behind_tls(personas):
    client = Client()
    client.force_login(personas.grid_manager)
    over_tls = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get(reverse("home"), **over_tls)
    static = Client().get("/static/css/portal.css", **over_tls)
    for response in (page, static):
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get(reverse("home"))  # plain HTTP: none


def test_the_session_cookie_is_protected(client, grid_manager):
    from django.conf import settings

    response = client.post(reverse("login"), {"username": "grid_manager", "password": "correct-horse-battery-9"})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == ""  # ends with the browser; the server ends it earlier (test_sessions)
    assert client.session.get_expiry_age() == settings.SESSION_ABSOLUTE_TIMEOUT
