"""Fuzz the POST/PUT/PATCH/DELETE of the field work and the load forecast (rounds, visits,
visit logs, hazards, issues, runs, alerts, measures, settings) as every role (see
tests/fuzz/harness.py); each request is rolled back after it is judged."""

from __future__ import annotations

import pytest

from tests.fuzz import harness

pytestmark = pytest.mark.django_db
schema = harness.load_schema()


@schema.include(method=harness.WRITE_METHODS, path_regex=harness.WORK_PATHS).parametrize()
@harness.fuzz_settings()
def test_write(case, fuzz_world):
    harness.run_case(case, fuzz_world)
