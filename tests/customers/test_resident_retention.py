"""Retention: residents' personal data erased RESIDENT_RETENTION_MONTHS after the Spring
Festival they came home for, counts kept, one audit row per run, idempotent."""

from __future__ import annotations

import json
from datetime import date

import pytest

from customers import retention, selectors
from customers.models import ReturningResident
from customers.tasks import erase_expired_resident_data
from tests.factories import HouseholdFactory, ReturningResidentFactory, VillageFactory
from zhoukou_grid.celery import app
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

FESTIVAL_2026 = date(2026, 2, 17)


@pytest.fixture
def ledger(db):
    village = VillageFactory()
    household = HouseholdFactory(village=village)

    def resident(name, arrival, **extra):
        return ReturningResidentFactory(
            village=village, household=household, name=name, arrival_date=arrival, id_number=extra.pop("id", ""),
            phone=extra.pop("phone", "13800000001"), workplace="河南郑州", note="腿脚不便", head_name="户主",
            persons=extra.pop("persons", 2), **extra)

    return {
        "last_year": resident("岑去年", date(2026, 2, 1), id="411627196503253526", phone="13800000011",
                              status=ReturningResident.Status.DEPARTED),
        "this_year": resident("岑今年", date(2027, 1, 25), id="11010519491231002X", phone="13800000022", persons=3),
        # 44 days after the 2027 festival: still that festival's (the import reads it so too).
        "late": resident("岑晚归", date(2027, 3, 22), phone="13800000033", status=ReturningResident.Status.ARRIVED),
        # 46 days after: the next festival's.
        "next_season": resident("岑明年", date(2027, 3, 24), phone="13800000044"),
    }


def test_months_are_added_to_the_last_day_of_a_shorter_month():
    assert retention.add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)


def erased_pks() -> set[int]:
    return set(ReturningResident.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))


def test_the_day_before_the_boundary_only_last_years_residents_are_erased(ledger):
    detail = retention.residents_erase_expired_personal_data(today=date(2027, 5, 5), months=3)
    assert detail["erased"] == 1 and detail["festival"] == FESTIVAL_2026.isoformat()
    assert erased_pks() == {ledger["last_year"].pk}


def test_on_the_boundary_the_festivals_residents_are_erased_and_the_next_seasons_kept(ledger):
    detail = retention.residents_erase_expired_personal_data(today=date(2027, 5, 6), months=3)
    assert detail == {"erased": 3, "months": 3, "today": "2027-05-06", "festival": "2027-02-06",
                      "arrived_until": "2027-03-23"}
    assert erased_pks() == {ledger[key].pk for key in ("last_year", "this_year", "late")}
    kept = ReturningResident.objects.get(pk=ledger["next_season"].pk)
    assert (kept.name, kept.phone, kept.erased_at) == ("岑明年", "13800000044", None)


def test_erasing_removes_the_personal_data_and_keeps_every_count(ledger):
    queryset = ReturningResident.objects.all()
    before = (selectors.resident_counts_by_village(queryset), selectors.resident_counts_by_transformer(queryset),
              sorted(queryset.values_list("arrival_date", "departure_date", "persons", "status", "household_id",
                                          "village_id", "heating")))
    retention.residents_erase_expired_personal_data(today=date(2027, 8, 1), months=3)
    after = (selectors.resident_counts_by_village(queryset), selectors.resident_counts_by_transformer(queryset),
             sorted(queryset.values_list("arrival_date", "departure_date", "persons", "status", "household_id",
                                         "village_id", "heating")))
    assert after == before
    erased = ReturningResident.objects.get(pk=ledger["this_year"].pk)
    assert (erased.name, erased.head_name, erased.workplace, erased.note) == ("", "", "", "")
    assert (erased.id_number_enc, erased.id_number_hmac, erased.id_number_masked) == ("", "", "")
    assert (erased.phone_enc, erased.phone_hmac, erased.phone_masked) == ("", "", "")
    assert erased.match_key == f"erased:{erased.pk}" and erased.erased_at is not None


def test_each_run_writes_one_audit_row_without_personal_data_and_a_second_run_erases_nothing(ledger):
    first = retention.residents_erase_expired_personal_data(today=date(2027, 8, 1), months=3)
    second = retention.residents_erase_expired_personal_data(today=date(2027, 8, 1), months=3)
    assert (first["erased"], second["erased"]) == (3, 0)
    audits = list(AuditLog.objects.filter(action="resident.personal_data_erased").order_by("pk"))
    assert [audit.detail["erased"] for audit in audits] == [3, 0] and all(a.user is None for a in audits)
    text = json.dumps([audit.detail for audit in audits], ensure_ascii=False)
    for secret in ("岑今年", "13800000022", "11010519491231002X", "河南郑州"):
        assert secret not in text


def test_the_months_come_from_the_setting(settings, ledger):
    settings.RESIDENT_RETENTION_MONTHS = 6
    assert retention.residents_erase_expired_personal_data(today=date(2027, 8, 5))["erased"] == 1
    assert retention.residents_erase_expired_personal_data(today=date(2027, 8, 6))["erased"] == 2


def test_the_nightly_task_is_on_the_beat_schedule_and_erases(ledger, monkeypatch):
    entries = [entry for entry in app.conf.beat_schedule.values()
               if entry["task"] == "customers.tasks.erase_expired_resident_data"]
    assert len(entries) == 1 and "customers.tasks.erase_expired_resident_data" in app.tasks
    monkeypatch.setattr("customers.retention.timezone.localdate", lambda: date(2027, 5, 6))
    result = erase_expired_resident_data.delay()
    assert result.get()["erased"] == 3


def test_an_erased_residents_page_says_so_and_shows_no_number(ledger, settings):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import UserFactory

    retention.residents_erase_expired_personal_data(today=date(2027, 8, 1), months=3)
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("customers:resident_detail", args=[ledger["this_year"].pk])).content.decode()
    assert "Personal data erased" in page and "岑今年" not in page
    assert "13800000022" not in page and "138****0022" not in page
    listing = client.get(reverse("customers:resident_list") + "?season=all").content.decode()
    assert listing.count("Personal data erased") == 3 and "岑明年" in listing
