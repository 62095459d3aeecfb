"""Fuzz every GET of the API as every role (see tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest

from tests.fuzz import harness

pytestmark = pytest.mark.django_db
schema = harness.load_schema()


@schema.include(method="GET").parametrize()
@harness.fuzz_settings()
def test_get(case, fuzz_world):
    harness.run_case(case, fuzz_world)
