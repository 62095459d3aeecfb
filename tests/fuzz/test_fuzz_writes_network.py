"""Fuzz the POST/PUT/PATCH/DELETE of the territory, the network, customers and imports as
every role (see tests/fuzz/harness.py); each request is rolled back after it is judged."""

from __future__ import annotations

import pytest

from tests.fuzz import harness

pytestmark = pytest.mark.django_db

OPERATIONS = harness.operations(harness.load_schema(), methods=harness.WRITE_METHODS,
                                exclude_path_regex=harness.WORK_PATHS)


@pytest.mark.parametrize("operation", [operation for _, operation in OPERATIONS],
                         ids=[label for label, _ in OPERATIONS])
def test_fuzz(operation, fuzz_world):
    harness.fuzz_operation(operation, fuzz_world)
