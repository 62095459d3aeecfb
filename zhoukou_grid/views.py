"""HTML pages: the home page per role, and list/detail pages of the territory and assets.

Every queryset starts from `for_user`; a detail page fetches its object through
`get_for_user_or_404`, so another territory's object is a 404 exactly like a missing one.
Each list/detail view declares `model`, which the outsider test uses to find the model
behind a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import Count, Sum
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView, ListView

from customers.models import Household

from .context_processors import display_name
from .filters import (
    CountyFilterSet,
    GridFilterSet,
    LVLineFilterSet,
    StationFilterSet,
    TransformerFilterSet,
    VillageFilterSet,
)
from .models import County, Grid, LVLine, Role, Station, Transformer, Village
from .scoping import for_user, get_for_user_or_404, primary_role, territory_of
from .tables import Column, Table, build_table, count_of, resolve_sort, sum_of

CHILD_ROWS = 50
MAX_FILTER_CHOICES = 500


def url_of(name: str, attr: str = "pk"):
    """A link builder for a column: the detail page `name` of the object at `attr`."""

    def link(obj):
        target = obj
        for part in attr.split(".")[:-1]:
            target = getattr(target, part, None)
            if target is None:
                return None
        pk = getattr(target, attr.split(".")[-1], None)
        return reverse(name, args=[pk]) if pk is not None else None

    return link


@dataclass(frozen=True)
class Field:
    label: Any
    value: Any
    url: str | None = None


@dataclass
class Section:
    """A child table on a detail page, with a link to the full, filtered list."""

    title: Any
    table: Any
    total: int
    more_url: str | None = None


# --- Counting children -----------------------------------------------------------------

# How each model reaches its grid; every model below a grid is scoped through it.
_GRID_PATHS = {Grid: "pk", Village: "grid_id", Transformer: "grid_id", LVLine: "transformer__grid_id",
               Household: "village__grid_id"}


def countable(user, model):
    """The user's rows of `model`, shaped for counting the children of each listed row.

    The same rows as `for_user(user, model)`, restricted by the list of grid ids from
    `for_user(user, Grid)`, because every model below a grid is scoped through its grid.
    The difference is the plan: as a correlated COUNT per row, for_user's join chain
    (household → village → grid → station → county) made PostgreSQL walk every village of
    the county for each transformer (29 s to sort a county's 6,000 transformers by
    households, 1.5 M households in all); the grid-id list makes it one short index probe.
    """
    path = _GRID_PATHS.get(model)
    if path is None:
        return for_user(user, model)
    territory = territory_of(user)
    if territory.everything:
        return model._default_manager.all()
    grid_ids = getattr(user, "_zg_visible_grid_ids", None)
    if grid_ids is None:
        grid_ids = list(for_user(user, Grid).values_list("pk", flat=True))
        user._zg_visible_grid_ids = grid_ids
    return model._default_manager.filter(**{f"{path}__in": grid_ids})


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
            Column("manager", _("Grid manager"), accessor=lambda g: _manager_name(g.manager)),
            Column("village_count", _("Villages"), numeric=True),
            Column("transformer_count", _("Transformers"), numeric=True),
            Column("household_count", _("Households"), numeric=True),
            Column("kva", _("Rated capacity (kVA)"), numeric=True),
        ]
        return _("Grids in your station"), build_table(columns, rows)
    if role == Role.COUNTY_ADMIN:
        rows = (
            for_user(user, Station, include_context=False)
            .select_related("county")
            .annotate(
                grid_count=count_of(countable(user, Grid), "station"),
                transformer_count=count_of(transformers, "grid__station"),
                household_count=count_of(households, "village__grid__station"),
                kva=sum_of(transformers, "grid__station", "rated_kva"),
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


def _drop_column(table: Table, key: str) -> Table:
    keep = [index for index, header in enumerate(table.headers) if header.column.key != key]
    return Table(headers=[table.headers[i] for i in keep], rows=[[row[i] for i in keep] for row in table.rows])


def _manager_name(user) -> str:
    if user is None:
        return ""
    return display_name(user)


def home(request):
    """The home page: what the user is responsible for, with live counts."""
    user = request.user
    role = primary_role(user)
    territory = territory_of(user)
    if role == Role.GRID_MANAGER:
        places = list(Grid.objects.filter(pk__in=territory.grid_ids).select_related("station").order_by("code"))
    elif role == Role.STATION_STAFF:
        places = list(Station.objects.filter(pk__in=territory.station_ids).select_related("county").order_by("code"))
    elif role == Role.COUNTY_ADMIN:
        places = list(County.objects.filter(pk__in=territory.county_ids).order_by("code"))
    else:
        places = []
    breakdowns = []
    title, table = _breakdown(user, role)
    if table is not None:
        breakdowns.append((title, table))
    if role == Role.GRID_MANAGER:
        breakdowns.append(_villages_of(user))
        if len(places) == 1:
            # One grid: its name is the page's title, a grid column would only repeat it.
            breakdowns = [(title, _drop_column(table, "grid")) for title, table in breakdowns]
    context = {
        "role": role,
        "places": places,
        "counts": territory_counts(user) if role else None,
        "breakdowns": breakdowns,
    }
    return render(request, "portal/home.html", context)


# --- Lists and details -----------------------------------------------------------------


class ScopedPermissionMixin(PermissionRequiredMixin):
    """Viewing a kind of object needs its Django view permission; the rows come from `for_user`."""

    def get_permission_required(self):
        opts = self.model._meta
        return [f"{opts.app_label}.view_{opts.model_name}"]


class ScopedListView(ScopedPermissionMixin, ListView):
    """A filtered, searchable, sortable, paged list of the rows the user may see."""

    template_name = "portal/object_list.html"
    paginate_by = 50
    filterset_class = None
    columns: list[Column] = []
    default_sort = "code"
    select_related: tuple[str, ...] = ()
    import_kind: str | None = None  # the import/export kind of this list, if any
    search_hint = _("Search by code or name")

    def annotate(self, queryset):
        return queryset

    def base_queryset(self):
        return for_user(self.request.user, self.model)

    def get_queryset(self):
        queryset = self.annotate(self.base_queryset().select_related(*self.select_related))
        self.filterset = self.filterset_class(self.request.GET or None, queryset=queryset, request=self.request)
        self.limit_choice_widgets(self.filterset.form)
        self.active_sort, order_by = resolve_sort(self.get_columns(), self.request.GET.get("sort"), self.default_sort)
        return self.filterset.qs.order_by(*order_by)

    def get_columns(self) -> list[Column]:
        return self.columns

    def limit_choice_widgets(self, form) -> None:
        """Drop a drop-down that would list thousands of rows (a county has ~6,000 transformers).

        The filter still works when a link sets it (e.g. "all households of this
        transformer"); the form then carries the value as a hidden field.
        """
        for field in form.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and queryset.count() > MAX_FILTER_CHOICES:
                field.widget = forms.HiddenInput()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        opts = self.model._meta
        filters_active = any(
            value for key, value in self.request.GET.items() if key in self.filterset.filters and key != "q"
        )
        context.update(
            title=opts.verbose_name_plural,
            table=build_table(self.get_columns(), context["object_list"], self.active_sort),
            filterset=self.filterset,
            filters_active=filters_active,
            search_value=self.request.GET.get("q", ""),
            search_hint=self.search_hint,
            # Phones show rows as cards without headers: sorting is also offered as a choice.
            sort_options=[
                (f"{prefix}{column.key}", f"{column.header} {arrow}")
                for column in self.get_columns() if column.sort
                for prefix, arrow in (("", "↑"), ("-", "↓"))
            ],
            active_sort=self.active_sort,
            import_kind=self.import_kind,
            can_import=bool(self.import_kind) and user.has_perm("zhoukou_grid.add_importjob"),
            can_export=bool(self.import_kind) and user.has_perm(f"{opts.app_label}.view_{opts.model_name}"),
        )
        return context


class ScopedDetailView(ScopedPermissionMixin, DetailView):
    """One object of the user's territory and its children, themselves scoped."""

    template_name = "portal/object_detail.html"
    select_related: tuple[str, ...] = ()
    list_url_name: str = ""

    def get_object(self, queryset=None):
        queryset = self.model._default_manager.select_related(*self.select_related)
        return get_for_user_or_404(self.request.user, queryset, pk=self.kwargs["pk"])

    def get_fields(self, obj) -> list[Field]:
        return []

    def get_sections(self, obj) -> list[Section]:
        return []

    def get_lineage(self, obj) -> list[tuple[str, str]]:
        """Where the object sits in the territory, top down: (name, url) of each ancestor."""
        return []

    def section(self, title, columns, queryset, more_url=None) -> Section:
        """A child table: the first CHILD_ROWS rows and the total."""
        rows = list(queryset[: CHILD_ROWS + 1])
        total = len(rows) if len(rows) <= CHILD_ROWS else queryset.count()
        return Section(title=title, table=build_table(columns, rows[:CHILD_ROWS]), total=total, more_url=more_url)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = context["object"]
        context.update(
            title=str(obj),
            kind=self.model._meta.verbose_name,
            list_url=reverse(self.list_url_name),
            list_title=self.model._meta.verbose_name_plural,
            fields=self.get_fields(obj),
            sections=self.get_sections(obj),
            lineage=self.get_lineage(obj),
        )
        return context


def _county_step(county):
    return (county.name, reverse("portal:county_detail", args=[county.pk]))


def _station_step(station):
    return (station.name, reverse("portal:station_detail", args=[station.pk]))


def _grid_step(grid):
    return (grid.name, reverse("portal:grid_detail", args=[grid.pk]))


def without(columns: list[Column], *keys: str) -> list[Column]:
    """Columns minus those a child table would repeat from its parent page."""
    return [column for column in columns if column.key not in keys]


def _list_url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


# Column sets reused by list pages and child tables.
def station_columns(user):
    return [
        Column("code", _("Station code"), sort="code", link=url_of("portal:station_detail"), primary=True),
        Column("name", _("Station name"), sort="name"),
        Column("county", _("County"), accessor="county.name", sort="county__name", link=url_of("portal:county_detail", "county_id")),
        Column("grid_count", _("Grids"), sort="grid_count", numeric=True),
    ]


def grid_columns():
    return [
        Column("code", _("Grid code"), sort="code", link=url_of("portal:grid_detail"), primary=True),
        Column("name", _("Grid name"), sort="name"),
        Column("station", _("Station"), accessor="station.name", sort="station__name", link=url_of("portal:station_detail", "station_id")),
        Column("manager", _("Grid manager"), accessor=lambda g: _manager_name(g.manager), sort="manager__username"),
        Column("transformer_count", _("Transformers"), sort="transformer_count", numeric=True),
    ]


def village_columns():
    return [
        Column("code", _("Village code"), sort="code", link=url_of("portal:village_detail"), primary=True),
        Column("name", _("Village name"), sort="name"),
        Column("grid", _("Grid"), accessor="grid.name", sort="grid__name", link=url_of("portal:grid_detail", "grid_id")),
        Column("station", _("Station"), accessor="grid.station.name", sort="grid__station__name"),
        Column("household_count", _("Households"), sort="household_count", numeric=True),
    ]


def transformer_columns():
    return [
        Column("code", _("Transformer code"), sort="code", link=url_of("portal:transformer_detail"), primary=True),
        Column("name", _("Transformer name"), sort="name"),
        Column("grid", _("Grid"), accessor="grid.name", sort="grid__name", link=url_of("portal:grid_detail", "grid_id")),
        Column("station", _("Station"), accessor="grid.station.name", sort="grid__station__name"),
        Column("rated_kva", _("Rated capacity (kVA)"), sort="rated_kva", numeric=True),
        Column("year", _("Commissioning year"), sort="year", numeric=True),
        Column("household_count", _("Households"), sort="household_count", numeric=True),
    ]


def lvline_columns():
    return [
        Column("code", _("Line code"), sort="code", link=url_of("portal:lvline_detail"), primary=True),
        Column("transformer", _("Transformer"), accessor="transformer.name", sort="transformer__code",
               link=url_of("portal:transformer_detail", "transformer_id")),
        Column("conductor", _("Conductor type"), sort="conductor"),
        Column("section_mm2", _("Cross-section (mm²)"), sort="section_mm2", numeric=True),
        Column("ampacity_a", _("Ampacity (A)"), sort="ampacity_a", numeric=True),
        Column("length_m", _("Length (m)"), sort="length_m", numeric=True),
        Column("household_count", _("Households"), sort="household_count", numeric=True),
    ]


def household_columns():
    return [
        Column("account_no", _("Account number"), sort="account_no", link=url_of("customers:household_detail"), primary=True),
        Column("name", _("Account name"), sort="name"),
        Column("village", _("Village"), accessor="village.name", sort="village__name", link=url_of("portal:village_detail", "village_id")),
        Column("transformer", _("Transformer"), accessor="transformer.name", sort="transformer__code",
               link=url_of("portal:transformer_detail", "transformer_id")),
        Column("line", _("LV line"), accessor="line.code", sort="line__code", link=url_of("portal:lvline_detail", "line_id")),
        Column("phase", _("Phase"), sort="phase"),
    ]


class CountyListView(ScopedListView):
    model = County
    filterset_class = CountyFilterSet

    def get_columns(self):
        return [
            Column("code", _("County code"), sort="code", link=url_of("portal:county_detail"), primary=True),
            Column("name", _("County name"), sort="name"),
            Column("station_count", _("Stations"), sort="station_count", numeric=True),
        ]

    def annotate(self, queryset):
        return queryset.annotate(station_count=count_of(countable(self.request.user, Station), "county"))


class CountyDetailView(ScopedDetailView):
    model = County
    list_url_name = "portal:county_list"

    def get_fields(self, obj):
        return [Field(_("County code"), obj.code), Field(_("County name"), obj.name)]

    def get_sections(self, obj):
        user = self.request.user
        stations = (
            for_user(user, Station).filter(county=obj).select_related("county")
            .annotate(grid_count=count_of(countable(user, Grid), "station")).order_by("code")
        )
        return [
            self.section(_("Power supply stations"), without(station_columns(user), "county"), stations,
                         _list_url("portal:station_list", county=obj.pk)),
        ]


class StationListView(ScopedListView):
    model = Station
    filterset_class = StationFilterSet
    select_related = ("county",)
    import_kind = "stations"

    def get_columns(self):
        return station_columns(self.request.user)

    def annotate(self, queryset):
        return queryset.annotate(grid_count=count_of(countable(self.request.user, Grid), "station"))


class StationDetailView(ScopedDetailView):
    model = Station
    select_related = ("county",)
    list_url_name = "portal:station_list"

    def get_lineage(self, obj):
        return [_county_step(obj.county)]

    def get_fields(self, obj):
        return [
            Field(_("Station code"), obj.code),
            Field(_("Station name"), obj.name),
            Field(_("County"), obj.county.name, reverse("portal:county_detail", args=[obj.county_id])),
        ]

    def get_sections(self, obj):
        user = self.request.user
        grids = (
            for_user(user, Grid).filter(station=obj).select_related("station", "manager")
            .annotate(transformer_count=count_of(countable(user, Transformer), "grid")).order_by("code")
        )
        return [self.section(_("Grids"), without(grid_columns(), "station"), grids, _list_url("portal:grid_list", station=obj.pk))]


class GridListView(ScopedListView):
    model = Grid
    filterset_class = GridFilterSet
    select_related = ("station", "manager")
    import_kind = "grids"

    def get_columns(self):
        return grid_columns()

    def annotate(self, queryset):
        return queryset.annotate(transformer_count=count_of(countable(self.request.user, Transformer), "grid"))


class GridDetailView(ScopedDetailView):
    model = Grid
    select_related = ("station__county", "manager")
    list_url_name = "portal:grid_list"

    def get_lineage(self, obj):
        return [_county_step(obj.station.county), _station_step(obj.station)]

    def get_fields(self, obj):
        return [
            Field(_("Grid code"), obj.code),
            Field(_("Grid name"), obj.name),
            Field(_("Station"), obj.station.name, reverse("portal:station_detail", args=[obj.station_id])),
            Field(_("County"), obj.station.county.name),
            Field(_("Grid manager"), _manager_name(obj.manager) or _("not assigned")),
        ]

    def get_sections(self, obj):
        user = self.request.user
        villages = (
            for_user(user, Village).filter(grid=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, Household), "village")).order_by("code")
        )
        transformers = (
            for_user(user, Transformer).filter(grid=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, Household), "transformer")).order_by("code")
        )
        return [
            self.section(_("Villages"), without(village_columns(), "grid", "station"), villages, _list_url("portal:village_list", grid=obj.pk)),
            self.section(_("Transformers"), without(transformer_columns(), "grid", "station"), transformers,
                         _list_url("portal:transformer_list", grid=obj.pk)),
        ]


