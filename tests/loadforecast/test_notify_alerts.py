"""Station staff hear of the alerts a run creates or raises: one digest per station per
run, in-app and by email, never twice for the same execution of a run."""

from __future__ import annotations

import pytest
from django.core import mail

from loadforecast.models import Alert, ProjectionRun
from loadforecast.services import projection_finish, projection_run
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.loadforecast.test_run import DAYS, RUN_DATE, _tiny
from zhoukou_grid.core.models import AuditLog, Notification
from zhoukou_grid.territory.models import Role


def alert_notifications(user):
    return list(Notification.objects.filter(user=user, kind="alerts").order_by("pk"))


@pytest.mark.django_db
def test_a_run_sends_one_digest_to_the_station_staff_and_never_twice(
        world, personas, django_capture_on_commit_callbacks):
    g = _tiny(world)
    staff = personas.station_staff
    staff.email = "staff@example.com"
    staff.save()
    colleague = UserFactory(username="colleague", email="")
    RoleAssignmentFactory(user=colleague, role=Role.STATION_STAFF, station=world.station_a1)
    elsewhere = UserFactory(username="b1staff", email="b1@example.com")
    RoleAssignmentFactory(user=elsewhere, role=Role.STATION_STAFF, station=world.station_b1)
    personas.county_admin.email = "admin@example.com"
    personas.county_admin.save()

    with django_capture_on_commit_callbacks(execute=True):
        run = projection_run(run_date=RUN_DATE, days=DAYS)
    alert = Alert.objects.get(transformer=g.transformer)
    assert run.status == "done", run.error
    [digest] = alert_notifications(staff)
    assert len(alert_notifications(colleague)) == 1
    assert digest.url == f"/load/alerts/?station={world.station_a1.pk}"
    assert g.transformer.code in digest.body and alert.peak_date.isoformat() in digest.body
    # The transformer and its line: both new, in one digest, the worst named.
    assert digest.body.startswith(f"{Alert.objects.filter(grid__station=world.station_a1).count()} ")
    assert Alert.objects.filter(grid__station=world.station_a1).count() == 2
    # County admins, the other county's grid manager and another station's staff get nothing.
    for user in (personas.county_admin, personas.outsider, elsewhere):
        assert alert_notifications(user) == []
    assert [m.to for m in mail.outbox] == [["staff@example.com"]]  # the grid manager has no address
    assert g.transformer.code in mail.outbox[0].body
    assert AuditLog.objects.filter(action="alerts.notified", object_id=str(run.pk)).count() == 1

    # The finishing step again (a redelivered task): nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        projection_finish(run_id=run.pk)
    assert len(alert_notifications(staff)) == 1 and len(mail.outbox) == 1
    assert len(alert_notifications(personas.grid_manager)) == 1

    # A re-run of the date that creates and raises nothing: nothing more either.
    with django_capture_on_commit_callbacks(execute=True):
        projection_run(run_date=RUN_DATE, days=DAYS)
    assert len(alert_notifications(staff)) == 1 and len(mail.outbox) == 1
    assert ProjectionRun.objects.count() == 1

    # A re-run that raises the alert's level notifies again, once.
    Alert.objects.filter(pk=alert.pk).update(level=1)
    with django_capture_on_commit_callbacks(execute=True):
        projection_run(run_date=RUN_DATE, days=DAYS)
    assert len(alert_notifications(staff)) == 2 and len(mail.outbox) == 2
    assert alert.history.filter(action="raised").count() == 1


@pytest.mark.django_db
def test_a_station_without_staff_or_without_alerts_sends_nothing(world):
    _tiny(world)
    run = projection_run(run_date=RUN_DATE, days=DAYS)  # no station staff anywhere
    assert Alert.objects.exists() and not Notification.objects.exists()
    assert run.counts["notified"] == run.started_at.isoformat()
    assert not AuditLog.objects.filter(action="alerts.notified").exists()


@pytest.mark.django_db
def test_grid_managers_hear_of_new_or_raised_alerts_in_their_own_grid_once_per_rise(
        world, grid_manager, outsider, django_capture_on_commit_callbacks):
    g = _tiny(world)
    grid_manager.email = "gm@example.com"
    grid_manager.save()
    deputy = UserFactory(username="deputy", email="deputy@example.com")  # a second manager of the grid, by role
    RoleAssignmentFactory(user=deputy, role=Role.GRID_MANAGER, grid=g.grid)
    neighbour = UserFactory(username="a2manager", email="a2@example.com")  # same station, another grid
    RoleAssignmentFactory(user=neighbour, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)

    with django_capture_on_commit_callbacks(execute=True):
        run = projection_run(run_date=RUN_DATE, days=DAYS)
    assert run.status == "done", run.error
    alert = Alert.objects.get(transformer=g.transformer)
    [told] = alert_notifications(grid_manager)
    assert told.url == f"/load/alerts/?grid={g.grid.pk}"
    assert told.title == "您的网格有 2 条过载预警新增或等级上调"  # both assets of the grid, in Chinese
    assert g.transformer.code in told.body and alert.peak_date.isoformat() in told.body
    assert len(alert_notifications(deputy)) == 1
    for user in (neighbour, outsider):
        assert alert_notifications(user) == []
    assert sorted(m.to[0] for m in mail.outbox) == ["deputy@example.com", "gm@example.com"]
    assert mail.outbox[0].subject.endswith(told.title) and g.transformer.code in mail.outbox[0].body
    audit = AuditLog.objects.get(action="alerts.notified", object_id=str(run.pk))
    assert audit.detail["grids"] == 1 and audit.detail["stations"] == 0
    assert "gm@example.com" not in str(audit.detail)

    # The next night: same levels, nothing new; a redelivered finish: nothing either.
    with django_capture_on_commit_callbacks(execute=True):
        projection_run(run_date=RUN_DATE, days=DAYS)
        projection_finish(run_id=run.pk)
    assert len(alert_notifications(grid_manager)) == 1 and len(mail.outbox) == 2

    # The level rises: told again, once.
    Alert.objects.filter(pk=alert.pk).update(level=1)
    with django_capture_on_commit_callbacks(execute=True):
        projection_run(run_date=RUN_DATE, days=DAYS)
    raised = alert_notifications(grid_manager)
    assert len(raised) == 2 and "有 1 条" in raised[1].title and len(mail.outbox) == 4
    with django_capture_on_commit_callbacks(execute=True):
        projection_run(run_date=RUN_DATE, days=DAYS)
    assert len(alert_notifications(grid_manager)) == 2


@pytest.mark.django_db
def test_a_grid_manager_who_is_also_station_staff_gets_one_digest(world, grid_manager):
    _tiny(world)
    RoleAssignmentFactory(user=grid_manager, role=Role.STATION_STAFF, station=world.station_a1)
    projection_run(run_date=RUN_DATE, days=DAYS)
    [told] = alert_notifications(grid_manager)
    assert told.url == f"/load/alerts/?station={world.station_a1.pk}"


@pytest.mark.django_db
def test_the_grid_managers_link_lists_their_alerts(world, grid_manager, client):
    g = _tiny(world)
    projection_run(run_date=RUN_DATE, days=DAYS)
    [told] = alert_notifications(grid_manager)
    client.force_login(grid_manager)
    page = client.get(told.url)
    assert page.status_code == 200
    assert g.transformer.code in page.content.decode()
