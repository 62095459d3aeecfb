"""The version of the static files that the phone's service worker carries
(docs/security.md, "The phone's copy").

The version is the hash of collectstatic's manifest in production, so each deployment
with changed static files gives the service worker a new URL and the phone replaces it on
its next online page. Development and tests have no manifest: the version is a hash of the
static files' names and contents, computed once per process. `STATIC_VERSION` in the
environment (or settings) overrides both.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage


@lru_cache(maxsize=1)
def _hash_of_static_dirs() -> str:
    digest = hashlib.sha256()
    for folder in map(Path, settings.STATICFILES_DIRS):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(folder)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_version() -> str:
    override = getattr(settings, "STATIC_VERSION", "")
    if override:
        return override
    manifest_hash = getattr(staticfiles_storage, "manifest_hash", "")
    return manifest_hash or _hash_of_static_dirs()
