"""Visit services: rounds, scheduling, moving, logging, hazards and issues, per persona."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from customers.models import ReturningResident
from tests.factories import (
    HouseholdFactory,
    KeyCustomerFactory,
    ReturningResidentFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from tests.visits.factories import VisitFactory
from visits import services
from visits.models import (
    CustomerIssue,
    Hazard,
    HazardEvent,
    IssueEvent,
    Round,
    RoundTarget,
    ServiceCardRecord,
    Visit,
    VisitLog,
)
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.territory.models import Role

TODAY = timezone.localdate


def make_round(user, world, *, days=5, capacity=2, holidays=()):
    start = TODAY()
    return services.round_create(user=user, name="第二轮 2027春节", station_id=world.station_a1.pk,
                                 period_start=start, period_end=start + timedelta(days=days - 1),
                                 daily_capacity=capacity, holidays=holidays)


@pytest.fixture
def second_manager(world):
    user = UserFactory(username="second_manager")
    RoleAssignmentFactory(user=user, role=Role.GRID_MANAGER, grid=world.grids["a1"].grid)
    return user


# --- Rounds -----------------------------------------------------------------------------

def test_station_staff_open_a_round_over_their_station(world, station_staff):
    rnd = make_round(station_staff, world)
    assert (rnd.county_id, rnd.station_id, rnd.status) == (world.county_a.pk, world.station_a1.pk, Round.Status.DRAFT)
    assert AuditLog.objects.filter(action="round.created", object_id=str(rnd.pk)).exists()


def test_a_round_with_zero_capacity_is_refused(world, station_staff):
    with pytest.raises(ValidationError):
        make_round(station_staff, world, capacity=0)
    assert not Round.objects.exists()


def test_an_outsider_cannot_open_a_round_on_another_station(world, personas):
    RoleAssignmentFactory(user=personas.outsider, role=Role.STATION_STAFF, station=world.station_b1)
    with pytest.raises(Http404):
        make_round(personas.outsider, world)


def test_a_grid_manager_may_not_open_rounds(world, grid_manager):
    with pytest.raises(PermissionDenied):
        make_round(grid_manager, world)


def test_targets_from_key_customers_returning_households_and_villages(world, station_staff):
    a1, a2, b1 = world.grids["a1"], world.grids["a2"], world.grids["b1"]
    customer = KeyCustomerFactory(grid=a1.grid)
    KeyCustomerFactory(grid=b1.grid)  # another county: not in the round
    rnd = make_round(station_staff, world, days=10)
    arriving = ReturningResidentFactory(village=a1.village, household=a1.households[0],
                                        arrival_date=TODAY() + timedelta(days=3))
    ReturningResidentFactory(village=a1.village, household=a1.households[0], arrival_date=TODAY() + timedelta(days=5))
    ReturningResidentFactory(village=a2.village, household=a2.households[0], arrival_date=TODAY() + timedelta(days=30))

    assert services.round_targets_build(user=station_staff, round_id=rnd.pk, source="key_customers") == 1
    assert services.round_targets_build(user=station_staff, round_id=rnd.pk, source="returning") == 1
    assert services.round_targets_build(user=station_staff, round_id=rnd.pk, source="villages",
                                        village_ids=[a2.village.pk]) == 1
    # Building again adds nothing.
    assert services.round_targets_build(user=station_staff, round_id=rnd.pk, source="key_customers") == 0

    targets = {t.target_key: t for t in RoundTarget.objects.filter(round=rnd)}
    assert set(targets) == {f"keycustomer:{customer.pk}", f"household:{a1.households[0].pk}",
                            f"village:{a2.village.pk}"}
    assert targets[f"household:{a1.households[0].pk}"].earliest == arriving.arrival_date
    assert targets[f"village:{a2.village.pk}"].grid_id == a2.grid.pk


def test_an_uploaded_list_outside_the_round_is_refused_whole(world, station_staff):
    rnd = make_round(station_staff, world)
    inside, outside = world.grids["a1"].households[0], world.grids["a3"].households[0]
    with pytest.raises(ValidationError):
        services.round_targets_build(user=station_staff, round_id=rnd.pk, source="upload",
                                     household_ids=[inside.pk, outside.pk])
    assert not RoundTarget.objects.exists()


# --- Scheduling -------------------------------------------------------------------------

def test_scheduling_an_empty_target_list_is_refused(world, station_staff):
    rnd = make_round(station_staff, world)
    with pytest.raises(ValidationError):
        services.round_schedule(user=station_staff, round_id=rnd.pk)


def test_scheduling_respects_capacity_and_grids_and_explains_the_rest(world, station_staff, grid_manager,
                                                                      second_manager):
    a1, a2 = world.grids["a1"], world.grids["a2"]
    extra = [HouseholdFactory(village=a1.village, transformer=a1.transformer) for _ in range(9)]
    rnd = make_round(station_staff, world, days=2, capacity=2, holidays=[TODAY() + timedelta(days=1)])
    household_ids = [h.pk for h in a1.households + extra] + [h.pk for h in a2.households]
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="upload", household_ids=household_ids)

    result = services.round_schedule(user=station_staff, round_id=rnd.pk)

    # One working day (the second is a holiday), two managers in a1, capacity 2: 4 visits.
    per_day = Counter((v.grid_manager_id, v.planned_date) for v in Visit.objects.all())
    assert set(per_day.values()) == {2}
    assert {m for m, _ in per_day} == {grid_manager.pk, second_manager.pk}
    assert Visit.objects.count() == 4 == len(result.created)
    assert all(v.grid_id == a1.grid.pk for v in Visit.objects.all())
    reasons = Counter(u.reason for u in result.unplaced)
    assert reasons == {"no_capacity": 7, "no_manager": 2}  # a2 has no grid manager
    assert all(u.message for u in result.unplaced)
    rnd.refresh_from_db()
    assert rnd.status == Round.Status.ACTIVE


def test_scheduling_twice_adds_nothing(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world, days=3, capacity=5)
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="villages",
                                 village_ids=[world.grids["a1"].village.pk])
    first = services.round_schedule(user=station_staff, round_id=rnd.pk)
    second = services.round_schedule(user=station_staff, round_id=rnd.pk)
    assert (len(first.created), len(second.created), second.already_planned) == (1, 0, 1)
    assert Visit.objects.count() == 1


def test_existing_visits_of_other_rounds_use_up_capacity(world, station_staff, grid_manager):
    a1 = world.grids["a1"]
    rnd = make_round(station_staff, world, days=1, capacity=1)
    VisitFactory(grid=a1.grid, grid_manager=grid_manager, village=a1.village, planned_date=TODAY())
    services.round_targets_build(user=station_staff, round_id=rnd.pk, source="upload",
                                 household_ids=[a1.households[0].pk])
    result = services.round_schedule(user=station_staff, round_id=rnd.pk)
    assert result.created == []
    assert [u.reason for u in result.unplaced] == ["no_capacity"]


# --- Moving, reassigning, cancelling, missing ---------------------------------------------

@pytest.fixture
def planned(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world, days=5, capacity=1)
    a1 = world.grids["a1"]
    return VisitFactory(round=rnd, grid=a1.grid, grid_manager=grid_manager, village=None,
                        household=a1.households[0], planned_date=TODAY())


def test_a_visit_moves_only_to_a_day_with_capacity_inside_the_period(world, grid_manager, planned):
    a1 = world.grids["a1"]
    tomorrow = TODAY() + timedelta(days=1)
    VisitFactory(round=planned.round, grid=a1.grid, grid_manager=grid_manager, village=a1.village,
                 planned_date=tomorrow)
    with pytest.raises(ValidationError):
        services.visit_move(user=grid_manager, visit_id=planned.pk, planned_date=tomorrow)  # full
    with pytest.raises(ValidationError):
        services.visit_move(user=grid_manager, visit_id=planned.pk, planned_date=TODAY() + timedelta(days=9))
    with pytest.raises(ValidationError):
        services.visit_move(user=grid_manager, visit_id=planned.pk, planned_date=TODAY() - timedelta(days=1))
    moved = services.visit_move(user=grid_manager, visit_id=planned.pk, planned_date=TODAY() + timedelta(days=2))
    assert moved.planned_date == TODAY() + timedelta(days=2)


def test_a_visit_is_reassigned_only_within_its_grid(world, station_staff, planned, second_manager):
    stranger = UserFactory(username="a2_manager")
    RoleAssignmentFactory(user=stranger, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)
    with pytest.raises(ValidationError):
        services.visit_reassign(user=station_staff, visit_id=planned.pk, grid_manager_id=stranger.pk)
    visit = services.visit_reassign(user=station_staff, visit_id=planned.pk, grid_manager_id=second_manager.pk)
    assert visit.grid_manager_id == second_manager.pk


def test_a_cancelled_visit_cannot_be_moved(grid_manager, planned):
    services.visit_cancel(user=grid_manager, visit_id=planned.pk, reason="客户已搬走")
    with pytest.raises(ValidationError):
        services.visit_move(user=grid_manager, visit_id=planned.pk, planned_date=TODAY() + timedelta(days=1))


def test_a_missed_visit_needs_a_reason_and_is_proposed_the_next_day_with_capacity(world, grid_manager, planned):
    with pytest.raises(ValidationError):
        services.visit_mark_missed(user=grid_manager, visit_id=planned.pk, reason="  ")
    a1 = world.grids["a1"]
    VisitFactory(round=planned.round, grid=a1.grid, grid_manager=grid_manager, village=a1.village,
                 planned_date=TODAY() + timedelta(days=1))
    missed, proposed = services.visit_mark_missed(user=grid_manager, visit_id=planned.pk, reason="家中无人")
    assert (missed.status, missed.missed_reason) == (Visit.Status.MISSED, "家中无人")
    assert proposed.planned_date == TODAY() + timedelta(days=2)  # tomorrow is full
    assert (proposed.rescheduled_from_id, proposed.household_id, proposed.status) == (
        planned.pk, planned.household_id, Visit.Status.PLANNED)


def test_a_missed_visit_with_no_day_left_is_not_proposed(world, station_staff, grid_manager):
    rnd = make_round(station_staff, world, days=1, capacity=1)
    visit = VisitFactory(round=rnd, grid=world.grids["a1"].grid, grid_manager=grid_manager,
                         village=world.grids["a1"].village)
    _missed, proposed = services.visit_mark_missed(user=grid_manager, visit_id=visit.pk, reason="暴雪")
    assert proposed is None
    assert Visit.objects.count() == 1


@pytest.mark.parametrize("action", ["move", "cancel", "missed", "log"])
def test_an_outsider_gets_404_on_a_visit(personas, planned, action):
    calls = {
        "move": lambda: services.visit_move(user=personas.outsider, visit_id=planned.pk,
                                            planned_date=TODAY() + timedelta(days=1)),
        "cancel": lambda: services.visit_cancel(user=personas.outsider, visit_id=planned.pk),
        "missed": lambda: services.visit_mark_missed(user=personas.outsider, visit_id=planned.pk, reason="x"),
        "log": lambda: services.visit_log_submit(user=personas.outsider, visit_id=planned.pk, client_key="k1"),
    }
    with pytest.raises(Http404):
        calls[action]()
    planned.refresh_from_db()
    assert planned.status == Visit.Status.PLANNED


# --- Visit logs ---------------------------------------------------------------------------

def submit(user, visit, key="phone-1", **extra):
    payload = {
        "met_person": "户主本人", "needs": "春节期间用电取暖", "guidance": ["guided_payment", "guided_find_electrician"],
        "checklist": [{"item": "meter_box", "result": "problem", "note": "锈蚀"},
                      {"item": "earthing", "result": "ok"}],
        "hazards": [{"severity": "serious", "description": "表箱锈蚀漏电风险",
                     "deadline": TODAY() + timedelta(days=7)}],
        "issues": [{"category": "no_power", "description": "后院无电"}],
        "cards_handed_out": 2, "cards_posted": 1,
    }
    payload.update(extra)
    return services.visit_log_submit(user=user, visit_id=visit.pk, client_key=key, **payload)


def test_a_log_records_the_whole_visit(world, grid_manager, planned):
    resident = ReturningResidentFactory(village=world.grids["a1"].village, household=world.grids["a1"].households[0])
    log = submit(grid_manager, planned, resident_ids=[resident.pk])

    planned.refresh_from_db()
    resident.refresh_from_db()
    assert planned.status == Visit.Status.DONE and planned.done_at is not None
    assert (log.guided_payment, log.guided_balance, log.guided_find_electrician) == (True, False, True)
    assert sorted(log.checklist.values_list("item", "result")) == [("earthing", "ok"), ("meter_box", "problem")]
    hazard = Hazard.objects.get()
    assert (hazard.visit_log_id, hazard.household_id, hazard.status) == (log.pk, planned.household_id, "found")
    assert HazardEvent.objects.filter(hazard=hazard, to_status="found").count() == 1
    issue = CustomerIssue.objects.get()
    assert (issue.channel, issue.status, issue.due_at - issue.raised_at) == ("visit", "open", timedelta(hours=4))
    assert IssueEvent.objects.filter(issue=issue).count() == 1
    cards = ServiceCardRecord.objects.get()
    assert (cards.visit_id, cards.handed_out, cards.posted, cards.round_id) == (planned.pk, 2, 1, planned.round_id)
    assert list(log.residents_confirmed.all()) == [resident]
    assert resident.status == ReturningResident.Status.ARRIVED


def test_a_retried_submit_returns_the_first_log_and_creates_nothing(grid_manager, planned):
    first = submit(grid_manager, planned)
    again = submit(grid_manager, planned, needs="改过的内容")
    assert again.pk == first.pk
    assert (VisitLog.objects.count(), Hazard.objects.count(), CustomerIssue.objects.count(),
            ServiceCardRecord.objects.count()) == (1, 1, 1, 1)
    assert AuditLog.objects.filter(action="visitlog.submitted").count() == 1


def test_a_second_log_with_another_key_is_refused(grid_manager, planned):
    submit(grid_manager, planned)
    with pytest.raises(ValidationError):
        submit(grid_manager, planned, key="phone-2")
    assert VisitLog.objects.count() == 1


def test_a_key_of_another_visit_is_refused(world, grid_manager, planned):
    other = VisitFactory(grid=world.grids["a1"].grid, grid_manager=grid_manager, village=world.grids["a1"].village)
    submit(grid_manager, planned)
    with pytest.raises(ValidationError):
        submit(grid_manager, other)
    other.refresh_from_db()
    assert other.status == Visit.Status.PLANNED


@pytest.mark.parametrize("bad", [
    {"hazards": [{"severity": "serious", "description": "x", "deadline": TODAY() - timedelta(days=1)}]},
    {"hazards": [{"severity": "catastrophic", "description": "x", "deadline": TODAY()}]},
    {"issues": [{"category": "weather", "description": "x"}]},
    {"checklist": [{"item": "meter_box", "result": "ok"}, {"item": "meter_box", "result": "problem"}]},
    {"cards_handed_out": -1},
    {"guidance": ["guided_lottery"]},
])
def test_bad_input_writes_nothing(grid_manager, planned, bad):
    with pytest.raises(ValidationError):
        submit(grid_manager, planned, **bad)
    planned.refresh_from_db()
    assert planned.status == Visit.Status.PLANNED
    assert (VisitLog.objects.count(), Hazard.objects.count(), CustomerIssue.objects.count()) == (0, 0, 0)


def test_a_resident_of_another_grid_cannot_be_confirmed(world, grid_manager, planned):
    elsewhere = ReturningResidentFactory(village=world.grids["a2"].village)
    with pytest.raises(Http404):
        submit(grid_manager, planned, resident_ids=[elsewhere.pk])
    assert not VisitLog.objects.exists()


# --- Hazards and issues -------------------------------------------------------------------

def test_a_hazard_runs_find_notify_rectify_recheck_and_refuses_skipped_steps(world, grid_manager):
    hazard = services.hazard_report(user=grid_manager, grid_id=world.grids["a1"].grid.pk, severity="general",
                                    description="进户线老化", deadline=TODAY() + timedelta(days=3),
                                    household_id=world.grids["a1"].households[0].pk)
    with pytest.raises(ValidationError):
        services.hazard_rectify(user=grid_manager, hazard_id=hazard.pk)
    with pytest.raises(ValidationError):
        services.hazard_recheck(user=grid_manager, hazard_id=hazard.pk)
    services.hazard_notify(user=grid_manager, hazard_id=hazard.pk)
    services.hazard_rectify(user=grid_manager, hazard_id=hazard.pk)
    closed = services.hazard_recheck(user=grid_manager, hazard_id=hazard.pk, note="复核合格")
    assert (closed.status, closed.closed_at is not None) == ("rechecked", True)
    assert list(closed.events.values_list("from_status", "to_status")) == [
        ("", "found"), ("found", "notified"), ("notified", "rectifying"), ("rectifying", "rechecked")]
    with pytest.raises(ValidationError):
        services.hazard_notify(user=grid_manager, hazard_id=hazard.pk)


def test_a_hazard_outside_the_grid_or_in_the_past_is_refused(world, grid_manager, personas):
    with pytest.raises(ValidationError):
        services.hazard_report(user=grid_manager, grid_id=world.grids["a1"].grid.pk, severity="general",
                               description="x", deadline=TODAY() - timedelta(days=1))
    with pytest.raises(ValidationError):
        services.hazard_report(user=grid_manager, grid_id=world.grids["a1"].grid.pk, severity="general",
                               description="x", deadline=TODAY(), household_id=world.grids["a2"].households[0].pk)
    with pytest.raises(Http404):
        services.hazard_report(user=personas.outsider, grid_id=world.grids["a1"].grid.pk, severity="general",
                               description="x", deadline=TODAY())
    assert not Hazard.objects.exists()


@pytest.mark.parametrize("category,hours", [("no_power", 4), ("billing", 120), ("new_connection", 240),
                                            ("app_help", 24)])
def test_an_issue_is_due_by_its_categorys_target_time(world, station_staff, category, hours):
    issue = services.issue_open(user=station_staff, grid_id=world.grids["a1"].grid.pk, channel="hotline",
                                category=category, description="95598转来")
    assert issue.due_at - issue.raised_at == timedelta(hours=hours)


def test_the_target_times_come_from_the_setting(world, station_staff, settings):
    settings.ISSUE_SLA_HOURS = {**settings.ISSUE_SLA_HOURS, "meter": 1}
    issue = services.issue_open(user=station_staff, grid_id=world.grids["a1"].grid.pk, channel="phone",
                                category="meter", description="表计")
    assert issue.due_at - issue.raised_at == timedelta(hours=1)


def test_an_issue_runs_open_progress_resolved_confirmed_in_order(world, grid_manager, personas):
    issue = services.issue_open(user=grid_manager, grid_id=world.grids["a1"].grid.pk, channel="phone",
                                category="low_voltage", description="晚上电压低")
    with pytest.raises(ValidationError):
        services.issue_resolve(user=grid_manager, issue_id=issue.pk)
    with pytest.raises(Http404):
        services.issue_start(user=personas.outsider, issue_id=issue.pk)
    services.issue_start(user=grid_manager, issue_id=issue.pk)
    with pytest.raises(ValidationError):
        services.issue_confirm(user=grid_manager, issue_id=issue.pk)
    services.issue_resolve(user=grid_manager, issue_id=issue.pk)
    done = services.issue_confirm(user=grid_manager, issue_id=issue.pk)
    assert done.status == "confirmed" and done.resolved_at and done.confirmed_at
    assert list(done.events.values_list("to_status", flat=True)) == ["open", "in_progress", "resolved", "confirmed"]


# --- Cards and photos ---------------------------------------------------------------------

def test_bulk_cards_only_for_a_grid_manager_of_the_village(world, station_staff, grid_manager, personas):
    village = world.grids["a1"].village
    with pytest.raises(ValidationError):
        services.service_cards_record(user=station_staff, grid_manager_id=personas.outsider.pk,
                                      village_id=village.pk, date=TODAY(), handed_out=30)
    record = services.service_cards_record(user=station_staff, grid_manager_id=grid_manager.pk,
                                           village_id=village.pk, date=TODAY(), handed_out=30, posted=12)
    assert (record.grid_id, record.handed_out, record.posted) == (village.grid_id, 30, 12)


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def test_a_photo_must_be_an_image_of_limited_size(world, grid_manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    hazard = services.hazard_report(user=grid_manager, grid_id=world.grids["a1"].grid.pk, severity="general",
                                    description="x", deadline=TODAY())
    with pytest.raises(ValidationError):
        services.photo_add(user=grid_manager, hazard_id=hazard.pk, kind="before",
                           file=SimpleUploadedFile("a.jpg", b"%PDF-1.4 not an image"))
    big = SimpleUploadedFile("big.jpg", JPEG + b"\x00" * services.PHOTO_MAX_BYTES)
    with pytest.raises(ValidationError):
        services.photo_add(user=grid_manager, hazard_id=hazard.pk, kind="before", file=big)
    photo = services.photo_add(user=grid_manager, hazard_id=hazard.pk, kind="before",
                               file=SimpleUploadedFile("p.jpg", JPEG))
    assert (photo.content_type, photo.size_bytes, photo.grid_id) == ("image/jpeg", len(JPEG), hazard.grid_id)
    assert (tmp_path / photo.image.name).read_bytes() == JPEG
