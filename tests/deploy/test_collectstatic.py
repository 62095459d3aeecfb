"""`manage.py collectstatic` with the production storage (hashed, compressed names), as the
README's deployment steps run it. Tests and DEBUG use plain storage and would not notice a
vendored file that breaks it (Chart.js's missing source map once did)."""

from __future__ import annotations

import re

from django.core.management import call_command
from django.test import override_settings

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_collectstatic_succeeds_with_the_production_storage(tmp_path):
    with override_settings(STATIC_ROOT=tmp_path / "staticfiles", STORAGES=PRODUCTION_STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    names = [path.name for path in (tmp_path / "staticfiles").rglob("*") if path.is_file()]
    assert "staticfiles.json" in names  # the manifest the app reads at run time
    # Hashed names (what nginx caches for a year) and pre-compressed copies (gzip_static).
    assert any(re.fullmatch(r".+\.[0-9a-f]{12}\.css", name) for name in names)
    assert any(name.endswith(".css.gz") for name in names)
