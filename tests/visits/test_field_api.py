"""POST /api/v1/visit-logs/: a whole visit in one request, idempotent by the client's key, scoped."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.test import APIClient

from customers.models import ReturningResident
from tests.factories import ReturningResidentFactory
from tests.visits.factories import VisitFactory, VisitLogFactory
from tests.visits.test_photos import image_bytes
from visits.models import CustomerIssue, Hazard, Photo, ServiceCardRecord, Visit, VisitLog

URL = "/api/v1/visit-logs/"


@pytest.fixture(autouse=True)
def english_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with translation.override("en"):
        yield


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def visit(world, grid_manager):
    a1 = world.grids["a1"]
    return VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])


def body(visit, key="phone-1", **extra):
    return {"visit": visit.pk, "client_key": key, **extra}


def test_one_post_records_the_whole_visit(world, grid_manager, visit):
    a1 = world.grids["a1"]
    resident = ReturningResidentFactory(village=a1.village, household=a1.households[0])
    photo = base64.b64encode(image_bytes()).decode()
    payload = body(
        visit, met_person="王大爷", guidance=["guided_balance"],
        checklist=[{"item": "leakage_protector", "result": "problem", "note": "不动作"}],
        hazards=[{"severity": "critical", "deadline": (timezone.localdate() + timedelta(days=3)).isoformat(),
                  "description": "漏保失效"}],
        issues=[{"category": "low_voltage", "description": "晚上电压低"}],
        cards_handed_out=2, cards_posted=0, residents_confirmed=[resident.pk],
        photos=[{"data": photo, "hazard": 0}, {"data": photo}],
    )
    response = api(grid_manager).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    log = VisitLog.objects.get(visit=visit)
    assert data["id"] == log.pk and data["cards_handed_out"] == 2 and data["guided_balance"] is True
    assert data["page_url"] == f"/visits/field/logs/{log.pk}/"
    hazard = Hazard.objects.get(visit_log=log)
    assert hazard.severity == "critical"
    assert CustomerIssue.objects.get(visit_log=log).category == "low_voltage"
    assert sorted((p.hazard_id or 0) for p in Photo.objects.filter(visit_log=log)) == [0, hazard.pk]
    assert data["residents_confirmed"] == [resident.pk]
    resident.refresh_from_db()
    assert resident.status == ReturningResident.Status.ARRIVED
    assert Visit.objects.get(pk=visit.pk).status == Visit.Status.DONE


def test_the_same_key_again_answers_200_with_the_first_log_and_writes_nothing(grid_manager, visit):
    photo = base64.b64encode(image_bytes((200, 100))).decode()
    payload = body(visit, cards_handed_out=2, photos=[{"data": photo}])
    first = api(grid_manager).post(URL, payload, format="json")
    assert first.status_code == 201
    again = api(grid_manager).post(URL, payload, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert VisitLog.objects.count() == 1 and ServiceCardRecord.objects.count() == 1 and Photo.objects.count() == 1


def test_a_visit_outside_the_grid_is_404_like_a_missing_one(world, outsider, visit):
    response = api(outsider).post(URL, body(visit), format="json")
    assert response.status_code == 404
    missing = api(outsider).post(URL, {"visit": 987654321, "client_key": "x"}, format="json")
    assert missing.status_code == 404
    assert not VisitLog.objects.exists()


@pytest.mark.parametrize("extra, field", [
    ({"hazards": [{"severity": "general", "deadline": "2001-01-01", "description": "旧"}]}, "hazards"),
    ({"photos": [{"data": base64.b64encode(b"GIF89a not really").decode()}]}, "photos"),
    ({"photos": [{"data": "###"}]}, "photos"),
    ({"photos": [{"data": base64.b64encode(image_bytes((20, 20))).decode(), "hazard": 0}]}, "photos"),
    ({"checklist": [{"item": "roof", "result": "ok"}]}, "checklist"),
], ids=["deadline-in-the-past", "not-an-image", "not-base64", "photo-of-no-hazard", "unknown-item"])
def test_bad_input_is_400_and_writes_nothing(grid_manager, visit, extra, field):
    response = api(grid_manager).post(URL, body(visit, **extra), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not VisitLog.objects.exists() and not Hazard.objects.exists() and not Photo.objects.exists()


def test_a_key_of_another_visit_is_refused(world, grid_manager, visit):
    other = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager)
    assert api(grid_manager).post(URL, body(visit, key="shared"), format="json").status_code == 201
    response = api(grid_manager).post(URL, body(other, key="shared"), format="json")
    assert response.status_code == 400 and "client_key" in response.json()


def test_the_list_is_scoped_and_costs_a_fixed_number_of_queries(world, grid_manager, outsider):
    VisitLogFactory(visit=VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager))
    theirs = VisitLogFactory(visit=VisitFactory(grid=world.grids["b1"].grid, grid_manager=outsider))
    client = api(grid_manager)
    client.get(URL)  # warm the permission cache
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).json()["count"] == 1
    for _ in range(3):
        VisitLogFactory(visit=VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager))
    with CaptureQueriesContext(connection) as four:
        assert client.get(URL).json()["count"] == 4
    assert len(four) == len(one)
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert api(outsider).get(f"{URL}{theirs.pk}/").status_code == 200


def test_logs_cannot_be_changed_or_deleted_through_the_api(world, grid_manager):
    log = VisitLogFactory(visit=VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager))
    client = api(grid_manager)
    # The role check answers first (403) where the verb exists at all; either way nothing changes.
    assert client.patch(f"{URL}{log.pk}/", {"needs": "x"}, format="json").status_code in (403, 405)
    assert client.delete(f"{URL}{log.pk}/").status_code in (403, 405)
    log.refresh_from_db()
    assert log.needs == ""


def test_a_log_with_several_full_size_photos_is_taken_beyond_the_form_size_limit(settings, grid_manager, visit):
    # Phones send photos base64 inside the JSON: several full-size photos make a body far
    # above Django's limit for form data (DATA_UPLOAD_MAX_MEMORY_SIZE), which must not apply.
    import os

    from PIL import Image

    noise = Image.frombytes("RGB", (1400, 1000), os.urandom(1400 * 1000 * 3))  # compresses poorly, like a photo
    out = __import__("io").BytesIO()
    noise.save(out, format="JPEG", quality=95)
    photo = base64.b64encode(out.getvalue()).decode()
    payload = body(visit, photos=[{"data": photo}] * 3)
    assert len(photo) * 3 > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api(grid_manager).post(URL, payload, format="json")
    assert response.status_code == 201, response.content[:300]
    assert Photo.objects.filter(visit_log__visit=visit).count() == 3


def test_a_log_above_its_own_limit_is_413_with_a_message_and_writes_nothing(settings, grid_manager, visit):
    settings.API_VISIT_LOG_MAX_BYTES = 1024 * 1024
    photo = base64.b64encode(b"\xff" * (1024 * 1024)).decode()
    response = api(grid_manager).post(URL, body(visit, photos=[{"data": photo}]), format="json")
    assert response.status_code == 413
    assert "最多 1 MB" in response.json()["detail"]  # the portal speaks Chinese by default
    assert not VisitLog.objects.filter(visit=visit).exists()
