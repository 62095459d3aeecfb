"""The grid manager's phone pages: "today" with agendas, the visit log form, "could not visit"."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from customers.models import ReturningResident, ServicePlan
from tests.factories import KeyCustomerFactory, ReturningResidentFactory
from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory
from tests.visits.test_photos import image_bytes
from visits.models import ChecklistResult, CustomerIssue, Hazard, Photo, ServiceCardRecord, Visit, VisitLog

TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def english_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def gm_client(client, grid_manager):
    client.force_login(grid_manager)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def household_visit(world, grid_manager):
    a1 = world.grids["a1"]
    return VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=a1.households[0])


def management(prefix, total=2):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "10"}


def log_post(key="key-1", **extra):
    data = {"client_key": key, "cards_handed_out": "0", "cards_posted": "0", **management("hazard"),
            **management("issue")}
    data.update(extra)
    return data


# --- Today ------------------------------------------------------------------------------

def test_today_lists_my_visits_with_their_agenda(world, grid_manager, gm_client, household_visit, outsider):
    a1 = world.grids["a1"]
    customer = KeyCustomerFactory(grid=a1.grid, name="周口市第一中学")
    ServicePlan.objects.create(customer=customer, version=1, status=ServicePlan.Status.APPROVED,
                               agenda="检查备用发电机切换")
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, key_customer=customer)
    HazardFactory(grid=a1.grid, household=a1.households[0], description="进户线老化")
    HazardFactory(grid=a1.grid, household=a1.households[0], description="已复核", status="rechecked",
                  closed_at=timezone.now())
    CustomerIssueFactory(grid=a1.grid, household=a1.households[0], description="电压偏低")
    ReturningResidentFactory(village=a1.village, household=a1.households[0], name="张返乡",
                             arrival_date=TODAY() + timedelta(days=2))
    # Overdue elsewhere in the grid: counted, not on the agenda.
    HazardFactory(grid=a1.grid, deadline=TODAY() - timedelta(days=3))
    # Not mine: another day, and another grid manager's grid.
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, planned_date=TODAY() + timedelta(days=1))
    VisitFactory(grid=world.grids["b1"].grid, grid_manager=outsider)

    response = gm_client.get(reverse("visits:field_today"))
    assert response.status_code == 200
    agendas = response.context["agendas"]
    assert [agenda.visit.key_customer_id for agenda in agendas] == [None, customer.pk]
    first, second = agendas
    assert [h.description for h in first.hazards] == ["进户线老化"]
    assert [i.description for i in first.issues] == ["电压偏低"]
    assert [r.name for r in first.residents] == ["张返乡"]
    assert second.plan_agenda == "检查备用发电机切换"
    assert response.context["overdue_hazards"] == 1
    page = response.content.decode()
    assert reverse("visits:field_visit_log", args=[household_visit.pk]) in page
    assert "进户线老化" in page and "检查备用发电机切换" in page
    assert 'href="{}"'.format(reverse("visits:field_today")) in page  # in the navigation


def test_today_costs_the_same_queries_for_one_visit_or_many(world, grid_manager, gm_client):
    a1 = world.grids["a1"]

    def visit_with_facts(household):
        VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=None, household=household)
        HazardFactory(grid=a1.grid, household=household)
        CustomerIssueFactory(grid=a1.grid, household=household)
        ReturningResidentFactory(village=a1.village, household=household, arrival_date=TODAY())

    visit_with_facts(a1.households[0])
    gm_client.get(reverse("visits:field_today"))  # warm caches (permissions, session)
    with CaptureQueriesContext(connection) as one:
        gm_client.get(reverse("visits:field_today"))
    visit_with_facts(a1.households[1])
    VisitFactory(grid=a1.grid, grid_manager=grid_manager)
    with CaptureQueriesContext(connection) as three:
        response = gm_client.get(reverse("visits:field_today"))
    assert len(response.context["agendas"]) == 3
    assert len(three) == len(one)


# --- The visit log form -------------------------------------------------------------------

def test_the_form_offers_the_expected_residents_of_the_household(world, gm_client, household_visit):
    a1 = world.grids["a1"]
    expected = ReturningResidentFactory(village=a1.village, household=a1.households[0], name="李返乡")
    ReturningResidentFactory(village=a1.village, household=a1.households[1], name="别家人")
    response = gm_client.get(reverse("visits:field_visit_log", args=[household_visit.pk]))
    assert response.status_code == 200
    assert list(response.context["form"].fields["residents"].queryset) == [expected]
    assert response.context["form"]["client_key"].value()  # a key is chosen once per form


def test_a_whole_visit_is_logged_with_one_submit(world, grid_manager, gm_client, household_visit):
    a1 = world.grids["a1"]
    resident = ReturningResidentFactory(village=a1.village, household=a1.households[0])
    deadline = (TODAY() + timedelta(days=10)).isoformat()
    data = log_post(
        met_person="户主王大爷", needs="想了解峰谷电价", concerns="冬天取暖跳闸", check_meter_box="problem",
        check_earthing="ok", check_backup_generator="not_applicable", recommendation_templates=["leakage"],
        recommendations="更换老旧插排", guidance=["guided_payment", "guided_find_electrician"],
        cards_handed_out="2", cards_posted="1", residents=[str(resident.pk)],
        **{"hazard-0-severity": "serious", "hazard-0-deadline": deadline, "hazard-0-description": "表箱门损坏",
           "hazard-0-photo": SimpleUploadedFile("IMG_0001.HEIC", image_bytes(), "image/heic"),
           "issue-0-category": "billing", "issue-0-description": "电费单有疑问"},
    )
    response = gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]), data)
    assert response.status_code == 302 and response.url == reverse("visits:field_today")
    log = VisitLog.objects.get(visit=household_visit)
    assert log.met_person == "户主王大爷" and "leakage protector" in log.recommendations
    assert "更换老旧插排" in log.recommendations
    assert (log.guided_payment, log.guided_find_electrician, log.guided_balance) == (True, True, False)
    assert dict(log.checklist.values_list("item", "result")) == {
        "meter_box": "problem", "earthing": "ok", "backup_generator": "not_applicable"}
    hazard = Hazard.objects.get(visit_log=log)
    assert (hazard.severity, hazard.description, hazard.household_id) == ("serious", "表箱门损坏", a1.households[0].pk)
    assert Photo.objects.get(hazard=hazard).content_type == "image/jpeg"
    assert CustomerIssue.objects.get(visit_log=log).category == "billing"
    cards = ServiceCardRecord.objects.get(visit=household_visit)
    assert (cards.handed_out, cards.posted) == (2, 1)
    resident.refresh_from_db()
    assert resident.status == ReturningResident.Status.ARRIVED
    household_visit.refresh_from_db()
    assert household_visit.status == Visit.Status.DONE


def test_a_retried_submit_writes_no_second_log(gm_client, household_visit):
    url = reverse("visits:field_visit_log", args=[household_visit.pk])
    data = log_post(key="retry-key", cards_handed_out="2")
    assert gm_client.post(url, data).status_code == 302
    again = gm_client.post(url, data, follow=True)
    assert again.status_code == 200
    assert "already saved" in again.content.decode()
    assert VisitLog.objects.filter(visit=household_visit).count() == 1
    assert ServiceCardRecord.objects.filter(visit=household_visit).count() == 1


@pytest.mark.parametrize("bad", [
    {"hazard-0-severity": "general", "hazard-0-deadline": "2000-01-01", "hazard-0-description": "旧"},
    {"photo": SimpleUploadedFile("photo.jpg", b"not an image at all", "image/jpeg")},
    {"cards_handed_out": "-1"},
], ids=["deadline-in-the-past", "photo-not-an-image", "negative-cards"])
def test_bad_input_is_a_clear_message_and_writes_nothing(gm_client, household_visit, bad):
    response = gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]), log_post(**bad))
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not VisitLog.objects.exists() and not Hazard.objects.exists()
    household_visit.refresh_from_db()
    assert household_visit.status == Visit.Status.PLANNED


def test_a_photo_over_the_limit_is_refused(settings, gm_client, household_visit):
    settings.VISIT_PHOTO_MAX_BYTES = 1000
    data = log_post(photo=SimpleUploadedFile("p.jpg", image_bytes((400, 300)), "image/jpeg"))
    response = gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]), data)
    assert response.status_code == 400 and "larger than" in response.content.decode()
    assert not VisitLog.objects.exists()


def test_when_the_photo_cannot_be_stored_the_log_is_kept(gm_client, household_visit):
    data = log_post(photo=SimpleUploadedFile("p.jpg", image_bytes(), "image/jpeg"), met_person="李")
    with mock.patch.object(FileSystemStorage, "_save", side_effect=PermissionError(13, "Permission denied")):
        response = gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]), data, follow=True)
    assert response.status_code == 200
    assert "saved without it" in response.content.decode()
    log = VisitLog.objects.get(visit=household_visit)
    assert log.met_person == "李" and not log.photos.exists()


def test_someone_elses_visit_is_not_found(world, outsider, client):
    visit = VisitFactory(grid=world.grids["a1"].grid)
    client.force_login(outsider)
    for name in ("visits:field_visit_log", "visits:field_visit_missed"):
        assert client.get(reverse(name, args=[visit.pk])).status_code == 404
        assert client.post(reverse(name, args=[visit.pk]), log_post(reason="x")).status_code == 404
    assert not VisitLog.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Visit.Status.PLANNED


# --- Could not visit ----------------------------------------------------------------------

def test_a_missed_visit_has_a_reason_and_is_proposed_again(gm_client, household_visit):
    url = reverse("visits:field_visit_missed", args=[household_visit.pk])
    assert gm_client.post(url, {"reason": " "}).status_code == 400
    response = gm_client.post(url, {"reason": "家中无人"})
    assert response.status_code == 302
    household_visit.refresh_from_db()
    assert (household_visit.status, household_visit.missed_reason) == (Visit.Status.MISSED, "家中无人")
    again = household_visit.rescheduled_to
    assert again.status == Visit.Status.PLANNED and again.planned_date > TODAY()
    assert again.household_id == household_visit.household_id


def test_the_log_page_shows_what_was_recorded(gm_client, household_visit):
    gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]),
                   log_post(met_person="赵主任", check_earthing="problem", cards_posted="3"))
    log = VisitLog.objects.get()
    page = gm_client.get(reverse("visits:field_log_detail", args=[log.pk])).content.decode()
    assert "赵主任" in page and "Earthing: Problem" in page and "0 handed out, 3 posted" in page
    assert ChecklistResult.objects.filter(log=log).count() == 1


def test_the_form_page_needs_no_inline_script_or_style(gm_client, household_visit):
    page = gm_client.get(reverse("visits:field_visit_log", args=[household_visit.pk])).content.decode()
    assert "<script>" not in page and " style=" not in page
    assert page.count("visit_log.js") == 1


def test_a_logged_visit_links_to_its_log_from_today(gm_client, household_visit):
    gm_client.post(reverse("visits:field_visit_log", args=[household_visit.pk]), log_post(met_person="孙"))
    log = VisitLog.objects.get()
    page = gm_client.get(reverse("visits:field_today")).content.decode()
    assert reverse("visits:field_log_detail", args=[log.pk]) in page
    assert reverse("visits:field_visit_log", args=[household_visit.pk]) not in page
    assert f'data-clear-draft="{household_visit.pk}"' in page  # the phone drops the draft
