"""Hazard and issue boards: scoping per persona, every step and its refusal, overdue rows,
raising an issue, pinned query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.visits.factories import CustomerIssueFactory, HazardFactory
from tests.visits.test_photos import image_bytes
from visits.models import CustomerIssue, Hazard, HazardEvent, IssueEvent, Photo

TODAY = timezone.localdate


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages below are the English msgids
    return client


def hazard_urls(response) -> set[str]:
    return set(re.findall(r'href="(/visits/boards/hazards/\d+/)"', response.content.decode()))


def issue_urls(response) -> set[str]:
    return set(re.findall(r'href="(/visits/boards/issues/\d+/)"', response.content.decode()))


@pytest.fixture
def hazards(world, personas):
    return {key: HazardFactory(grid=world.grids[key].grid, found_by=personas.grid_manager)
            for key in ("a1", "a2", "a3", "b1")}


@pytest.fixture
def issues(world, personas):
    return {key: CustomerIssueFactory(grid=world.grids[key].grid, raised_by=personas.grid_manager)
            for key in ("a1", "a2", "a3", "b1")}


def detail(obj) -> str:
    name = "visits:hazard_detail" if isinstance(obj, Hazard) else "visits:issue_detail"
    return reverse(name, args=[obj.pk])


# --- Scoping ---------------------------------------------------------------------------

@pytest.mark.parametrize(("persona", "visible"), [
    ("grid_manager", {"a1"}),
    ("station_staff", {"a1", "a2"}),
    ("county_admin", {"a1", "a2", "a3"}),
    ("outsider", {"b1"}),
])
def test_each_persona_sees_the_hazards_and_issues_of_their_territory(personas, hazards, issues, persona, visible):
    client = client_for(getattr(personas, persona))
    board = client.get(reverse("visits:hazard_board"))
    assert board.status_code == 200
    assert hazard_urls(board) == {detail(hazards[key]) for key in visible}
    board = client.get(reverse("visits:issue_board"))
    assert issue_urls(board) == {detail(issues[key]) for key in visible}


def test_a_hazard_or_issue_outside_the_territory_is_a_404_like_a_missing_one(personas, hazards, issues):
    client = client_for(personas.grid_manager)
    for obj in (hazards["a2"], issues["a2"]):
        assert client.get(detail(obj)).status_code == 404
        assert client.post(detail(obj), {"step": "notify" if isinstance(obj, Hazard) else "start"}).status_code == 404
    assert client.get(reverse("visits:hazard_detail", args=[987654])).status_code == 404
    hazards["a2"].refresh_from_db()
    assert hazards["a2"].status == Hazard.Status.FOUND


def test_a_user_without_a_role_may_not_open_the_boards(personas):
    assert client_for(personas.nobody).get(reverse("visits:hazard_board")).status_code == 403


# --- Hazard steps -----------------------------------------------------------------------

def test_a_hazard_goes_through_the_closed_loop_step_by_step(personas, hazards):
    hazard = hazards["a1"]
    client = client_for(personas.grid_manager)
    for step, status in (("notify", "notified"), ("rectify", "rectifying"), ("recheck", "rechecked")):
        page = client.get(detail(hazard))
        assert f'data-next-step="{step}"' in page.content.decode()
        response = client.post(detail(hazard), {"step": step, "note": f"步骤 {step}"})
        assert response.status_code == 302
        hazard.refresh_from_db()
        assert hazard.status == status
    assert hazard.closed_at is not None
    assert list(HazardEvent.objects.filter(hazard=hazard, from_status__gt="").values_list("to_status", "note")) == [
        ("notified", "步骤 notify"), ("rectifying", "步骤 rectify"), ("rechecked", "步骤 recheck")]
    page = client.get(detail(hazard)).content.decode()
    assert "data-next-step" not in page  # closed: no further step
    assert "步骤 rectify" in page  # the history


@pytest.mark.parametrize(("step", "status"), [("rectify", "found"), ("recheck", "found"), ("recheck", "notified"),
                                              ("notify", "rectifying")])
def test_a_step_that_skips_one_is_refused_with_a_clear_message(personas, world, step, status):
    hazard = HazardFactory(grid=world.grids["a1"].grid, status=status, found_by=personas.grid_manager)
    client = client_for(personas.grid_manager)
    response = client.post(detail(hazard), {"step": step}, follow=True)
    hazard.refresh_from_db()
    assert hazard.status == status
    assert "this step needs it to be" in response.content.decode()
    assert not HazardEvent.objects.filter(hazard=hazard).exists()


def test_an_unknown_step_is_refused(personas, hazards):
    response = client_for(personas.grid_manager).post(detail(hazards["a1"]), {"step": "delete"}, follow=True)
    assert "There is no such step." in response.content.decode()
    hazards["a1"].refresh_from_db()
    assert hazards["a1"].status == Hazard.Status.FOUND


def test_station_staff_take_steps_on_their_station_s_hazards(personas, hazards):
    client = client_for(personas.station_staff)
    assert client.post(detail(hazards["a2"]), {"step": "notify"}).status_code == 302
    hazards["a2"].refresh_from_db()
    assert hazards["a2"].status == Hazard.Status.NOTIFIED


def test_before_and_after_photos_are_added_on_the_detail_page(personas, hazards, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path  # noqa: F811 - the pytest-django fixture
    # A real image: a file that only starts like a PNG is refused since photos are re-encoded.
    png = image_bytes((40, 30), "PNG", gps=False)
    client = client_for(personas.grid_manager)
    response = client.post(detail(hazards["a1"]), {"kind": "before", "image": SimpleUploadedFile("a.png", png)})
    assert response.status_code == 302
    assert Photo.objects.filter(hazard=hazards["a1"], kind="before").count() == 1
    refused = client.post(detail(hazards["a1"]), {"kind": "after", "image": SimpleUploadedFile("a.png", b"text")},
                          follow=True)
    assert "not a JPEG, PNG or WebP image" in refused.content.decode()
    board = client.get(reverse("visits:hazard_board")).content.decode()
    assert "Photos 1 before · 0 after" in board


# --- Overdue and filters -------------------------------------------------------------------

def _card(page: str, pk: int) -> str:
    match = re.search(rf'<article class="([^"]*)" data-row="{pk}">', page)
    assert match, f"row {pk} not on the board"
    return match.group(1)


def test_overdue_hazards_and_issues_are_highlighted(personas, world):
    grid = world.grids["a1"].grid
    late = HazardFactory(grid=grid, deadline=TODAY() - timedelta(days=1), found_by=personas.grid_manager)
    on_time = HazardFactory(grid=grid, deadline=TODAY(), found_by=personas.grid_manager)
    closed_late = HazardFactory(grid=grid, deadline=TODAY() - timedelta(days=3), status="rechecked",
                                closed_at=timezone.now(), found_by=personas.grid_manager)
    client = client_for(personas.grid_manager)
    page = client.get(reverse("visits:hazard_board")).content.decode()
    assert "vb-overdue" in _card(page, late.pk)
    assert "vb-overdue" not in _card(page, on_time.pk)
    assert "vb-overdue" not in _card(page, closed_late.pk)
    only_overdue = client.get(reverse("visits:hazard_board"), {"overdue": "true"})
    assert hazard_urls(only_overdue) == {detail(late)}

    raised = timezone.now() - timedelta(hours=10)
    late_issue = CustomerIssueFactory(grid=grid, raised_at=raised, due_at=raised + timedelta(hours=4))
    open_issue = CustomerIssueFactory(grid=grid)
    page = client.get(reverse("visits:issue_board")).content.decode()
    assert "vb-overdue" in _card(page, late_issue.pk)
    assert "vb-overdue" not in _card(page, open_issue.pk)
    assert issue_urls(client.get(reverse("visits:issue_board"), {"overdue": "true"})) == {detail(late_issue)}


def test_the_status_filter_shows_one_column(personas, world):
    grid = world.grids["a1"].grid
    found = HazardFactory(grid=grid, found_by=personas.grid_manager)
    notified = HazardFactory(grid=grid, status="notified", severity="critical", found_by=personas.grid_manager)
    client = client_for(personas.grid_manager)
    response = client.get(reverse("visits:hazard_board"), {"status": "notified"})
    assert re.findall(r'data-column="(\w+)"', response.content.decode()) == ["notified"]
    assert hazard_urls(response) == {detail(notified)}
    assert hazard_urls(client.get(reverse("visits:hazard_board"), {"severity": "general"})) == {detail(found)}


# --- Issue steps and raising -----------------------------------------------------------

def test_an_issue_goes_open_in_progress_resolved_confirmed(personas, issues):
    issue = issues["a1"]
    client = client_for(personas.grid_manager)
    for step, status in (("start", "in_progress"), ("resolve", "resolved"), ("confirm", "confirmed")):
        assert f'data-next-step="{step}"' in client.get(detail(issue)).content.decode()
        client.post(detail(issue), {"step": step})
        issue.refresh_from_db()
        assert issue.status == status
    assert issue.resolved_at and issue.confirmed_at
    assert IssueEvent.objects.filter(issue=issue).count() == 3


def test_confirming_an_issue_before_it_is_resolved_is_refused(personas, issues):
    response = client_for(personas.grid_manager).post(detail(issues["a1"]), {"step": "confirm"}, follow=True)
    assert "The issue is Open; this step needs it to be Resolved." in response.content.decode()
    issues["a1"].refresh_from_db()
    assert issues["a1"].status == CustomerIssue.Status.OPEN


def test_a_grid_manager_raises_a_phone_issue_due_by_the_category_target(personas, world):
    client = client_for(personas.grid_manager)
    page = client.get(reverse("visits:issue_raise")).content.decode()
    assert world.grids["a1"].grid.name in page and world.grids["a2"].grid.name not in page
    before = timezone.now()
    response = client.post(reverse("visits:issue_raise"), {
        "grid": world.grids["a1"].grid.pk, "village": world.grids["a1"].village.pk, "channel": "phone",
        "category": "no_power", "description": "整村停电"})
    issue = CustomerIssue.objects.get(description="整村停电")
    assert response.status_code == 302 and response["Location"] == detail(issue)
    assert (issue.channel, issue.status, issue.village_id) == ("phone", "open", world.grids["a1"].village.pk)
    expected = timedelta(hours=settings.ISSUE_SLA_HOURS["no_power"])
    assert before + expected <= issue.due_at <= timezone.now() + expected


def test_raising_an_issue_outside_the_territory_or_without_a_description_is_refused(personas, world):
    client = client_for(personas.grid_manager)
    response = client.post(reverse("visits:issue_raise"), {
        "grid": world.grids["b1"].grid.pk, "channel": "hotline", "category": "meter", "description": "x"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    response = client.post(reverse("visits:issue_raise"), {
        "grid": world.grids["a1"].grid.pk, "village": world.grids["a1"].village.pk, "channel": "hotline",
        "category": "meter", "description": ""})
    assert response.status_code == 200
    assert not CustomerIssue.objects.exists()


def test_a_village_of_another_grid_is_refused(personas, world):
    response = client_for(personas.station_staff).post(reverse("visits:issue_raise"), {
        "grid": world.grids["a1"].grid.pk, "village": world.grids["a2"].village.pk, "channel": "phone",
        "category": "meter", "description": "表计问题"})
    assert "This village is not in the chosen grid." in response.content.decode()
    assert not CustomerIssue.objects.exists()


# --- Navigation and query counts ---------------------------------------------------------

def test_the_navigation_offers_hazards_and_issues(personas):
    page = client_for(personas.grid_manager).get(reverse("home")).content.decode()
    assert reverse("visits:hazard_board") in page and reverse("visits:issue_board") in page
    assert reverse("visits:hazard_board") not in client_for(personas.nobody).get(reverse("home")).content.decode()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("name", ["visits:hazard_board", "visits:issue_board"])
def test_a_board_costs_a_fixed_number_of_queries(personas, world, name):
    client = client_for(personas.station_staff)
    url = reverse(name)
    factory = HazardFactory if name == "visits:hazard_board" else CustomerIssueFactory

    def add(count):
        for index in range(count):
            key = ("a1", "a2")[index % 2]
            factory(grid=world.grids[key].grid, status=factory._meta.model.Status.values[index % 4],
                    **({"closed_at": timezone.now()} if factory is HazardFactory and index % 4 == 3 else
                       {"resolved_at": timezone.now(), "confirmed_at": timezone.now()} if factory is not HazardFactory
                       and index % 4 >= 2 else {}))

    add(4)
    client.get(url)  # the unread badge is cached for a minute after the first page
    few = _queries(client, url)
    add(16)
    many = _queries(client, url)
    assert few == many
    # session and user, the role assignments (roles and territory in one) and the station's
    # county (territory), one count per status, one page per status column (4), the grid
    # filter's choices. No permission query: the roles answer every permission.
    assert many == PINNED_BOARD_QUERIES


PINNED_BOARD_QUERIES = 10
