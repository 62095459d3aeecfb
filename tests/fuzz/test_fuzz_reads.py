"""Fuzz every GET of the API as every role (see tests/fuzz/harness.py)."""

from __future__ import annotations

import pytest

from tests.fuzz import harness

pytestmark = pytest.mark.django_db

OPERATIONS = harness.operations(harness.load_schema(), methods=["GET"])


@pytest.mark.parametrize("operation", [operation for _, operation in OPERATIONS],
                         ids=[label for label, _ in OPERATIONS])
def test_fuzz(operation, fuzz_world):
    harness.fuzz_operation(operation, fuzz_world)