class VillageListView(ScopedListView):
    model = Village
    filterset_class = VillageFilterSet
    select_related = ("grid__station",)
    import_kind = "villages"

    def get_columns(self):
        return village_columns()

    def annotate(self, queryset):
        return queryset.annotate(household_count=count_of(countable(self.request.user, Household), "village"))


class VillageDetailView(ScopedDetailView):
    model = Village
    select_related = ("grid__station__county",)
    list_url_name = "portal:village_list"

    def get_lineage(self, obj):
        return [_county_step(obj.grid.station.county), _station_step(obj.grid.station), _grid_step(obj.grid)]

    def get_fields(self, obj):
        return [
            Field(_("Village code"), obj.code),
            Field(_("Village name"), obj.name),
            Field(_("Grid"), obj.grid.name, reverse("portal:grid_detail", args=[obj.grid_id])),
            Field(_("Station"), obj.grid.station.name, reverse("portal:station_detail", args=[obj.grid.station_id])),
        ]

    def get_sections(self, obj):
        households = (
            for_user(self.request.user, Household).filter(village=obj)
            .select_related("village", "transformer", "line").order_by("account_no")
        )
        return [self.section(_("Households"), without(household_columns(), "village"), households,
                             _list_url("customers:household_list", village=obj.pk))]


