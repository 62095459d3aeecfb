"""Fuzzing the anonymous card holder: the service card's public pages have no API schema for
schemathesis, so hypothesis sends them arbitrary form values and tokens. Whatever is sent,
the answer is one of the pages the design knows (never a 500), a request is recorded only
for the card's own grid and only from a valid form, and nothing of another grid is shown."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visits.models import CustomerIssue
from zhoukou_grid.territory import cards

pytestmark = pytest.mark.django_db

KNOWN_ANSWERS = {200, 302, 400, 404, 410, 413, 429}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
text = st.text(max_size=300)
values = st.one_of(text, st.integers().map(str), st.sampled_from(["", "0", "-1", "1 OR 1=1", "<script>x</script>",
                                                                   "13800001234", "null", "\x00"]))


@pytest.fixture
def card(world, personas, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # The fuzzer sends far more than a person would: the limits are tested elsewhere.
    settings.CARD_THROTTLE = {scope: (10**6, 60) for scope in settings.CARD_THROTTLE}
    grid = world.grids["a1"].grid
    token = cards.card_tokens_current([grid.pk])[grid.pk]
    return grid, reverse("card:public", args=[cards.token_string(token)])


def _others(world) -> set[str]:
    return {world.grids[key].grid.name for key in ("a2", "a3", "b1")} | {
        world.grids[key].village.name for key in ("a2", "a3", "b1")}


@FUZZ
@given(category=values, village=values, description=values, phone=values, website=st.sampled_from(["", "x"]))
def test_any_request_form_answers_a_known_page_and_stays_in_the_cards_grid(card, world, category, village,
                                                                         description, phone, website):
    grid, path = card
    response = Client().post(path, {"category": category, "village": village, "description": description,
                                    "phone": phone, "website": website})
    assert response.status_code in KNOWN_ANSWERS
    assert not CustomerIssue.objects.exclude(grid=grid).exists()
    if response.status_code == 302:
        assert website == "" and category in CustomerIssue.Category.values
    if response.status_code == 200 or response.status_code == 400:
        shown = response.content.decode()
        assert not {marker for marker in _others(world) if marker in shown}


@FUZZ
@given(token=st.text(alphabet=st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1,
                     max_size=80))
def test_any_token_answers_a_friendly_page(card, token):
    response = Client().get(reverse("card:public", args=[token]))
    assert response.status_code in (404, 200)
    if response.status_code == 404:
        assert "95598" in response.content.decode()


@FUZZ
@given(reference=values, last4=values)
def test_any_status_look_up_answers_a_known_page_and_shows_nothing(card, reference, last4):
    response = Client().post(reverse("card:status"), {"reference": reference, "last4": last4})
    assert response.status_code == 200
    assert "data-found" not in response.content.decode()
