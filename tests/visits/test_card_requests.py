"""The service card's QR code (issue 15, section 2): the code on the printed sheets, the
public page it opens, the request that becomes a customer issue, the customer's status page
and the rotation of a grid's code. The abuse cases are in tests/security/test_card_holder.py."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from customers.models import ServicePlan
from tests.factories import KeyCustomerFactory, VillageFactory
from visits.models import CardRequest, CustomerIssue, IssueEvent
from zhoukou_grid.core.models import AuditLog, Notification
from zhoukou_grid.territory import cards
from zhoukou_grid.territory.models import GridCardToken, UserProfile

SHEET = reverse("visits:service_cards")
GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card_path(grid) -> str:
    token = cards.card_tokens_current([grid.pk])[grid.pk]
    return reverse("card:public", args=[cards.token_string(token)])


def photo_bytes(*, gps=True) -> bytes:
    image = Image.new("RGB", (2400, 1800), (90, 140, 200))
    out = io.BytesIO()
    options = {}
    if gps:
        exif = Image.Exif()
        exif[GPS_IFD] = {1: "N", 2: (33.0, 37.0, 12.0), 3: "E", 4: (114.0, 39.0, 2.0)}
        options["exif"] = exif.tobytes()
    image.save(out, format="JPEG", **options)
    return out.getvalue()


def leave(client, path, **fields):
    data = {"category": "low_voltage", "village": "", "description": "晚上灯很暗", "phone": "13800001234",
            "website": "", **fields}
    return client.post(path, data)


def reference_of(response) -> str:
    page = Client().get(response["Location"]).content.decode()
    return re.search(r"data-reference>([A-Z0-9]+)<", page).group(1)


@pytest.fixture
def manager(personas):
    user = personas.grid_manager
    user.first_name, user.last_name = "建国", "王"
    user.save()
    UserProfile.objects.create(user=user, phone="13912345678")
    return user


# --- The code on the printed sheets -------------------------------------------------------
def test_each_card_of_the_sheet_carries_the_qr_code_of_its_grids_public_page(world, manager):
    page = staff_client(manager).get(SHEET).content.decode()
    token = GridCardToken.objects.get(grid=world.grids["a1"].grid, retired_at__isnull=True)
    url = "http://testserver" + reverse("card:public", args=[cards.token_string(token)])
    svg = cards.qr_svg(url)
    assert svg.startswith("<svg") and "http" not in svg.split(">", 1)[0]  # inline, no external reference
    # The same SVG segno draws for that URL, on every one of the 8 cards: the code holds the URL.
    assert page.count(svg) == 8
    assert page.count("data-card-qr") == 8
    public = Client().get(url.removeprefix("http://testserver"))
    assert public.status_code == 200
    text = public.content.decode()
    for expected in ("王建国", "13912345678", world.station_a1.name, "95598"):
        assert expected in text


def test_printing_again_keeps_the_code_and_a_public_base_url_is_printed(world, manager, settings):
    client = staff_client(manager)
    client.get(SHEET)
    client.get(SHEET)
    assert GridCardToken.objects.filter(grid=world.grids["a1"].grid).count() == 1
    settings.CARD_PUBLIC_BASE_URL = "https://fw.example.cn/"
    token = GridCardToken.objects.get(grid=world.grids["a1"].grid)
    expected = cards.qr_svg("https://fw.example.cn/c/" + cards.token_string(token) + "/")
    assert expected in client.get(SHEET).content.decode()


def test_the_plan_sheet_prints_the_grids_code_inline(world, manager):
    customer = KeyCustomerFactory(grid=world.grids["a1"].grid, village=world.grids["a1"].village)
    ServicePlan.objects.create(customer=customer, version=1, status=ServicePlan.Status.APPROVED, responsible=manager)
    page = staff_client(manager).get(reverse("customers:keycustomer_plan_print", args=[customer.pk])).content.decode()
    token = GridCardToken.objects.get(grid=world.grids["a1"].grid)
    assert cards.qr_svg("http://testserver" + reverse("card:public", args=[cards.token_string(token)])) in page


# --- The public page and the request --------------------------------------------------------
def test_a_request_becomes_an_issue_on_the_grids_board_and_notifies_the_grid_manager(world, manager):
    grid = world.grids["a1"].grid
    village = world.grids["a1"].village
    before = timezone.now()
    response = leave(Client(), card_path(grid), village=village.pk, category="no_power")
    assert response.status_code == 302
    issue = CustomerIssue.objects.get()
    assert issue.grid == grid and issue.village == village and issue.channel == "service_card"
    assert issue.get_channel_display() in ("Service card scan", "服务卡扫码")
    assert issue.raised_by is None and issue.owner == manager and issue.status == "open"
    assert issue.due_at - issue.raised_at == timedelta(hours=settings.ISSUE_SLA_HOURS["no_power"])
    assert issue.raised_at >= before
    assert IssueEvent.objects.get(issue=issue).by is None
    note = Notification.objects.get(user=manager)
    assert note.url == reverse("visits:issue_detail", args=[issue.pk])
    request = CardRequest.objects.get(issue=issue)
    assert "13800001234" not in request.phone_enc and request.phone_masked == "138****1234"
    assert AuditLog.objects.filter(action="card_request.created", object_id=str(issue.pk)).exists()
    # The grid manager sees it on the board and opens it.
    client = staff_client(manager)
    board = client.get(reverse("visits:issue_board")).content.decode()
    assert reverse("visits:issue_detail", args=[issue.pk]) in board
    detail = client.get(reverse("visits:issue_detail", args=[issue.pk])).content.decode()
    assert request.reference in detail and "138****1234" in detail and "13800001234" not in detail


def test_the_customer_follows_the_request_with_the_reference_and_the_last_4_digits(world, manager):
    reference = reference_of(leave(Client(), card_path(world.grids["a1"].grid)))
    issue = CustomerIssue.objects.get()
    client = Client()
    page = client.post(reverse("card:status"), {"reference": reference.lower(), "last4": "1234"}).content.decode()
    assert "data-found" in page and f'data-status="{issue.status}"' in page and reference in page
    issue.status = "in_progress"
    issue.save()
    page = client.post(reverse("card:status"), {"reference": reference, "last4": "1234"}).content.decode()
    assert 'data-status="in_progress"' in page


def test_a_wrong_pair_answers_like_an_unknown_reference(world, manager):
    reference = reference_of(leave(Client(), card_path(world.grids["a1"].grid)))

    def answer(ref, last4):
        response = Client().post(reverse("card:status"), {"reference": ref, "last4": last4})
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        return response.status_code, body.replace(ref, "REF")

    wrong_digits = answer(reference, "9999")
    unknown = answer("FWAAAAAAAA", "9999")
    assert wrong_digits == unknown
    assert wrong_digits[0] == 200 and "data-not-found" in wrong_digits[1] and "data-found" not in wrong_digits[1]
    assert "晚上灯很暗" not in wrong_digits[1]


def test_the_village_must_be_one_of_the_cards_grid(world, manager):
    other_village = world.grids["a2"].village
    response = leave(Client(), card_path(world.grids["a1"].grid), village=other_village.pk)
    assert response.status_code == 400
    assert not CustomerIssue.objects.exists()
    page = Client().get(card_path(world.grids["a1"].grid)).content.decode()
    assert world.grids["a1"].village.name in page and other_village.name not in page


def test_a_photo_is_re_encoded_without_its_gps_position_and_shown_to_the_grid_only(world, manager, personas):
    from django.core.files.uploadedfile import SimpleUploadedFile

    original = photo_bytes()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    response = leave(Client(), card_path(world.grids["a1"].grid),
                     photo=SimpleUploadedFile("IMG_0001.jpg", original, content_type="image/jpeg"))
    assert response.status_code == 302
    request = CardRequest.objects.get()
    stored = Image.open(request.photo.path)
    assert max(stored.size) == 1600 and not stored.getexif()
    url = reverse("visits:card_request_photo", args=[request.pk])
    assert staff_client(manager).get(url).status_code == 200
    assert staff_client(personas.outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # the login


def test_the_callback_phone_is_revealed_once_and_audited(world, manager):
    leave(Client(), card_path(world.grids["a1"].grid))
    issue = CustomerIssue.objects.get()
    client = staff_client(manager)
    url = reverse("visits:issue_detail", args=[issue.pk])
    response = client.post(url, {"reveal_phone": "1"})
    assert response.status_code == 200 and "13800001234" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert AuditLog.objects.filter(action="card_request.phone_revealed", user=manager).count() == 1
    assert "13800001234" not in client.get(url).content.decode()


def test_staff_cannot_record_an_issue_as_if_from_a_card(world, manager):
    from django.core.exceptions import ValidationError

    from visits import services

    with pytest.raises(ValidationError) as refused:
        services.issue_open(user=manager, grid_id=world.grids["a1"].grid.pk, channel="service_card",
                            category="meter", description="x")
    assert list(refused.value.message_dict) == ["channel"]
    assert not CustomerIssue.objects.exists()
    # The same call with the phone channel goes through: the refusal is about the channel.
    services.issue_open(user=manager, grid_id=world.grids["a1"].grid.pk, channel="phone", category="meter",
                        description="x")


# --- Rotation and the grace period --------------------------------------------------------
def test_station_staff_rotate_the_code_and_the_old_cards_work_for_the_grace_period(world, manager, personas,
                                                                                   settings):
    settings.CARD_TOKEN_GRACE_DAYS = 10
    grid = world.grids["a1"].grid
    old = card_path(grid)
    response = staff_client(personas.station_staff).post(SHEET, {"grid": grid.pk})
    assert response.status_code == 302
    new = card_path(grid)
    assert new != old
    assert GridCardToken.objects.filter(grid=grid).count() == 2
    assert Client().get(old).status_code == 200  # within the grace period
    assert Client().get(new).status_code == 200
    GridCardToken.objects.filter(grid=grid, retired_at__isnull=False).update(
        retired_at=timezone.now() - timedelta(days=10, minutes=1))
    expired = Client().get(old)
    assert expired.status_code == 410
    assert "95598" in expired.content.decode() and "data-expired" in expired.content.decode()
    assert leave(Client(), old).status_code == 410 and not CustomerIssue.objects.exists()
    assert Client().get(new).status_code == 200
    assert AuditLog.objects.filter(action="card_token.rotated", user=personas.station_staff).exists()


def test_a_grid_manager_cannot_rotate_and_another_countys_staff_get_a_404(world, manager, personas):
    grid = world.grids["a1"].grid
    path = card_path(grid)
    assert staff_client(manager).post(SHEET, {"grid": grid.pk}).status_code == 403
    from tests.factories import RoleAssignmentFactory, UserFactory
    from zhoukou_grid.territory.models import Role

    other = UserFactory(username="staff_b")
    RoleAssignmentFactory(user=other, role=Role.STATION_STAFF, station=world.station_b1)
    assert staff_client(other).post(SHEET, {"grid": grid.pk}).status_code == 404
    assert card_path(grid) == path


def test_the_sheet_offers_rotation_to_station_staff_only(world, manager, personas):
    assert "data-rotate" in staff_client(personas.station_staff).get(SHEET).content.decode()
    assert "data-rotate" not in staff_client(manager).get(SHEET).content.decode()


def test_a_second_village_of_the_grid_can_be_chosen(world, manager):
    second = VillageFactory(grid=world.grids["a1"].grid, name="李庄村")
    assert leave(Client(), card_path(world.grids["a1"].grid), village=second.pk).status_code == 302
    assert CustomerIssue.objects.get().village == second
