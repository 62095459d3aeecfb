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
    # County admins, grid managers and another station's staff get nothing.
    for user in (personas.county_admin, personas.grid_manager, elsewhere):
        assert alert_notifications(user) == []
    assert [m.to for m in mail.outbox] == [["staff@example.com"]]
    assert g.transformer.code in mail.outbox[0].body
    assert AuditLog.objects.filter(action="alerts.notified", object_id=str(run.pk)).count() == 1

    # The finishing step again (a redelivered task): nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        projection_finish(run_id=run.pk)
    assert len(alert_notifications(staff)) == 1 and len(mail.outbox) == 1

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
