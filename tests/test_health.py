"""GET /healthz: the database and (when configured) Redis, without a login."""

from __future__ import annotations

import os
import socket
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthy_without_redis_configured_reports_the_database_only():
    with override_settings(REDIS_URL=""):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (set in CI)")
def test_healthy_with_redis_reports_both():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_redis_on_a_closed_port_answers_503_naming_redis():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down")


def test_a_failing_database_answers_503_naming_the_database():
    broken = mock.MagicMock()
    broken.cursor.side_effect = OperationalError("connection refused")
    with override_settings(REDIS_URL=""), mock.patch("zhoukou_grid.core.health.connection", broken):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "down: OperationalError"}}


def test_reachable_without_login_and_never_redirects(world):
    response = Client().get("/healthz", follow=False)
    assert response.status_code in (200, 503)
    assert response["Content-Type"] == "application/json"
    assert "Location" not in response


def test_only_get_is_answered():
    assert Client().post("/healthz").status_code == 405
