"""The fuzz tests' world: built once per test module, rolled back at its end."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.fuzz import harness


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("fuzz-media")
    with harness.world_for_module(django_db_blocker, override_settings(MEDIA_ROOT=media)) as world:
        yield world


def pytest_terminal_summary(terminalreporter):
    if harness.STATS["requests"]:
        terminalreporter.write_line(
            f"API fuzzing: {harness.STATS['examples']} generated requests, each sent as {len(harness.ROLES)} roles: "
            f"{harness.STATS['requests']} requests")
