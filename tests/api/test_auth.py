"""Authentication of the API: token and session, JSON refusals, CSRF."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # tests.factories.UserFactory


def test_token_is_issued_for_a_username_and_password(personas):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "grid_manager", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["token"] == Token.objects.get(user=personas.grid_manager).key


def test_wrong_password_gets_no_token(personas):
    response = APIClient().post("/api/v1/auth/token/", {"username": "grid_manager", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Token.objects.exists()


def test_token_authenticates_and_is_scoped(personas, world):
    token = Token.objects.create(user=personas.grid_manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = client.get("/api/v1/grids/").json()
    assert [row["code"] for row in body["results"]] == ["JA-WG-01"]
    assert client.get(f"/api/v1/grids/{world.grids['a2'].grid.pk}/").status_code == 404


def test_an_invalid_token_is_401(personas):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/grids/")
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/counties/", "/api/v1/households/", "/api/v1/households/1/", "/api/v1/me/"]
)
def test_anonymous_gets_401_json_not_a_redirect(world, path):
    response = APIClient().get(path)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_anonymous_writes_are_refused_too(world):
    response = APIClient().post("/api/v1/villages/", {"code": "1", "name": "x", "grid": "JA-WG-01"}, format="json")
    assert response.status_code == 401


def test_session_writes_need_the_csrf_token(personas, world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas.county_admin)
    payload = {"code": "411627999002", "name": "新村", "grid": "JA-WG-01"}
    response = client.post("/api/v1/villages/", payload, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # With the cookie's token echoed in the header, the same write goes through.
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post("/api/v1/villages/", payload, format="json", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 201, response.content


def test_token_writes_need_no_csrf_token(personas, world):
    token = Token.objects.create(user=personas.county_admin)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post("/api/v1/villages/", {"code": "411627999003", "name": "新村", "grid": "JA-WG-01"},
                           format="json")
    assert response.status_code == 201


@override_settings(AXES_FAILURE_LIMIT=2)
def test_guessing_passwords_on_the_token_endpoint_is_locked_out(personas):
    client = APIClient()
    for _ in range(2):
        client.post("/api/v1/auth/token/", {"username": "grid_manager", "password": "wrong"}, format="json")
    response = client.post("/api/v1/auth/token/", {"username": "grid_manager", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert "detail" in response.json()
    assert not Token.objects.exists()
