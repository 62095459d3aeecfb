"""seed_demo's customers steps: residents, key customers and plans (counts, consistency, determinism)."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from customers import demo as customers_demo
from customers.models import KeyCustomer, ReturningResident, ServicePlan
from customers.parsing import id_check_digit
from zhoukou_grid.core.crypto import decrypt
from zhoukou_grid.territory import demo, seeding
from zhoukou_grid.territory.models import County, Grid, Village

pytestmark = pytest.mark.django_db

# The demo is placed relative to the day it is seeded; these checks seed it on one day
# (tests/seed/test_seed_season.py seeds it on others).
TODAY = date(2026, 12, 6)
SEASON = demo.demo_season(TODAY)
NEW_YEAR = SEASON.new_year  # 2027-02-06


def this_season():
    return ReturningResident.objects.filter(season=SEASON.season)


def last_season():
    return ReturningResident.objects.filter(season=SEASON.last_season)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def customers_digest() -> str:
    """Every resident, key customer and plan seeded, independent of ids and timestamps."""
    digest = hashlib.sha256()
    parts = [
        ReturningResident.objects.values_list(
            "match_key", "name", "id_number_hmac", "phone_hmac", "village__code", "household__account_no", "account_no",
            "head_name", "persons", "arrival_date", "departure_date", "heating", "workplace", "village_group"),
        KeyCustomer.objects.values_list("account_no", "name", "category", "importance", "grid__code",
                                        "village__code", "transformer__code", "contact_phone_hmac", "backup_kw"),
        ServicePlan.objects.values_list("customer__account_no", "version", "status", "measures", "hazards",
                                        "responsible__username", "cadence"),
    ]
    for queryset in parts:
        for row in sorted(queryset, key=repr):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture
def demo_world():
    return seed("--scale", "demo", "--today", TODAY.isoformat())


def unreported_villages() -> set[int]:
    """The villages of the territory with no resident of this season."""
    return set(Village.objects.values_list("pk", flat=True)) - set(this_season().values_list("village_id", flat=True))


def test_demo_counts(demo_world):
    targets = customers_demo.RESIDENT_TARGETS["demo"]
    assert this_season().count() + last_season().count() == ReturningResident.objects.count()
    # This season: the target, less the linked residents of the villages that have not reported.
    linked = this_season().filter(household__isnull=False)
    assert 0.75 * targets.households < linked.values("household").distinct().count() < targets.households == 1_600
    unlinked = ReturningResident.objects.filter(household__isnull=True)
    assert unlinked.count() == this_season().filter(household__isnull=True).count() == round(
        2_400 * targets.unlinked_share)
    assert not unlinked.exclude(account_no="").exists()
    # A few villages, at least one per station and none of the sample spreadsheets', have not reported.
    missing = unreported_villages()
    stations = set(Village.objects.filter(pk__in=missing).values_list("grid__station_id", flat=True))
    assert stations == set(Village.objects.values_list("grid__station_id", flat=True))
    assert len(missing) <= 0.2 * Village.objects.count()
    assert not Village.objects.filter(pk__in=missing, name__in=["朱口村", "后常营村", "小王庄村"]).exists()
    # Last season: every unreported village has a list (the outlook estimates from it),
    # as has every village of the back-test stations; linked residents only.
    last = last_season()
    assert missing <= set(last.values_list("village_id", flat=True))
    assert not last.filter(household__isnull=True).exists()
    assert last.values("household").distinct().count() > 300
    assert KeyCustomer.objects.count() == 40
    # Every key customer has exactly one approved plan; some have a newer draft.
    approved = Counter(ServicePlan.objects.filter(status="approved").values_list("customer_id", flat=True))
    assert len(approved) == 40 and set(approved.values()) == {1}
    assert ServicePlan.objects.filter(status="draft").exists()
    assert ServicePlan.objects.filter(status="superseded").exists()
    for plan in ServicePlan.objects.filter(status="draft"):
        assert plan.version > ServicePlan.objects.get(customer_id=plan.customer_id, status="approved").version
    assert set(KeyCustomer.objects.values_list("category", flat=True)) >= {"school", "nursing_home", "hospital",
                                                                            "water", "telecom", "farm"}


def test_residents_are_consistent_with_the_territory(demo_world):
    territory_villages = set(Village.objects.values_list("pk", flat=True))
    assert set(ReturningResident.objects.values_list("village_id", flat=True)) <= territory_villages
    # Linked residents belong to a household of their own village, with its account and head.
    linked = ReturningResident.objects.filter(household__isnull=False)
    assert linked.exists()
    assert not linked.exclude(household__village_id=F("village_id")).exists()
    assert not linked.exclude(account_no=F("household__account_no")).exists()
    assert not linked.exclude(head_name=F("household__name")).exists()
    county_codes = set(County.objects.values_list("code", flat=True))
    with_id = [decrypt(token, purpose="id_number") for token in ReturningResident.objects.exclude(
        id_number_enc="").values_list("id_number_enc", flat=True)]
    assert len(with_id) > 1_000
    for number in with_id:
        assert len(number) == 18 and number[:6] in county_codes
        assert id_check_digit(number[:17]) == number[17], number
        assert 1955 <= int(number[6:10]) <= 2008
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))  # a real date
    phones = [decrypt(token, purpose="phone") for token in ReturningResident.objects.exclude(
        phone_enc="").values_list("phone_enc", flat=True)]
    assert len(phones) > 1_000
    assert all(len(p) == 11 and p[0] == "1" and p[1] in "3456789" for p in phones)


def test_arrivals_departures_and_heating(demo_world):
    last = list(last_season().values_list("arrival_date", flat=True))
    assert min(last) >= SEASON.last_new_year - timedelta(days=25)
    assert max(last) < SEASON.last_new_year
    arrivals = list(this_season().values_list("arrival_date", "departure_date", "heating"))
    assert min(a for a, _, _ in arrivals) >= NEW_YEAR - timedelta(days=25) == date(2027, 1, 12)
    assert max(a for a, _, _ in arrivals) <= NEW_YEAR - timedelta(days=1) == date(2027, 2, 5)
    days = Counter(a for a, _, _ in arrivals)
    assert len(days) >= 20  # spread over the window
    last_ten = sum(n for day, n in days.items() if (NEW_YEAR - day).days <= 10)
    assert last_ten > len(arrivals) / 2  # most come home in the last ten days
    departures = [d for _, d, _ in arrivals]
    empty = sum(1 for d in departures if d is None)
    festival = sum(1 for d in departures if d is not None
                   and NEW_YEAR + timedelta(days=7) <= d <= NEW_YEAR + timedelta(days=14))
    assert empty + festival > 0.9 * len(arrivals) and empty > 0 and festival > 0
    heating = Counter(h for _, _, h in arrivals)
    assert {"electric_heater", "air_conditioner", "electric_blanket", "coal"} <= set(heating)


def test_match_keys_are_the_models_own(demo_world):
    for resident in ReturningResident.objects.all()[:300]:
        assert resident.match_key == ReturningResident.build_match_key(
            name=resident.name, id_number=resident.id_number, phone=resident.phone,
            village_id=resident.village_id, account_no=resident.account_no)


def test_key_customers_lie_in_their_grid(demo_world):
    for customer in KeyCustomer.objects.select_related("village", "transformer"):
        assert customer.village.grid_id == customer.grid_id
        assert customer.transformer is None or customer.transformer.grid_id == customer.grid_id
        customer.full_clean()
    managers = dict(Grid.objects.values_list("pk", "manager_id"))
    for plan in ServicePlan.objects.select_related("customer"):
        assert plan.responsible_id == managers[plan.customer.grid_id]
        plan.full_clean()


def test_the_same_seed_gives_the_same_customers_data():
    seed("--scale", "tiny", "--today", TODAY.isoformat())
    first = customers_digest()
    assert 0 < this_season().count() <= customers_demo.RESIDENT_TARGETS["tiny"].residents
    seed("--scale", "tiny", "--reset", "--today", TODAY.isoformat())
    assert customers_digest() == first
    seed("--scale", "tiny", "--reset", "--seed", "7", "--today", TODAY.isoformat())
    assert customers_digest() != first


def test_the_copy_path_writes_valid_json_hazards():
    """The hazards column goes through COPY on PostgreSQL: it must read back as a list of dicts."""
    seed("--scale", "tiny")
    hazards = list(ServicePlan.objects.values_list("hazards", flat=True))
    assert hazards and all(isinstance(h, list) and h and isinstance(h[0], dict) for h in hazards)
    assert connection.vendor in ("sqlite", "postgresql")


def test_the_steps_are_registered_after_the_households():
    names = [step.name for step in seeding.seed_steps()]
    assert names.index("household") < names.index("returning_resident") < names.index("service_plan")
    assert demo.SCALES["city"].households == 1_500_000
    assert customers_demo.RESIDENT_TARGETS["city"].residents == 600_000


def test_every_plan_version_is_approved_after_it_was_drafted(demo_world):
    approved = ServicePlan.objects.filter(approved_at__isnull=False)
    assert approved.exists()
    assert not approved.filter(approved_at__lt=F("created_at")).exists()
    # Drafts were made over the weeks before the day the demo was seeded.
    assert ServicePlan.objects.filter(created_at__date__lt=TODAY - timedelta(days=20)).exists()


def test_the_database_refuses_an_approval_before_the_draft(world):
    from django.db import IntegrityError, transaction

    from tests.factories import KeyCustomerFactory

    plan = ServicePlan.objects.create(customer=KeyCustomerFactory(grid=world.grids["a1"].grid), version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServicePlan.objects.filter(pk=plan.pk).update(approved_at=F("created_at") - timedelta(days=1))


def test_last_seasons_lists_name_mostly_the_same_people(demo_world):
    """A village's list is mostly the same people every season (ReturningResident.season):
    the same match key, household and ID number HMAC, last season's dates."""
    reported = set(this_season().values_list("village_id", flat=True))
    last = last_season().filter(village_id__in=reported)
    assert last.count() > 300
    this_people = {(v, k): (h, i) for v, k, h, i in this_season().values_list(
        "village_id", "match_key", "household_id", "id_number_hmac")}
    again = [(v, k, h, i) for v, k, h, i in last.values_list("village_id", "match_key", "household_id",
                                                             "id_number_hmac") if (v, k) in this_people]
    assert len(again) >= 0.75 * last.count()
    assert all(this_people[(v, k)] == (h, i) for v, k, h, i in again)
    assert len(again) < last.count()  # and a few who have not put their names down this season
    assert not last.filter(arrival_date__gte=SEASON.last_new_year).exists()
