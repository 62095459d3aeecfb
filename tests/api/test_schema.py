"""The OpenAPI schema and the Swagger UI served offline."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any warning (unresolvable field, filter, response) into an error.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--lang", "en", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/households/{id}/" in text


def test_schema_endpoint_documents_scoped_errors(api, personas):
    response = api(personas.grid_manager).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    detail = schema["paths"]["/api/v1/transformers/{id}/"]
    assert {"200", "401", "403", "404"} <= set(detail["get"]["responses"])
    assert {"400", "404"} <= set(detail["patch"]["responses"])
    assert "409" in detail["delete"]["responses"]
    listing = schema["paths"]["/api/v1/households/"]["get"]
    assert {"q", "grid", "village", "transformer", "phase", "ordering", "page"} <= {
        parameter["name"] for parameter in listing["parameters"]
    }
    assert "429" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]


def test_schema_needs_a_login(world):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/schema/").status_code == 401


def test_docs_page_loads_with_local_static_files_only(api, personas):
    response = api(personas.grid_manager).get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="swagger-ui"' in html
    # No CDN: the intranet has no internet access.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), html
    # Known CDN hosts by name (a bare "cdn" also matched random CSRF tokens now and then).
    assert not re.search(r"cdn\.jsdelivr|unpkg\.com|cdnjs|googleapis", html, re.IGNORECASE)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    static_assets = [url for url in assets if url.startswith("/static/")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in static_assets), assets
    assert any(url.endswith(".css") for url in static_assets), assets
    for url in static_assets:
        assert finders.find(url.removeprefix("/static/")), f"{url} is not among the static files"
    # The start-up script is served from its own URL (strict CSP: no inline script).
    script = api(personas.grid_manager).get("/api/v1/docs/?script=").content.decode()
    assert '<script src="/api/v1/docs/?script=">' in html
    # Swagger UI's default online validator (validator.swagger.io) is switched off.
    assert '"validatorUrl": null' in script
    # The page asks for the schema on this server.
    assert "/api/v1/schema/" in script
