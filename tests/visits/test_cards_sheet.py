"""The printable service-card sheet: one A4 sheet of cut-out cards per grid manager."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse

from customers.models import ServicePlan
from tests.factories import KeyCustomerFactory, UserFactory, VillageFactory
from zhoukou_grid.territory.models import UserProfile

URL = reverse("visits:service_cards")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def sheets(page: str) -> list[str]:
    return re.findall(r'<section class="vb-sheet" data-grid="(\d+)"', page)


def test_a_grid_manager_prints_cards_with_name_phone_station_villages_and_95598(world, personas):
    manager = personas.grid_manager
    manager.first_name, manager.last_name = "建国", "王"
    manager.save()
    a1 = world.grids["a1"]
    VillageFactory(grid=a1.grid, name="李庄村", code="411601001099")
    UserProfile.objects.create(user=manager, phone="13912345678")
    page = client_for(manager).get(URL).content.decode()
    assert sheets(page) == [str(a1.grid.pk)]
    assert page.count('class="vb-service-card"') == 8
    card = page[page.index('class="vb-service-card"'):]
    card = card[:card.index("</div>")]
    for text in ("王建国", "13912345678", world.station_a1.name, a1.village.name, "李庄村", "95598"):
        assert text in card, text


def test_without_a_phone_on_record_the_card_leaves_a_line_to_write_it(world, personas):
    page = client_for(personas.grid_manager).get(URL).content.decode()
    assert 'class="vb-sc-blank"' in page


def test_station_staff_print_one_sheet_per_grid_with_a_manager_in_their_station(world, personas):
    other = UserFactory(username="manager_a2")
    world.grids["a2"].grid.manager = other
    world.grids["a2"].grid.save()
    world.grids["a3"].grid.manager = UserFactory(username="manager_a3")  # 甲二所: not theirs
    world.grids["a3"].grid.save()
    client = client_for(personas.station_staff)
    page = client.get(URL).content.decode()
    assert sheets(page) == [str(world.grids["a1"].grid.pk), str(world.grids["a2"].grid.pk)]
    assert "manager_a3" not in page
    one = client.get(URL, {"grid": world.grids["a2"].grid.pk}).content.decode()
    assert sheets(one) == [str(world.grids["a2"].grid.pk)]


def test_an_outsider_prints_nothing_of_another_county(world, personas):
    page = client_for(personas.outsider).get(URL, {"grid": world.grids["a1"].grid.pk}).content.decode()
    assert sheets(page) == []
    assert world.grids["a1"].grid.code not in page


def test_the_sheet_prints_on_a4_without_the_portal_chrome():
    css = (Path(settings.BASE_DIR) / "static/css/visits_boards.css").read_text()
    print_rules = css[css.index("@media print"):]
    assert "size: A4" in print_rules and ".vb-no-print" in print_rules and "break-after: page" in print_rules


def test_one_phone_per_grid_manager_on_the_cards_the_plan_sheet_and_the_plan_page(world, personas):
    """The profile's work phone is the one source: a different number typed on an old plan is not printed."""
    manager = personas.grid_manager
    UserProfile.objects.create(user=manager, phone="13912345678")
    customer = KeyCustomerFactory(grid=world.grids["a1"].grid)
    plan = ServicePlan.objects.create(customer=customer, version=1, responsible=manager, status="approved",
                                      responsible_phone="13600000000")
    client = client_for(personas.station_staff)
    pages = {
        "cards": client.get(URL).content.decode(),
        "plan sheet": client.get(reverse("customers:keycustomer_plan_print", args=[customer.pk])).content.decode(),
        "plan page": client.get(reverse("customers:serviceplan_detail", args=[plan.pk])).content.decode(),
    }
    for name, page in pages.items():
        assert "13912345678" in page, name
        assert "13600000000" not in page and "136****0000" not in page, name
