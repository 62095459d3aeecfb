"""Settings refused by the engine are explained in the person's language (Chinese by default):
the projection's settings page and the season outlook's, every rule of the engines."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from loadforecast import engine, outlook_engine
from loadforecast.forms import engine_errors
from tests.loadforecast.test_outlook_pages import _settings_post
from tests.loadforecast.test_pages_settings import SETTINGS, county_form

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b(must|between|should|valid|unknown|setting|window|needs|values?|got|at most|"
                     r"at least|negative|positive)\b", re.I)


def assert_chinese(errors, where):
    assert errors, where
    for error in errors:
        assert CJK.search(error) and not ENGLISH.search(error), f"{where}: {error!r}"


@pytest.mark.django_db
@pytest.mark.parametrize("changes, field, expected", [
    ({"horizon_days": "50"}, "horizon_days", "预测天数为 1 至 45 天。"),
    ({"heavy_duration_hours": "0"}, "heavy_duration_hours", None),
    ({"cos_phi": "0"}, "cos_phi", None),
    ({"watch_load_rate": "95"}, "__all__", None),
    ({"festival_factor_new_years_eve": "0"}, "festival_factor_new_years_eve", None),
])
def test_projection_settings_refusals_are_in_chinese(client, county_admin, world, changes, field, expected):
    client.force_login(county_admin)
    response = client.post(SETTINGS, county_form(**changes))
    assert response.status_code == 400
    errors = response.context["form"].errors.get(field)
    assert_chinese(errors, changes)
    if expected:
        assert expected in errors
    body = response.content.decode()
    assert all(escape(error) in body for error in errors)


@pytest.mark.django_db
@pytest.mark.parametrize("changes, field, expected", [
    ({"window_days_before": 30, "window_days_after": 20}, "__all__", "窗口共 51 天，最多 45 天。"),
    ({"window_days_before": -1}, "window_days_before", None),
    ({"reach_days": 0}, "reach_days", "至少为 1。"),
    ({"normal_min_temperature_c": "-3, -1, 4"}, "normal_min_temperature_c", "请填写 12 个月的数值（您填写了 3 个）。"),
    ({"normal_min_temperature_c": "-3, -1, 4, 10, 15, 20, 23, 22, 17, 11, 4, 90"}, "normal_min_temperature_c", None),
    ({"lead_days_patrol": -1}, "lead_days_patrol", "不能为负数。"),
    ({"notice_days_before_order_by": -2}, "notice_days_before_order_by", "不能为负数。"),
])
def test_outlook_settings_refusals_are_in_chinese_on_their_fields(client, county_admin, world, changes, field,
                                                                  expected):
    client.force_login(county_admin)
    response = client.post(reverse("loadforecast:outlook_settings", args=[world.county_a.pk]),
                           _settings_post(**changes))
    assert response.status_code == 400
    errors = response.context["form"].errors.get(field)
    assert_chinese(errors, changes)
    if expected:
        assert expected in errors
    body = response.content.decode()
    assert all(escape(error) in body for error in errors)


def _engine_messages():
    """Every message each engine can give, from bad values of every rule."""
    projection = [
        {"cos_phi": 2}, {"household_extra_peak_kw": 0}, {"horizon_days": 99}, {"baseline_days": 0},
        {"watch_load_rate": 0.95}, {"heavy_duration_hours": 30}, {"extra_demand_shape": [1.0] * 3},
        {"coincidence_points": [[1, 1.0], [1, 0.5]]}, {"standard_ratings_kva": [100, 50]},
        {"festival_factor_first_day": 0}, {"temperature_factor_per_degree": -1}, {"phase_imbalance_share": 2},
        {"thermal_default_loss_ratio": -1}, {"no_such_setting": 1}, {"cos_phi": "x"},
    ]
    outlook = [
        {"window_days_before": -1}, {"window_days_before": 40}, {"reach_days": 0},
        {"normal_min_temperature_c": [1.0] * 3}, {"normal_min_temperature_c": [90.0] * 12},
        {"lead_days_transfer": -1}, {"use_estimates": "yes"}, {"bogus": 1},
    ]
    messages = []
    for cls, cases in ((engine.ProjectionSettings, projection), (outlook_engine.OutlookSettings, outlook)):
        for case in cases:
            with pytest.raises(engine.SettingsError) as refused:
                cls.from_dict(case)
            messages.append(str(refused.value))
    return messages


@pytest.mark.parametrize("message", _engine_messages())
def test_every_engine_message_comes_out_in_chinese(message):
    with translation.override("zh-hans"):
        assert_chinese([text for _field, text in engine_errors(message)], message)
