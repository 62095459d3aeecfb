"""Small layout faults: what a selector shows matches what the page does."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse


def selected_grouping(page: str) -> str:
    select = re.search(r'<select name="group_by".*?</select>', page, re.S).group(0)
    return re.search(r'<option value="([a-z_]+)"[^>]*selected', select).group(1)


@pytest.mark.parametrize("query", [{}, {"start": "2026-12-01"}])
def test_the_grouping_selector_shows_the_grouping_of_the_report(client, county_admin, query):
    client.force_login(county_admin)
    response = client.get(reverse("visits:progress"), query)
    assert response.context["view"].options["group_by"] == "station"
    assert selected_grouping(response.content.decode()) == "station"
