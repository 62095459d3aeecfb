"""Anyone holding a service card (docs/security.md, actor 2b): the public pages its QR code
opens take no account, so each of their protections is checked here against bad input:
tampered, expired and unknown tokens, floods from one address or on one card, the honeypot,
oversized and fake photos, script in the text, CSRF, and other grids' data."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from visits.models import CardRequest, CustomerIssue
from zhoukou_grid.territory import cards
from zhoukou_grid.territory.models import GridCardToken, UserProfile

STATUS = reverse("card:status")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def card(world, personas):
    UserProfile.objects.create(user=personas.grid_manager, phone="13912345678")
    grid = world.grids["a1"].grid
    token = cards.card_tokens_current([grid.pk])[grid.pk]
    return reverse("card:public", args=[cards.token_string(token)])


def post(client, path, **fields):
    data = {"category": "meter", "village": "", "description": "电表不走字", "phone": "13800001234", "website": "",
            **fields}
    return client.post(path, data)


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def assert_friendly(response, status: int, marker: str = ""):
    assert response.status_code == status
    text = response.content.decode()
    assert "95598" in text and "<form" not in text or marker == "form", text[:300]
    if marker and marker != "form":
        assert marker in text
    assert "Traceback" not in text and "Page not found" not in text


# --- Tokens ---------------------------------------------------------------------------
def test_a_tampered_token_answers_a_friendly_page_and_reads_no_row(card, django_assert_num_queries):
    token = card.split("/")[2]
    key, mac = token.split(".")
    tampered = [f"{key}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}", f"{key[:-1]}x.{mac}", key, "x" * 40,
                f"{key}.{mac}.extra", "<script>alert(1)<script>"]
    for value in tampered:
        with django_assert_num_queries(0):
            response = Client().get(reverse("card:public", args=[value]))
        assert "<script>alert" not in response.content.decode()
        assert_friendly(response, 404)
        assert not CustomerIssue.objects.exists()


def test_a_well_signed_token_that_was_never_issued_or_was_deleted_is_unknown(card):
    token = GridCardToken.objects.get()
    path = card
    token.delete()
    assert_friendly(Client().get(path), 404)
    assert post(Client(), path).status_code == 404 and not CustomerIssue.objects.exists()


def test_an_expired_token_answers_card_expired_with_the_95598_line(card, settings):
    from datetime import timedelta

    from django.utils import timezone

    GridCardToken.objects.update(retired_at=timezone.now() - timedelta(days=settings.CARD_TOKEN_GRACE_DAYS + 1))
    assert_friendly(Client().get(card), 410, "data-expired")
    assert post(Client(), card).status_code == 410 and not CustomerIssue.objects.exists()


# --- Throttling ---------------------------------------------------------------------------
@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, held still (mid-window) unless a test moves it."""
    from zhoukou_grid.core import throttle

    now = {"t": 1_800_000_030.0}
    monkeypatch.setattr(throttle, "_now", lambda: now["t"])
    return now


def test_100_requests_a_minute_from_one_address_are_refused_with_a_friendly_429(card, settings, clock):
    limit = settings.CARD_THROTTLE["address"][0]
    client = from_address("203.0.113.7")
    codes = [client.get(card).status_code for _ in range(100)]
    assert codes[:limit] == [200] * limit
    assert set(codes[limit:]) == {429}
    refused = client.get(card)
    assert_friendly(refused, 429, "data-too-many")
    assert refused["Retry-After"]
    # Another address (another phone on another network) is not punished.
    assert from_address("198.51.100.9").get(card).status_code == 200
    # The status page counts on the same address.
    assert client.get(STATUS).status_code == 429
    # Across the minute's boundary the flood is still refused (a sliding window, not a fresh count)...
    clock["t"] += 31
    assert client.get(card).status_code == 429
    # ... and once the address has been quiet for the window, it is let in again.
    clock["t"] += 120
    assert client.get(card).status_code == 200


def test_requests_left_are_capped_per_address_and_per_card(card, settings, clock):
    per_address = settings.CARD_THROTTLE["address_posts"][0]
    client = from_address("203.0.113.8")
    codes = [post(client, card).status_code for _ in range(per_address + 2)]
    assert codes == [302] * per_address + [429, 429]
    assert CustomerIssue.objects.count() == per_address
    settings.CARD_THROTTLE = {**settings.CARD_THROTTLE, "token_posts": (per_address + 2, 3600)}
    # The same card from many addresses: the card's own limit.
    codes = [post(from_address(f"198.51.100.{n}"), card).status_code for n in range(1, 5)]
    assert codes == [302, 302, 429, 429]


def test_status_look_ups_are_throttled_per_address(card, settings, clock):
    limit = settings.CARD_THROTTLE["status"][0]
    client = from_address("203.0.113.9")
    codes = [client.post(STATUS, {"reference": f"FW{n:08d}", "last4": "1234"}).status_code for n in range(limit + 1)]
    assert codes == [200] * limit + [429]


