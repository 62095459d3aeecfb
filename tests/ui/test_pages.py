"""The HTML portal, read by each persona: home counts, scoped lists and details, paging."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from customers.models import Household
from tests.factories import HouseholdFactory, LVLineFactory, TransformerFactory
from zhoukou_grid.territory.models import Grid, Transformer

pytestmark = pytest.mark.django_db

LIST_NAMES = [
    "portal:county_list", "portal:station_list", "portal:grid_list", "portal:village_list",
    "portal:transformer_list", "portal:lvline_list", "customers:household_list",
]


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


# --- Login required, logout, password change --------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for url in [reverse("home"), reverse("portal:transformer_list"), reverse("customers:household_list")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_login_page_logs_a_grid_manager_in(client, grid_manager):
    response = client.post(reverse("login"), {"username": "grid_manager", "password": "correct-horse-battery-9"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert "甲一网格" in text(client.get(reverse("home")))


def test_logout_is_a_post_and_ends_the_session(client, grid_manager):
    login(client, grid_manager)
    assert client.get(reverse("logout")).status_code == 405
    home = text(client.get(reverse("home")))
    assert f'action="{reverse("logout")}"' in home
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_a_user_can_change_their_password(client, grid_manager):
    login(client, grid_manager)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(reverse("password_change"), {
        "old_password": "correct-horse-battery-9",
        "new_password1": "winter-transformer-2027",
        "new_password2": "winter-transformer-2027",
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    grid_manager.refresh_from_db()
    assert grid_manager.check_password("winter-transformer-2027")


# --- Home ------------------------------------------------------------------------------


def test_a_grid_manager_sees_their_grid_and_its_counts(client, grid_manager, world):
    from zhoukou_grid.home import territory_counts

    response = login(client, grid_manager).get(reverse("home"))
    assert response.status_code == 200
    # The home is the day's work (tests/ui/test_homes.py): no asset counts there; the
    # grid's counts are the same territory counts, and its transformers are on the grid's page.
    assert response.context["counts"] is None
    counts = territory_counts(grid_manager)
    # Their station counts as context; everything else is the grid's own.
    assert counts == {
        "stations": 1, "grids": 1, "villages": 1, "transformers": 1, "lvlines": 1, "households": 2, "rated_kva": 200,
    }
    assert [grid.name for grid in response.context["places"]] == ["甲一网格"]
    body = text(response)
    assert "甲一网格" in body
    (_v, villages), = response.context["breakdowns"]
    assert [(row[0].value, row[-1].value) for row in villages.rows] == [(world.grids["a1"].village.name, 2)]
    grid_page = text(client.get(reverse("portal:grid_detail", args=[world.grids["a1"].grid.pk])))
    assert world.grids["a1"].transformer.code in grid_page
    assert world.grids["a2"].transformer.code not in grid_page


def test_station_staff_see_their_station_with_its_grids(client, station_staff, world):
    response = login(client, station_staff).get(reverse("home"))
    counts = response.context["counts"]
    assert counts["grids"] == 2 and counts["transformers"] == 2 and counts["households"] == 4
    assert counts["rated_kva"] == 400
    body = text(response)
    assert "甲一所" in body and "甲一网格" in body and "甲二网格" in body
    assert "甲三网格" not in body


def test_a_county_admin_sees_their_county_and_its_stations(client, county_admin, world):
    response = login(client, county_admin).get(reverse("home"))
    counts = response.context["counts"]
    assert counts == {
        "stations": 2, "grids": 3, "villages": 3, "transformers": 3, "lvlines": 3, "households": 6, "rated_kva": 600,
    }
    (_title, table), = response.context["breakdowns"]
    rows = table.rows
    assert [row[0].value for row in rows] == ["甲一所", "甲二所"]
    # 甲一所: 2 grids, 2 transformers, 4 households, 400 kVA.
    assert [cell.value for cell in rows[0][1:]] == [2, 2, 4, 400]


def test_a_company_admin_sees_every_county(client, company_admin, world):
    response = login(client, company_admin).get(reverse("home"))
    assert response.context["counts"]["households"] == 8
    (_title, table), = response.context["breakdowns"]
    assert [row[0].value for row in table.rows] == ["周口甲县", "周口乙县"]


def test_home_counts_take_a_fixed_number_of_queries(client, county_admin, world, django_assert_max_num_queries):
    login(client, county_admin)
    # 16 for the territory counts and the page, 6 for the county admin's work (list coverage 2,
    # imports 1, progress figures 3: tests/ui/test_homes.py pins each role's home).
    with django_assert_max_num_queries(22):
        client.get(reverse("home"))
    grid = world.grids["a1"].grid
    for _ in range(10):
        transformer = TransformerFactory(grid=grid)
        HouseholdFactory(village=world.grids["a1"].village, transformer=transformer)
    with django_assert_max_num_queries(22):
        response = client.get(reverse("home"))
    assert response.context["counts"]["transformers"] == 13


def test_a_user_without_a_role_sees_no_data_and_no_lists(client, nobody):
    login(client, nobody)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["counts"] is None
    for name in LIST_NAMES:
        assert client.get(reverse(name)).status_code == 403, name


# --- Navigation by role ------------------------------------------------------------------


def test_admins_see_imports_and_admin_in_the_navigation(client, county_admin, grid_manager):
    body = text(login(client, county_admin).get(reverse("home")))
    assert reverse("imports:history") in body
    assert reverse("admin:index") in body
    client.logout()
    body = text(login(client, grid_manager).get(reverse("home")))
    assert reverse("imports:history") not in body
    assert reverse("admin:index") not in body
    for name in LIST_NAMES[1:]:
        assert reverse(name) in body


def test_list_pages_offer_import_to_importers_and_export_to_viewers(client, county_admin, grid_manager):
    url = reverse("portal:transformer_list")
    body = text(login(client, county_admin).get(url))
    assert f'{reverse("imports:new")}?kind=transformers' in body
    assert reverse("imports:template", args=["transformers"]) in body
    assert f'{reverse("imports:export", args=["transformers"])}?format=xlsx' in body
    client.logout()
    body = text(login(client, grid_manager).get(url))
    assert reverse("imports:new") not in body
    assert f'{reverse("imports:export", args=["transformers"])}?format=csv' in body


# --- Lists: scoping, filters, search, sorting, paging --------------------------------------


@pytest.mark.parametrize("name", LIST_NAMES)
def test_every_list_shows_only_the_users_territory(client, outsider, world, name):
    response = login(client, outsider).get(reverse(name))
    assert response.status_code == 200
    visible = list(response.context["object_list"])
    model = response.context["view"].model
    assert visible, f"{name} shows the outsider nothing"
    from zhoukou_grid.core.scoping import for_user

    assert set(visible) <= set(for_user(outsider, model))
    body = text(response)
    assert "甲一网格" not in body and "JA-WG-01" not in body


def test_the_transformer_list_filters_searches_and_sorts(client, county_admin, world):
    login(client, county_admin)
    grid = world.grids["a1"].grid
    big = TransformerFactory(grid=grid, code="TQ-BIG", name="大王庄台区", rated_kva=630)
    url = reverse("portal:transformer_list")

    by_grid = client.get(url, {"grid": grid.pk}).context["object_list"]
    assert {t.code for t in by_grid} == {world.grids["a1"].transformer.code, "TQ-BIG"}

    searched = client.get(url, {"q": "大王庄"}).context["object_list"]
    assert [t.code for t in searched] == ["TQ-BIG"]

    response = client.get(url, {"sort": "-rated_kva"})
    biggest_first = response.context["object_list"]
    assert biggest_first[0] == big
    # Phones show cards without headers, so the sort is also a choice in the filter form.
    assert '<option value="-rated_kva" selected>' in text(response)
    smallest_first = client.get(url, {"sort": "rated_kva"}).context["object_list"]
    assert smallest_first[len(smallest_first) - 1] == big

    # An unknown sort key falls back to the code order rather than erroring.
    assert client.get(url, {"sort": "password"}).status_code == 200


def test_a_filter_cannot_reach_outside_the_territory(client, grid_manager, world):
    other_grid = world.grids["b1"].grid
    response = login(client, grid_manager).get(reverse("portal:transformer_list"), {"grid": other_grid.pk})
    assert response.status_code == 200
    assert world.grids["b1"].transformer not in response.context["object_list"]
    assert "grid" in response.context["filterset"].form.errors


def test_households_are_paged_fifty_at_a_time(client, grid_manager, world):
    a1 = world.grids["a1"]
    for _ in range(58):
        HouseholdFactory(village=a1.village, transformer=a1.transformer, line=a1.line)
    login(client, grid_manager)
    url = reverse("customers:household_list")
    first = client.get(url)
    assert len(first.context["object_list"]) == 50
    assert first.context["paginator"].count == 60
    second = client.get(url, {"page": 2})
    assert len(second.context["object_list"]) == 10
    assert set(first.context["object_list"]).isdisjoint(second.context["object_list"])


@pytest.mark.parametrize("name", LIST_NAMES)
def test_list_queries_do_not_grow_with_the_rows(client, company_admin, world, name, django_assert_max_num_queries):
    login(client, company_admin)
    url = reverse(name)
    client.get(url)  # warm the per-user caches the same way both times
    with django_assert_max_num_queries(14) as few:
        client.get(url)
    a1 = world.grids["a1"]
    for _ in range(25):
        transformer = TransformerFactory(grid=a1.grid)
        line = LVLineFactory(transformer=transformer)
        HouseholdFactory(village=a1.village, transformer=transformer, line=line)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


# --- Details ---------------------------------------------------------------------------------


def _detail_routes():
    """(url name, view class) of every route served by the scoped list/detail views."""
    from zhoukou_grid.core.views import ScopedDetailView, ScopedListView

    routes = []

    def walk(patterns, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace in {"portal", "customers"}:
                view_class = getattr(entry.callback, "view_class", None)
                if view_class is not None and issubclass(view_class, (ScopedListView, ScopedDetailView)):
                    routes.append((f"{namespace}:{entry.name}", view_class))

    walk(get_resolver().url_patterns, None)
    return routes


def test_every_portal_page_declares_its_model():
    routes = _detail_routes()
    names = {name for name, _view in routes}
    for model_name in ["county", "station", "grid", "village", "transformer", "lvline"]:
        assert {f"portal:{model_name}_list", f"portal:{model_name}_detail"} <= names
    assert {"customers:household_list", "customers:household_detail"} <= names
    for name, view_class in routes:
        assert getattr(view_class, "model", None) is not None, name


def test_an_outsider_gets_404_for_every_detail_page_of_another_county(client, outsider, world):
    from zhoukou_grid.core.scoping import for_user

    login(client, outsider)
    checked = 0
    for name, view_class in _detail_routes():
        if not name.endswith("_detail"):
            continue
        if not view_class.model._default_manager.exists():
            continue  # a later feature's model the two-county world has no rows of
        foreign = view_class.model._default_manager.exclude(pk__in=for_user(outsider, view_class.model)).first()
        assert foreign is not None, name
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404, name
        own = for_user(outsider, view_class.model).first()
        assert client.get(reverse(name, args=[own.pk])).status_code == 200, name
        missing = view_class.model._default_manager.order_by("-pk").first().pk + 1000
        assert client.get(reverse(name, args=[missing])).status_code == 404, name
        checked += 1
    assert checked >= 7


def test_a_transformer_page_shows_its_grid_rating_lines_households_and_scoped_ties(client, grid_manager, world):
    a1, a2, b1 = world.grids["a1"], world.grids["a2"], world.grids["b1"]
    transformer = a1.transformer
    transformer.p0_w, transformer.pk_w, transformer.year = 240, 2600, 2016
    transformer.save()
    transformer.ties.add(a2.transformer, b1.transformer)
    own_neighbour = TransformerFactory(grid=a1.grid, code="TQ-NEIGHBOUR")
    transformer.ties.add(own_neighbour)

    response = login(client, grid_manager).get(reverse("portal:transformer_detail", args=[transformer.pk]))
    assert response.status_code == 200
    fields = {str(field.label): field.value for field in response.context["fields"]}
    values = list(fields.values())
    assert "甲一网格" in values
    assert 200 in values and 240 in values and 2600 in values and 2016 in values
    assert 2 in values  # two households
    lines, ties = response.context["sections"]
    assert [row[0].value for row in lines.table.rows] == [a1.line.code]
    # Ties outside the grid manager's grid are not shown.
    assert [row[0].value for row in ties.table.rows] == ["TQ-NEIGHBOUR"]


def test_a_grid_page_lists_its_villages_transformers_and_manager(client, station_staff, grid_manager, world):
    a1 = world.grids["a1"]
    response = login(client, station_staff).get(reverse("portal:grid_detail", args=[a1.grid.pk]))
    values = [field.value for field in response.context["fields"]]
    assert "grid_manager" in values
    villages, transformers = response.context["sections"]
    assert [row[0].value for row in villages.table.rows] == [a1.village.code]
    assert [row[0].value for row in transformers.table.rows] == [a1.transformer.code]


def test_detail_pages_keep_their_queries_few(client, company_admin, world, django_assert_max_num_queries):
    grid = world.grids["a1"].grid
    for _ in range(20):
        TransformerFactory(grid=grid)
    login(client, company_admin)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("portal:grid_detail", args=[grid.pk]))
    assert response.context["sections"][1].total == 21
    assert Transformer.objects.filter(grid=grid).count() == 21
    assert Grid.objects.count() == 4 and Household.objects.count() == 8


def test_a_filter_with_too_many_choices_becomes_hidden_but_still_filters(client, grid_manager, world, monkeypatch):
    monkeypatch.setattr("zhoukou_grid.core.views.MAX_FILTER_CHOICES", 0)
    a1 = world.grids["a1"]
    login(client, grid_manager)
    response = client.get(reverse("customers:household_list"), {"transformer": a1.transformer.pk})
    body = text(response)
    assert f'type="hidden" name="transformer" value="{a1.transformer.pk}"' in body
    assert '<select name="transformer"' not in body
    assert {h.pk for h in response.context["object_list"]} == {h.pk for h in a1.households}


def _main(response) -> str:
    body = text(response)
    return body[body.index("<main"):body.index("</main>")]


def test_another_territorys_object_looks_exactly_like_a_missing_one(client, outsider, world):
    login(client, outsider)
    foreign = client.get(reverse("portal:transformer_detail", args=[world.grids["a1"].transformer.pk]))
    missing = client.get(reverse("portal:transformer_detail", args=[999999]))
    assert foreign.status_code == missing.status_code == 404
    assert "404.html" in [t.name for t in foreign.templates]
    assert _main(foreign) == _main(missing)
    assert world.grids["a1"].transformer.code not in text(foreign)


def test_a_user_without_a_role_is_offered_no_list_in_the_navigation(client, nobody):
    body = text(login(client, nobody).get(reverse("home")))
    for name in LIST_NAMES:
        assert f'href="{reverse(name)}"' not in body, name
    forbidden = client.get(reverse("portal:grid_list"))
    assert forbidden.status_code == 403
    assert "403.html" in [t.name for t in forbidden.templates]


def test_chinese_names_are_shown_family_name_first(client, grid_manager):
    grid_manager.first_name, grid_manager.last_name = "建国", "王"
    grid_manager.save()
    body = text(login(client, grid_manager).get(reverse("home")))
    assert "王建国" in body and "建国 王" not in body


def test_the_counting_querysets_hold_the_same_rows_as_for_user(personas, world):
    from customers.models import Household as HouseholdModel
    from zhoukou_grid.core.scoping import for_user
    from zhoukou_grid.territory.models import LVLine, Village
    from zhoukou_grid.territory.views import countable

    # A household hanging on a transformer of another grid is scoped by its village.
    HouseholdFactory(village=world.grids["a2"].village, transformer=world.grids["a1"].transformer)
    for user in vars(personas).values():
        for model in (Grid, Village, Transformer, LVLine, HouseholdModel):
            assert set(countable(user, model)) == set(for_user(user, model)), (user.username, model.__name__)


def test_a_household_page_shows_its_account_place_and_supply(client, grid_manager, world):
    a1 = world.grids["a1"]
    household = a1.households[0]
    household.phase, household.address = "B", "王庄村3组"
    household.save()
    body = text(login(client, grid_manager).get(reverse("customers:household_detail", args=[household.pk])))
    for expected in [household.account_no, household.name, a1.village.name, "甲一网格", "甲一所", a1.line.code, "王庄村3组"]:
        assert expected in body, expected
    assert reverse("portal:transformer_detail", args=[a1.transformer.pk]) in body
    assert reverse("portal:lvline_detail", args=[a1.line.pk]) in body


def test_counties_are_in_the_navigation_of_admins_only(client, county_admin, station_staff):
    assert f'href="{reverse("portal:county_list")}"' in text(login(client, county_admin).get(reverse("home")))
    client.logout()
    assert f'href="{reverse("portal:county_list")}"' not in text(login(client, station_staff).get(reverse("home")))


def test_a_detail_page_shows_where_the_object_sits(client, grid_manager, world):
    a1 = world.grids["a1"]
    response = login(client, grid_manager).get(reverse("portal:lvline_detail", args=[a1.line.pk]))
    assert [name for name, _url in response.context["lineage"]] == ["周口甲县", "甲一所", "甲一网格", a1.transformer.name]
    # Every step of the lineage is a page the grid manager may open.
    for _name, url in response.context["lineage"]:
        assert client.get(url).status_code == 200, url


def test_a_grid_manager_of_two_grids_sees_both_and_their_sum(client, grid_manager, world):
    from tests.factories import RoleAssignmentFactory
    from zhoukou_grid.territory.models import Role

    RoleAssignmentFactory(user=grid_manager, role=Role.GRID_MANAGER, grid=world.grids["a2"].grid)
    from zhoukou_grid.home import territory_counts

    response = login(client, grid_manager).get(reverse("home"))
    assert [grid.name for grid in response.context["places"]] == ["甲一网格", "甲二网格"]
    assert territory_counts(grid_manager)["households"] == 4
    assert territory_counts(grid_manager)["rated_kva"] == 400


def test_the_export_links_carry_the_lists_filters(client, county_admin, world):
    grid = world.grids["a1"].grid
    url = reverse("portal:transformer_list")
    body = text(login(client, county_admin).get(url, {"grid": grid.pk, "q": "台区", "sort": "-rated_kva", "page": 1}))
    export = reverse("imports:export", args=["transformers"])
    assert f"{export}?grid={grid.pk}&amp;q=%E5%8F%B0%E5%8C%BA&amp;format=csv" in body
    assert "sort=" not in body.split(export, 1)[1].split('"', 1)[0]
    # And the export answers with just that grid's transformers.
    response = client.get(f"{export}?grid={grid.pk}&format=csv")
    assert response.status_code == 200
    exported = b"".join(response.streaming_content).decode("utf-8-sig")
    assert world.grids["a1"].transformer.code in exported
    assert world.grids["a2"].transformer.code not in exported
