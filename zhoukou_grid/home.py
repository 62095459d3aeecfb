"""The home page per role: the day's work first, then the territory with live counts.

The wiring composes the owning apps' selectors (visits, customers, loadforecast, imports);
each role's section answers with a fixed number of queries (tests/ui/test_homes.py).
"""


from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import selectors as customer_selectors
from customers.models import Household
from customers.village_reminders import stale_villages_for
from loadforecast import outlook_selectors
from loadforecast import selectors as load_selectors
from visits import selectors as visit_selectors
from zhoukou_grid.core.importing.jobs import jobs_needing_attention
from zhoukou_grid.core.scoping import for_user, primary_role, territory_of
from zhoukou_grid.core.tables import Column, Table, build_table, count_of, sum_of
from zhoukou_grid.core.views import CHILD_ROWS, url_of
from zhoukou_grid.territory.models import County, Grid, LVLine, Role, Station, Transformer, Village
from zhoukou_grid.territory.views import countable, manager_name

# --- Home -----------------------------------------------------------------------------


def territory_counts(user) -> dict[str, int]:
    """Live counts for the user's territory: one query per kind, none per object."""
    transformers = for_user(user, Transformer).aggregate(n=Count("pk"), kva=Sum("rated_kva"))
    return {
        "stations": for_user(user, Station).count(),
        "grids": for_user(user, Grid).count(),
        "villages": for_user(user, Village).count(),
        "transformers": transformers["n"],
        "lvlines": for_user(user, LVLine).count(),
        "households": for_user(user, Household).count(),
        "rated_kva": transformers["kva"] or 0,
    }


def _breakdown(user, role):
    """The next level down the user's territory, each row with its own counts."""
    households = countable(user, Household)
    transformers = countable(user, Transformer)
    if role == Role.GRID_MANAGER:
        rows = (
            transformers.select_related("grid")
            .annotate(household_count=count_of(households, "transformer"), line_count=count_of(countable(user, LVLine), "transformer"))
            .order_by("grid__code", "code")[:CHILD_ROWS]
        )
        columns = [
            Column("code", _("Transformer code"), link=url_of("portal:transformer_detail"), primary=True),
            Column("name", _("Transformer name")),
            Column("grid", _("Grid"), accessor="grid.name"),
            Column("rated_kva", _("Rated capacity (kVA)"), numeric=True),
            Column("line_count", _("LV lines"), numeric=True),
            Column("household_count", _("Households"), numeric=True),
        ]
        return _("Transformer districts in your grid"), build_table(columns, rows)
    if role == Role.STATION_STAFF:
        rows = (
            for_user(user, Grid)
            .select_related("station", "manager")
            .annotate(
                village_count=count_of(countable(user, Village), "grid"),
                transformer_count=count_of(transformers, "grid"),
                household_count=count_of(households, "village__grid"),
                kva=sum_of(transformers, "grid", "rated_kva"),
            )
            .order_by("station__code", "code")[:CHILD_ROWS]
        )
        columns = [
            Column("name", _("Grid"), link=url_of("portal:grid_detail"), primary=True),
            Column("manager", _("Grid manager"), accessor=lambda g: manager_name(g.manager)),
            Column("village_count", _("Villages"), numeric=True),
            Column("transformer_count", _("Transformers"), numeric=True),
            Column("household_count", _("Households"), numeric=True),
            Column("kva", _("Rated capacity (kVA)"), numeric=True),
        ]
        return _("Grids in your station"), build_table(columns, rows)
    if role == Role.COUNTY_ADMIN:
        # The stations listed are the admin's own (no context rows), so are all their
        # transformers: counted per station through the grid's index alone. Restricted to the
        # admin's grid ids as well (`countable`), PostgreSQL read every transformer of the city
        # once per station and twice over (2.6 s for a county's 23 stations at city scale).
        station_transformers = Transformer.objects.all()
        rows = (
            for_user(user, Station, include_context=False)
            .select_related("county")
            .annotate(
                grid_count=count_of(countable(user, Grid), "station"),
                transformer_count=count_of(station_transformers, "grid__station"),
                household_count=count_of(households, "village__grid__station"),
                kva=sum_of(station_transformers, "grid__station", "rated_kva"),
            )
            .order_by("county__code", "code")[:CHILD_ROWS]
        )
        columns = [
            Column("name", _("Power supply station"), link=url_of("portal:station_detail"), primary=True),
            Column("grid_count", _("Grids"), numeric=True),
            Column("transformer_count", _("Transformers"), numeric=True),
            Column("household_count", _("Households"), numeric=True),
            Column("kva", _("Rated capacity (kVA)"), numeric=True),
        ]
        return _("Stations in your county"), build_table(columns, rows)
    if role == Role.COMPANY_ADMIN:
        rows = (
            for_user(user, County)
            .annotate(
                station_count=count_of(countable(user, Station), "county"),
                transformer_count=count_of(transformers, "grid__station__county"),
                household_count=count_of(households, "village__grid__station__county"),
                kva=sum_of(transformers, "grid__station__county", "rated_kva"),
            )
            .order_by("code")[:CHILD_ROWS]
        )
        columns = [
            Column("name", _("County"), link=url_of("portal:county_detail"), primary=True),
            Column("station_count", _("Stations"), numeric=True),
            Column("transformer_count", _("Transformers"), numeric=True),
            Column("household_count", _("Households"), numeric=True),
            Column("kva", _("Rated capacity (kVA)"), numeric=True),
        ]
        return _("Counties"), build_table(columns, rows)
    return None, None