# --- What is typed ---------------------------------------------------------------------
def test_the_honeypot_records_nothing(card):
    response = post(Client(), card, website="http://spam.example")
    assert response.status_code == 400
    assert "95598" in response.content.decode()
    assert not CustomerIssue.objects.exists()


def test_an_oversized_or_fake_photo_records_nothing(card, settings):
    fake = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff" + b"<?php system($_GET['c']); ?>" * 10,
                              content_type="image/jpeg")
    response = post(Client(), card, photo=fake)
    assert response.status_code == 400 and not CustomerIssue.objects.exists()
    settings.VISIT_PHOTO_MAX_BYTES = 10_000
    big = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff" + b"0" * 20_000, content_type="image/jpeg")
    response = post(Client(), card, photo=big)
    assert response.status_code in (400, 413) and not CustomerIssue.objects.exists()
    # A whole request far over the limit is refused before the form reads it.
    huge = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff" + b"0" * 200_000, content_type="image/jpeg")
    response = post(Client(), card, photo=huge)
    assert response.status_code == 413 and not CustomerIssue.objects.exists()
    too_long = post(Client(), card, description="长" * 1001)
    assert too_long.status_code == 400 and not CustomerIssue.objects.exists()
    bad_phone = post(Client(), card, phone="12345")
    assert bad_phone.status_code == 400 and not CustomerIssue.objects.exists()


def test_script_in_the_text_is_shown_escaped_to_the_customer_and_to_staff(card, personas):
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = post(Client(), card, description=script)
    assert response.status_code == 302
    page = Client().get(response["Location"]).content.decode()
    reference = re.search(r"data-reference>([A-Z0-9]+)<", page).group(1)
    status = Client().post(STATUS, {"reference": reference, "last4": "1234"}).content.decode()
    staff = Client()
    staff.force_login(personas.grid_manager)
    issue = CustomerIssue.objects.get()
    detail = staff.get(reverse("visits:issue_detail", args=[issue.pk])).content.decode()
    board = staff.get(reverse("visits:issue_board")).content.decode()
    for html in (status, detail, board):
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in status
    assert "&lt;script&gt;" in detail


def test_posts_need_the_csrf_token(card):
    client = Client(enforce_csrf_checks=True)
    page = client.get(card).content.decode()
    assert post(client, card).status_code == 403
    assert client.post(STATUS, {"reference": "FWAAAAAAAA", "last4": "1234"}).status_code == 403
    assert not CustomerIssue.objects.exists()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert post(client, card, csrfmiddlewaretoken=token).status_code == 302


def test_the_page_shows_no_one_elses_data_whatever_is_typed(card, world, personas):
    from tests.factories import UserFactory

    other_manager = UserFactory(username="manager_a2", first_name="其", last_name="他")
    UserProfile.objects.create(user=other_manager, phone="13700000002")
    world.grids["a2"].grid.manager = other_manager
    world.grids["a2"].grid.save()
    others = {world.grids[k].grid.name for k in ("a2", "a3", "b1")} | {world.grids[k].village.name
                                                                       for k in ("a2", "a3", "b1")}
    others |= {"13700000002", "他其", world.station_b1.name, world.station_a2.name}
    answers = [
        Client().get(card), Client().get(card, {"grid": world.grids["a2"].grid.pk}),
        post(Client(), card, village=world.grids["a2"].village.pk),
        post(Client(), card, village="1 OR 1=1"),
    ]
    for response in answers:
        text = response.content.decode()
        assert not {marker for marker in others if marker in text}, response.status_code
    assert not CustomerIssue.objects.exists()
    # A request left on another grid's card: its reference with the right digits opens it, and
    # nothing typed on the status page shows anything else.
    grid_b = world.grids["b1"].grid
    token_b = cards.card_tokens_current([grid_b.pk])[grid_b.pk]
    post(Client(), reverse("card:public", args=[cards.token_string(token_b)]), description="乙县的诉求",
         phone="13811112222")
    reference = CardRequest.objects.get().reference
    for reference_typed, last4 in ((reference, "1234"), (reference, "2223"), (reference[:-1] + "%", "2222"),
                                   ("' OR '1'='1", "2222"), (reference, "22 2")):
        text = Client().post(STATUS, {"reference": reference_typed, "last4": last4}).content.decode()
        assert "乙县的诉求" not in text, (reference_typed, last4)
    assert "乙县的诉求" in Client().post(STATUS, {"reference": reference, "last4": "2222"}).content.decode()


def test_the_public_pages_send_the_strict_csp(card):
    for response in (Client().get(card), Client().get(STATUS)):
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in response.content.decode()