class TransformerListView(ScopedListView):
    model = Transformer
    filterset_class = TransformerFilterSet
    select_related = ("grid__station",)
    import_kind = "transformers"

    def get_columns(self):
        return transformer_columns()

    def annotate(self, queryset):
        return queryset.annotate(household_count=count_of(countable(self.request.user, Household), "transformer"))


class TransformerDetailView(ScopedDetailView):
    model = Transformer
    select_related = ("grid__station__county",)
    list_url_name = "portal:transformer_list"

    def get_lineage(self, obj):
        return [_county_step(obj.grid.station.county), _station_step(obj.grid.station), _grid_step(obj.grid)]

    def get_fields(self, obj):
        user = self.request.user
        household_count = for_user(user, Household).filter(transformer=obj).count()
        dash = "—"
        return [
            Field(_("Transformer code"), obj.code),
            Field(_("Transformer name"), obj.name),
            Field(_("Grid"), obj.grid.name, reverse("portal:grid_detail", args=[obj.grid_id])),
            Field(_("Station"), obj.grid.station.name, reverse("portal:station_detail", args=[obj.grid.station_id])),
            Field(_("Rated capacity (kVA)"), obj.rated_kva),
            Field(_("No-load loss P0 (W)"), obj.p0_w if obj.p0_w is not None else dash),
            Field(_("Load loss Pk (W)"), obj.pk_w if obj.pk_w is not None else dash),
            Field(_("Commissioning year"), obj.year or dash),
            Field(_("Households"), household_count,
                  _list_url("customers:household_list", transformer=obj.pk) if household_count else None),
        ]

    def get_sections(self, obj):
        user = self.request.user
        lines = (
            for_user(user, LVLine).filter(transformer=obj).select_related("transformer")
            .annotate(household_count=count_of(countable(user, Household), "line")).order_by("code")
        )
        ties = (
            for_user(user, Transformer).filter(ties=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, Household), "transformer")).order_by("code")
        )
        return [
            self.section(_("LV lines"), without(lvline_columns(), "transformer"), lines, _list_url("portal:lvline_list", transformer=obj.pk)),
            self.section(_("Tied transformers (load transfer)"), transformer_columns(), ties),
        ]


