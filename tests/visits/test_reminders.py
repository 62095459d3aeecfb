"""Daily reminders: who gets what, in-app and by email, once a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from tests.visits.factories import CustomerIssueFactory, HazardFactory, VisitFactory
from visits import tasks
from visits.reminders import KIND, reminders_send
from zhoukou_grid.celery import app
from zhoukou_grid.core.models import Notification

TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def situation(world, personas):
    """Tomorrow: two visits of the grid manager (a household, a village) and one cancelled; overdue:
    a hazard in 甲一网格, one in 甲二网格 (same station), one in 甲三网格 (other station), one
    closed late hazard, an issue past its target time in 甲一网格 and one resolved late."""
    for user, address in ((personas.grid_manager, "gm@example.cn"), (personas.station_staff, "staff@example.cn")):
        user.email = address
        user.save(update_fields=["email"])
    a1, a2, a3 = (world.grids[key] for key in ("a1", "a2", "a3"))
    tomorrow = TODAY() + timedelta(days=1)
    household = a1.households[0]
    visits = [
        VisitFactory(grid=a1.grid, grid_manager=personas.grid_manager, planned_date=tomorrow, village=None,
                     household=household),
        VisitFactory(grid=a1.grid, grid_manager=personas.grid_manager, planned_date=tomorrow, village=a1.village),
    ]
    VisitFactory(grid=a1.grid, grid_manager=personas.grid_manager, planned_date=tomorrow, village=a1.village,
                 status="cancelled")
    VisitFactory(grid=a1.grid, grid_manager=personas.grid_manager, planned_date=TODAY() + timedelta(days=2),
                 village=a1.village)
    late = TODAY() - timedelta(days=2)
    hazards = {key: HazardFactory(grid=grid.grid, deadline=late, description=f"隐患{key}")
               for key, grid in (("a1", a1), ("a2", a2), ("a3", a3))}
    HazardFactory(grid=a1.grid, deadline=late, status="rechecked", closed_at=timezone.now(), description="已复核")
    raised = timezone.now() - timedelta(hours=30)
    issue = CustomerIssueFactory(grid=a1.grid, raised_at=raised, due_at=raised + timedelta(hours=24),
                                 category="app_help", description="不会用网上国网")
    CustomerIssueFactory(grid=a1.grid, raised_at=raised, due_at=raised + timedelta(hours=24), status="resolved",
                         resolved_at=timezone.now(), description="已解决")
    return {"visits": visits, "hazards": hazards, "issue": issue, "household": household}


def test_a_grid_manager_hears_of_tomorrow_s_visits_and_their_grid_s_overdue_work(personas, situation, settings,
                                                                                django_capture_on_commit_callbacks):
    settings.LANGUAGE_CODE = "en"  # reminders are written in the portal's language; read them in English
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders_send()
    assert sent == 2  # the grid manager and the station staff; nobody else has anything
    note = Notification.objects.get(user=personas.grid_manager, kind=KIND)
    assert note.title == "Tomorrow: 2 visits · overdue: 1 hazards, 1 issues"
    assert "2 visits planned for tomorrow" in note.body
    assert situation["household"].account_no in note.body
    assert situation["household"].name not in note.body  # no names of people in a mail
    assert "隐患a1" in note.body and "隐患a2" not in note.body and "已复核" not in note.body
    assert "不会用网上国网" in note.body and "已解决" not in note.body
    assert note.url == "/visits/boards/hazards/?overdue=true"
    mails = {message.to[0]: message for message in mail.outbox}
    assert set(mails) == {"gm@example.cn", "staff@example.cn"}
    assert "隐患a1" in mails["gm@example.cn"].body and note.title in mails["gm@example.cn"].subject


def test_station_staff_hear_of_their_station_s_overdue_hazards_and_issues(personas, situation, world, settings,
                                                                          django_capture_on_commit_callbacks):
    settings.LANGUAGE_CODE = "en"
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send()
    note = Notification.objects.get(user=personas.station_staff, kind=KIND)
    assert note.title == f"{world.station_a1.name}: 2 overdue hazards, 1 overdue issues"
    assert "隐患a1" in note.body and "隐患a2" in note.body and "隐患a3" not in note.body
    assert "visits planned" not in note.body
    assert not Notification.objects.filter(user__in=[personas.outsider, personas.county_admin]).exists()


def test_reminders_speak_the_portal_s_language(personas, situation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send()
    note = Notification.objects.get(user=personas.grid_manager, kind=KIND)
    assert note.title.startswith("明天") and "Tomorrow" not in note.title, note.title


def test_running_twice_the_same_day_sends_nothing_more(personas, situation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == 0
        assert tasks.send_daily_reminders.delay().get() == 0
    assert Notification.objects.filter(kind=KIND).count() == 2
    assert len(mail.outbox) == 2


def test_the_next_day_sends_again(personas, situation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send()
    Notification.objects.filter(kind=KIND).update(created_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_send() == 2
    assert len(mail.outbox) == 4


def test_nobody_with_nothing_to_hear_is_notified(personas):
    assert reminders_send() == 0
    assert not Notification.objects.exists()


def test_the_task_takes_no_arguments_and_runs_daily_at_18_shanghai_time():
    entry = app.conf.beat_schedule["daily-visit-reminders"]
    assert entry["task"] == tasks.send_daily_reminders.name
    assert "args" not in entry and "kwargs" not in entry
    assert entry["schedule"].hour == {18} and entry["schedule"].minute == {0}
    assert app.conf.timezone == "Asia/Shanghai"