def _villages_of(user):
    """A grid manager's villages with their households: the places they visit."""
    rows = (
        countable(user, Village).select_related("grid")
        .annotate(household_count=count_of(countable(user, Household), "village"))
        .order_by("grid__code", "code")[:CHILD_ROWS]
    )
    columns = [
        Column("name", _("Village name"), link=url_of("portal:village_detail"), primary=True),
        Column("code", _("Village code")),
        Column("grid", _("Grid"), accessor="grid.name"),
        Column("household_count", _("Households"), numeric=True),
    ]
    return _("Villages in your grid"), build_table(columns, rows)


def _stale_village_lists(user):
    """Villages whose clerk has not updated the returning list lately (none: no table)."""
    from django.conf import settings

    stale = stale_villages_for(user)
    if not stale:
        return None
    columns = [
        Column("name", _("Village name"), accessor="village.name", primary=True),
        Column("grid", _("Grid"), accessor="village.grid.name"),
        Column("last_change", _("Last change"),
               accessor=lambda row: f"{timezone.localtime(row.last_change):%Y-%m-%d}" if row.last_change else "—"),
    ]
    title = _("Village lists not updated for %(days)d days") % {"days": settings.VILLAGE_LIST_STALE_DAYS}
    return title, build_table(columns, stale)


def _drop_column(table: Table, key: str) -> Table:
    keep = [index for index, header in enumerate(table.headers) if header.column.key != key]
    return Table(headers=[table.headers[i] for i in keep], rows=[[row[i] for i in keep] for row in table.rows])




HOME_ROWS = 20


def outlook_items(user) -> list[dict]:
    """Season-outlook items (heavy load and above) on assets of the user's grids, each
    with `title`, `detail` and `url`, worst first."""
    items = outlook_selectors.outlook_items_for_home(user, limit=HOME_ROWS)
    return [{
        "title": str(item.transformer or item.line),
        "detail": _("%(level)s · peak %(rate).0f%% on %(day)s · %(registered)d registered + %(estimated)d "
                    "estimated returning households") % {
            "level": item.get_level_display(), "rate": item.peak_load_rate * 100,
            "day": f"{item.peak_date:%m-%d}", "registered": item.registered_households,
            "estimated": item.estimated_households},
        "url": reverse("loadforecast:outlook_item", args=[item.pk]),
    } for item in items]


def _grid_manager_work(user, today) -> dict:
    week_end = today + timedelta(days=6)
    hazards = visit_selectors.overdue_hazards(user, today=today)
    issues = visit_selectors.overdue_issues(user)
    return {
        "today": today,
        "week_end": week_end,
        "visits": list(visit_selectors.visits_of_day(user, today)),
        "hazards": list(hazards[:HOME_ROWS]),
        "issues": list(issues[:HOME_ROWS]),
        "alerts": load_selectors.active_alerts(user, limit=HOME_ROWS),
        "outlook": outlook_items(user),
        "arrivals": customer_selectors.residents_arriving(user, start=today, end=week_end, limit=HOME_ROWS),
    }


def _station_work(user, today) -> dict:
    monday = today - timedelta(days=today.weekday())
    return {
        "today": today,
        "week_start": monday,
        "week_end": monday + timedelta(days=6),
        "alert_levels": load_selectors.active_alerts_by_level(user),
        "week_visits": visit_selectors.week_visits_per_manager(user, start=monday, end=monday + timedelta(days=6)),
        "hazards": list(visit_selectors.overdue_hazards(user, today=today)[:HOME_ROWS]),
        "issues": list(visit_selectors.overdue_issues(user)[:HOME_ROWS]),
        "arrival_days": customer_selectors.arrival_totals_per_day(user, start=today, end=today + timedelta(days=6)),
        "cadence": visit_selectors.plans_behind_cadence(user, today=today, limit=HOME_ROWS),
    }


def _county_work(user, today) -> dict:
    return {
        "today": today,
        "coverage": customer_selectors.list_coverage(user, today=today, limit=HOME_ROWS),
        "imports": jobs_needing_attention(user, limit=HOME_ROWS),
        "progress": visit_selectors.progress_figures(user),
    }


def home(request):
    """The home page: the role's work of the day, then what the user is responsible for."""
    user = request.user
    role = primary_role(user)
    if role == Role.VILLAGE_CLERK:
        # A village clerk's work is the village's list: that is their home.
        return redirect("customers:village_list")
    territory = territory_of(user)
    today = timezone.localdate()
    if role == Role.GRID_MANAGER:
        places = list(Grid.objects.filter(pk__in=territory.grid_ids).select_related("station").order_by("code"))
    elif role == Role.STATION_STAFF:
        places = list(Station.objects.filter(pk__in=territory.station_ids).select_related("county").order_by("code"))
    elif role == Role.COUNTY_ADMIN:
        places = list(County.objects.filter(pk__in=territory.county_ids).order_by("code"))
    else:
        places = []
    breakdowns = []
    work = None
    if role == Role.GRID_MANAGER:
        # A grid manager's home is their work; the grid's assets are on the grid's page.
        work = _grid_manager_work(user, today)
        breakdowns.append(_villages_of(user))
        stale = _stale_village_lists(user)
        if stale is not None:
            breakdowns.insert(0, stale)
        if len(places) == 1:
            # One grid: its name is the page's title, a grid column would only repeat it.
            breakdowns = [(title, _drop_column(table, "grid")) for title, table in breakdowns]
    else:
        title, table = _breakdown(user, role)
        if table is not None:
            breakdowns.append((title, table))
        if role == Role.STATION_STAFF:
            work = _station_work(user, today)
        elif role == Role.COUNTY_ADMIN:
            work = _county_work(user, today)
    context = {
        "role": role,
        "places": places,
        "counts": territory_counts(user) if role and role != Role.GRID_MANAGER else None,
        "breakdowns": breakdowns,
        "work": work,
    }
    return render(request, "portal/home.html", context)
