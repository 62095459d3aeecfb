"""The projection settings page: county admins edit the county's settings and a station's
overrides through `settings_update`; its refusals are shown on the form; others read."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from loadforecast import engine, forms
from loadforecast.models import ProjectionSettings
from loadforecast.services import settings_update
from zhoukou_grid.core.models import AuditLog

pytestmark = pytest.mark.django_db

SETTINGS = reverse("loadforecast:load_settings")
DEFAULTS = engine.ProjectionSettings()


def _shape(values) -> str:
    return " ".join(f"{v:g}" for v in values)


def county_form(**changes) -> dict:
    """Every field of the county form at its default, with `changes`."""
    data = {
        "watch_load_rate": "70", "heavy_load_rate": "80", "overload_load_rate": "100", "thermal_load_rate": "150",
        "heavy_duration_hours": "2", "overload_duration_hours": "2", "cos_phi": "0.9",
        "household_extra_peak_kw": "2.5", "horizon_days": "21",
        "extra_demand_shape": _shape(DEFAULTS.extra_demand_shape),
        "rural_winter_shape": _shape(DEFAULTS.rural_winter_shape),
        "festival_factor_new_years_eve": "1.3", "festival_factor_first_day": "1.2",
        "festival_factor_second_to_fifth_day": "1.1",
    }
    data.update({key: str(value) for key, value in changes.items()})
    return data


def stored(world, station=None):
    row = ProjectionSettings.objects.filter(county=world.county_a, station=station).first()
    return row.values if row else None


def test_the_form_shows_the_defaults_as_percent_and_24_values(client, county_admin, world):
    client.force_login(county_admin)
    response = client.get(SETTINGS)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["watch_load_rate"] == "70" and form.initial["heavy_load_rate"] == "80"
    assert form.initial["extra_demand_shape"].split()[19] == "1"
    assert response.context["can_edit"] and 'type="submit"' in response.content.decode()


def test_a_county_admin_saves_only_what_differs_from_the_defaults(client, county_admin, world):
    settings_update(county_id=world.county_a.pk, values={"coincidence_points": [[3, 1.0], [900, 0.3]]},
                    user=county_admin)
    client.force_login(county_admin)
    response = client.post(SETTINGS, county_form(heavy_load_rate="85", household_extra_peak_kw="3",
                                                 festival_factor_new_years_eve="1.5"))
    assert response.status_code == 302
    assert stored(world) == {"coincidence_points": [[3, 1.0], [900, 0.3]], "heavy_load_rate": 0.85,
                             "household_extra_peak_kw": 3.0, "festival_factor_new_years_eve": 1.5}
    assert AuditLog.objects.filter(action="projection_settings", user=county_admin).count() == 2
    form = client.get(SETTINGS).context["form"]
    assert form.initial["heavy_load_rate"] == "85" and form.initial["household_extra_peak_kw"] == "3"


@pytest.mark.parametrize("changes, field, message", [
    ({"watch_load_rate": "90"}, None, "The thresholds must increase: watch < heavy load < overload < thermal critical."),
    ({"household_extra_peak_kw": "0"}, "household_extra_peak_kw", "p_hh must be above 0 kW."),
    ({"horizon_days": "50"}, "horizon_days", None),
    ({"heavy_duration_hours": "25"}, "heavy_duration_hours", "Between 1 and 24 hours."),
    ({"cos_phi": "1.2"}, "cos_phi", "cosφ must be above 0 and at most 1."),
    ({"festival_factor_first_day": "0"}, "festival_factor_first_day", "Must be above 0."),
    ({"extra_demand_shape": "1 2 3"}, "extra_demand_shape", None),
    ({"rural_winter_shape": " ".join(["0.5"] * 23 + ["-1"])}, "rural_winter_shape",
     "Give 24 values, none of them negative."),
    ({"horizon_days": "x"}, "horizon_days", None),
])
def test_refused_settings_are_shown_on_the_form_and_nothing_is_saved(client, county_admin, world, changes, field,
                                                                     message):
    client.force_login(county_admin)
    response = client.post(SETTINGS, county_form(**changes))
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors.get(field if field else "__all__")
    assert errors, form.errors
    if message:
        with translation.override("zh-hans"):  # the portal's language
            assert translation.gettext(message) in errors, errors
    body = response.content.decode()
    assert all(escape(error) in body for error in errors)
    assert stored(world) is None
    assert not AuditLog.objects.filter(action="projection_settings").exists()


def test_station_staff_and_grid_managers_read_but_cannot_save(client, station_staff, grid_manager, world):
    for user in (station_staff, grid_manager):
        client.force_login(user)
        response = client.get(SETTINGS)
        assert response.status_code == 200
        assert response.context["county"] == world.county_a and not response.context["can_edit"]
        assert all(field.disabled for field in response.context["form"].fields.values())
        assert client.post(SETTINGS, county_form(household_extra_peak_kw="3")).status_code == 403
        url = reverse("loadforecast:load_stationsettings", args=[world.station_a1.pk])
        assert client.get(url).status_code == 200
        assert client.post(url, {"household_extra_peak_kw": "1"}).status_code == 403
    assert stored(world) is None and stored(world, world.station_a1) is None


def test_a_station_override_takes_the_county_value_where_blank(client, county_admin, world):
    settings_update(county_id=world.county_a.pk, values={"household_extra_peak_kw": 3.0}, user=county_admin)
    url = reverse("loadforecast:load_stationsettings", args=[world.station_a1.pk])
    client.force_login(county_admin)
    response = client.get(url)
    field = response.context["form"].fields["household_extra_peak_kw"]
    assert field.widget.attrs["placeholder"] == "3" and not field.required
    response = client.post(url, {"household_extra_peak_kw": "1.5", "horizon_days": ""})
    assert response.status_code == 302
    assert stored(world, world.station_a1) == {"household_extra_peak_kw": 1.5}
    # Refused against the county's settings underneath: the overload below the county's heavy load.
    response = client.post(url, {"overload_load_rate": "75"})
    assert response.status_code == 400 and response.context["form"].errors.get("__all__")
    assert stored(world, world.station_a1) == {"household_extra_peak_kw": 1.5}
    rows = {row["station"]: row["keys"] for row in client.get(SETTINGS).context["stations"]}
    assert [str(label) for label in rows[world.station_a1]] == [
        str(forms.SETTING_FIELDS[[f.key for f in forms.SETTING_FIELDS].index("household_extra_peak_kw")].label)]


def test_a_county_admin_of_another_county_cannot_see_this_one(client, world):
    from tests.factories import RoleAssignmentFactory, UserFactory
    from zhoukou_grid.territory.models import Role

    other = UserFactory(username="other_admin")
    RoleAssignmentFactory(user=other, role=Role.COUNTY_ADMIN, county=world.county_b)
    client.force_login(other)
    assert client.get(SETTINGS, {"county": world.county_a.pk}).status_code == 404
    assert client.post(SETTINGS, {**county_form(), "county": world.county_a.pk}).status_code in (403, 404)
    assert client.get(reverse("loadforecast:load_stationsettings", args=[world.station_a1.pk])).status_code == 404
    assert stored(world) is None
