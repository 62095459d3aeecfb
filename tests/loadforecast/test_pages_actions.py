"""The alert actions' services: status transitions, validation, scoping, audit and history rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation

from loadforecast.models import Alert, AlertHistory, Measure
from loadforecast.services import alert_acknowledge, alert_dismiss, measure_done, measure_plan
from tests.loadforecast.factories import AlertFactory
from zhoukou_grid.core.models import AuditLog

PLANNED = dt.date(2027, 2, 3)


@pytest.fixture
def alert(world):
    g = world.grids["a1"]
    g.transformer.rated_kva = 160
    g.transformer.save()
    return AlertFactory(grid=g.grid, transformer=g.transformer)


@pytest.fixture
def line_alert(world):
    g = world.grids["a1"]
    return AlertFactory(grid=g.grid, transformer=None, line=g.line)


def _actions(alert):
    return list(AlertHistory.objects.filter(alert=alert).values_list("action", "status", "user__username"))


@pytest.mark.django_db
def test_it_acknowledges_an_open_alert_once(alert, station_staff):
    alert_acknowledge(user=station_staff, alert_id=alert.pk)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    assert _actions(alert) == [("acknowledged", "acknowledged", "station_staff")]
    assert AuditLog.objects.filter(action="alert.acknowledged", object_id=str(alert.pk), user=station_staff).count() == 1
    with pytest.raises(ValidationError):
        alert_acknowledge(user=station_staff, alert_id=alert.pk)
    assert AlertHistory.objects.filter(alert=alert).count() == 1


@pytest.mark.django_db
def test_a_temporary_capacity_measure_goes_planned_then_done(alert, station_staff):
    measure = measure_plan(user=station_staff, alert_id=alert.pk, kind=Measure.Kind.TEMP_CAPACITY,
                           planned_date=PLANNED, kva=250, note="  租用 250 kVA 箱变  ")
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MEASURE_PLANNED
    assert (measure.kind, measure.kva, measure.status, measure.note) == ("temp_capacity", 250, "planned", "租用 250 kVA 箱变")
    assert measure.created_by == station_staff
    measure_done(user=station_staff, measure_id=measure.pk)
    measure.refresh_from_db()
    alert.refresh_from_db()
    assert measure.status == Measure.Status.DONE and measure.done_at is not None and measure.done_by == station_staff
    assert alert.status == Alert.Status.DONE
    assert [a for a, *_ in _actions(alert)] == ["measure_planned", "measure_done"]
    assert set(AuditLog.objects.filter(object_type="loadforecast.measure").values_list("action", flat=True)) == {
        "measure.planned", "measure.done"}
    with pytest.raises(ValidationError), translation.override("en"):
        measure_done(user=station_staff, measure_id=measure.pk)


@pytest.mark.django_db
def test_the_alert_stays_planned_while_another_measure_is_still_planned(alert, station_staff):
    first = measure_plan(user=station_staff, alert_id=alert.pk, kind=Measure.Kind.PATROL, planned_date=PLANNED)
    measure_plan(user=station_staff, alert_id=alert.pk, kind=Measure.Kind.STAGGERED, planned_date=PLANNED, kw=36)
    measure_done(user=station_staff, measure_id=first.pk)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.MEASURE_PLANNED


@pytest.mark.django_db
def test_a_transfer_needs_a_tied_neighbour_and_kva(world, alert, station_staff):
    neighbour = world.grids["a2"].transformer
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=alert.pk, kind="transfer", planned_date=PLANNED,
                     neighbour_id=neighbour.pk, kva=40)
    assert "neighbour" in error.value.message_dict
    alert.transformer.ties.add(neighbour)
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=alert.pk, kind="transfer", planned_date=PLANNED,
                     neighbour_id=neighbour.pk)
    assert "kva" in error.value.message_dict
    measure = measure_plan(user=station_staff, alert_id=alert.pk, kind="transfer", planned_date=PLANNED,
                           neighbour_id=neighbour.pk, kva=40)
    assert measure.neighbour == neighbour and measure.kva == 40


@pytest.mark.django_db
def test_a_transfer_to_a_tied_neighbour_of_another_station_the_user_cannot_see_is_refused(world, alert, station_staff):
    other = world.grids["a3"].transformer
    alert.transformer.ties.add(other)
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=alert.pk, kind="transfer", planned_date=PLANNED,
                     neighbour_id=other.pk, kva=40)
    assert "neighbour" in error.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("kva, field", [(None, "kva"), (160, "kva"), (100, "kva"), (-5, "kva")])
def test_temporary_capacity_must_be_above_the_rating(alert, station_staff, kva, field):
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=alert.pk, kind="temp_capacity", planned_date=PLANNED, kva=kva)
    assert field in error.value.message_dict
    assert not Measure.objects.exists()
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN and not AlertHistory.objects.exists()


@pytest.mark.django_db
def test_a_line_alert_takes_only_the_measures_of_a_line(line_alert, station_staff):
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=line_alert.pk, kind="temp_capacity", planned_date=PLANNED, kva=250)
    assert "kind" in error.value.message_dict
    measure = measure_plan(user=station_staff, alert_id=line_alert.pk, kind="staggered", planned_date=PLANNED, kw=12)
    assert measure.kw == 12


@pytest.mark.django_db
def test_an_unknown_kind_or_missing_date_is_refused(alert, station_staff):
    with pytest.raises(ValidationError):
        measure_plan(user=station_staff, alert_id=alert.pk, kind="pray", planned_date=PLANNED)
    with pytest.raises(ValidationError) as error:
        measure_plan(user=station_staff, alert_id=alert.pk, kind="patrol", planned_date=None)
    assert "planned_date" in error.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_dismissing_needs_a_reason(alert, station_staff, reason):
    with pytest.raises(ValidationError) as error:
        alert_dismiss(user=station_staff, alert_id=alert.pk, reason=reason)
    assert "reason" in error.value.message_dict
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN


@pytest.mark.django_db
def test_a_dismissed_alert_keeps_its_reason_and_takes_no_more_actions(alert, station_staff):
    planned = measure_plan(user=station_staff, alert_id=alert.pk, kind="patrol", planned_date=PLANNED)
    alert_dismiss(user=station_staff, alert_id=alert.pk, reason="计量异常，实际无返乡")
    alert.refresh_from_db()
    assert alert.status == Alert.Status.DISMISSED
    assert AlertHistory.objects.get(alert=alert, action="dismissed").note == "计量异常，实际无返乡"
    assert AuditLog.objects.filter(action="alert.dismissed", object_id=str(alert.pk)).exists()
    for action in (
        lambda: alert_acknowledge(user=station_staff, alert_id=alert.pk),
        lambda: alert_dismiss(user=station_staff, alert_id=alert.pk, reason="again"),
        lambda: measure_plan(user=station_staff, alert_id=alert.pk, kind="patrol", planned_date=PLANNED),
        lambda: measure_done(user=station_staff, measure_id=planned.pk),
    ):
        with pytest.raises(ValidationError):
            action()


@pytest.mark.django_db
def test_mitigated_alerts_take_no_new_measures(alert, station_staff):
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.MITIGATED)
    with pytest.raises(ValidationError):
        measure_plan(user=station_staff, alert_id=alert.pk, kind="patrol", planned_date=PLANNED)


@pytest.mark.django_db
def test_a_grid_manager_reads_but_cannot_act(alert, grid_manager):
    with pytest.raises(PermissionDenied):
        alert_acknowledge(user=grid_manager, alert_id=alert.pk)
    with pytest.raises(PermissionDenied):
        measure_plan(user=grid_manager, alert_id=alert.pk, kind="patrol", planned_date=PLANNED)
    with pytest.raises(PermissionDenied):
        alert_dismiss(user=grid_manager, alert_id=alert.pk, reason="x")


@pytest.mark.django_db
def test_another_stations_alert_answers_like_a_missing_one(world, station_staff):
    other = AlertFactory(grid=world.grids["a3"].grid, transformer=world.grids["a3"].transformer)
    measure = Measure.objects.create(alert=other, kind="patrol", planned_date=PLANNED)
    with pytest.raises(Http404):
        alert_acknowledge(user=station_staff, alert_id=other.pk)
    with pytest.raises(Http404):
        measure_plan(user=station_staff, alert_id=other.pk, kind="patrol", planned_date=PLANNED)
    with pytest.raises(Http404):
        measure_done(user=station_staff, measure_id=measure.pk)
    with pytest.raises(Http404):
        alert_dismiss(user=station_staff, alert_id=other.pk, reason="not mine")
    with pytest.raises(Http404):
        alert_acknowledge(user=station_staff, alert_id=999_999)
    other.refresh_from_db()
    assert other.status == Alert.Status.OPEN


@pytest.mark.django_db
def test_a_county_admin_acts_on_any_station_of_the_county(world, county_admin):
    other = AlertFactory(grid=world.grids["a3"].grid, transformer=world.grids["a3"].transformer)
    alert_acknowledge(user=county_admin, alert_id=other.pk)
    other.refresh_from_db()
    assert other.status == Alert.Status.ACKNOWLEDGED
