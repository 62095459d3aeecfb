"""Helpers for API tests: a DRF client logged in as a persona."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api():
    """`api(user)` gives an APIClient logged in as `user` (None: anonymous)."""

    def make(user=None, **kwargs) -> APIClient:
        client = APIClient(**kwargs)
        if user is not None:
            client.force_login(user)
        return client

    return make