class LVLineListView(ScopedListView):
    model = LVLine
    search_hint = _("Search by line code, conductor or transformer")
    filterset_class = LVLineFilterSet
    select_related = ("transformer",)
    import_kind = "lvlines"

    def get_columns(self):
        return lvline_columns()

    def annotate(self, queryset):
        return queryset.annotate(household_count=count_of(countable(self.request.user, Household), "line"))


class LVLineDetailView(ScopedDetailView):
    model = LVLine
    select_related = ("transformer__grid__station__county",)
    list_url_name = "portal:lvline_list"

    def get_lineage(self, obj):
        grid = obj.transformer.grid
        return [
            _county_step(grid.station.county), _station_step(grid.station), _grid_step(grid),
            (obj.transformer.name, reverse("portal:transformer_detail", args=[obj.transformer_id])),
        ]

    def get_fields(self, obj):
        dash = "—"
        transformer = obj.transformer
        return [
            Field(_("Line code"), obj.code),
            Field(_("Transformer"), str(transformer), reverse("portal:transformer_detail", args=[transformer.pk])),
            Field(_("Grid"), transformer.grid.name, reverse("portal:grid_detail", args=[transformer.grid_id])),
            Field(_("Conductor type"), obj.conductor or dash),
            Field(_("Cross-section (mm²)"), obj.section_mm2 or dash),
            Field(_("Ampacity (A)"), obj.ampacity_a),
            Field(_("Length (m)"), obj.length_m or dash),
        ]

    def get_sections(self, obj):
        households = (
            for_user(self.request.user, Household).filter(line=obj)
            .select_related("village", "transformer", "line").order_by("account_no")
        )
        return [self.section(_("Households"), without(household_columns(), "transformer", "line"), households)]


# --- Login throttling ----------------------------------------------------------------------


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login: a page in the user's language, HTTP 429."""
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
