"""Pages of the territory and the network: list and detail of counties, stations,
grids, villages, transformers and LV lines.
"""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.scoping import for_user, territory_of
from zhoukou_grid.core.tables import Column, count_of
from zhoukou_grid.core.views import Field, ScopedDetailView, ScopedListView, display_name, list_url, url_of, without
from zhoukou_grid.territory.filters import (
    CountyFilterSet,
    GridFilterSet,
    LVLineFilterSet,
    StationFilterSet,
    TransformerFilterSet,
    VillageFilterSet,
)
from zhoukou_grid.territory.models import County, Grid, LVLine, Station, Transformer, Village

# --- Counting children -----------------------------------------------------------------

# How each model reaches its grid; every model below a grid is scoped through it.
@dataclass(frozen=True)
class Occupants:
    """Who lives in the territory: the pages count and list them for each village,
    transformer and LV line. Households belong to a room above this one (`customers`),
    which registers them when the apps are ready, so this room never names it."""

    model: type[Model]
    columns: Callable[[], list[Column]]  # their table on a detail page
    list_url_name: str  # their full list, filtered by ?village= / ?transformer=


_occupants: list[Occupants] = []


def register_occupants(occupants: Occupants) -> None:
    _occupants[:] = [occupants]


def occupants() -> Occupants:
    if not _occupants:
        raise ImproperlyConfigured("No app registered the territory's occupants (customers.apps does).")
    return _occupants[0]


# Models counted per row of a list, scoped through their grid (see `countable`).
_COUNTED = (Grid, Village, Transformer, LVLine)


def manager_name(user) -> str:
    if user is None:
        return ""
    return display_name(user)


def countable(user, model):
    """The user's rows of `model`, shaped for counting the children of each listed row.

    The same rows as `for_user(user, model)`, restricted by the list of grid ids from
    `for_user(user, Grid)`, because every model below a grid is scoped through its grid.
    The difference is the plan: as a correlated COUNT per row, for_user's join chain
    (household → village → grid → station → county) made PostgreSQL walk every village of
    the county for each transformer (29 s to sort a county's 6,000 transformers by
    households, 1.5 M households in all); the grid-id list makes it one short index probe.
    """
    if model not in _COUNTED and model is not occupants().model:
        return for_user(user, model)
    path = model.territory_paths["grid"]
    territory = territory_of(user)
    if territory.everything:
        return model._default_manager.all()
    grid_ids = getattr(user, "_zg_visible_grid_ids", None)
    if grid_ids is None:
        grid_ids = list(for_user(user, Grid).values_list("pk", flat=True))
        user._zg_visible_grid_ids = grid_ids
    return model._default_manager.filter(**{f"{path}__in": grid_ids})


def _county_step(county):
    return (county.name, reverse("portal:county_detail", args=[county.pk]))


def _station_step(station):
    return (station.name, reverse("portal:station_detail", args=[station.pk]))


def _grid_step(grid):
    return (grid.name, reverse("portal:grid_detail", args=[grid.pk]))


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
        Column("manager", _("Grid manager"), accessor=lambda g: manager_name(g.manager), sort="manager__username"),
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
                         list_url("portal:station_list", county=obj.pk)),
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
        return [self.section(_("Grids"), without(grid_columns(), "station"), grids, list_url("portal:grid_list", station=obj.pk))]


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
            Field(_("Grid manager"), manager_name(obj.manager) or _("not assigned")),
        ]

    def get_sections(self, obj):
        user = self.request.user
        villages = (
            for_user(user, Village).filter(grid=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, occupants().model), "village")).order_by("code")
        )
        transformers = (
            for_user(user, Transformer).filter(grid=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, occupants().model), "transformer")).order_by("code")
        )
        return [
            self.section(_("Villages"), without(village_columns(), "grid", "station"), villages, list_url("portal:village_list", grid=obj.pk)),
            self.section(_("Transformers"), without(transformer_columns(), "grid", "station"), transformers,
                         list_url("portal:transformer_list", grid=obj.pk)),
        ]


class VillageListView(ScopedListView):
    model = Village
    filterset_class = VillageFilterSet
    select_related = ("grid__station",)
    import_kind = "villages"

    def get_columns(self):
        return village_columns()

    def annotate(self, queryset):
        return queryset.annotate(household_count=count_of(countable(self.request.user, occupants().model), "village"))


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
            for_user(self.request.user, occupants().model).filter(village=obj)
            .select_related("village", "transformer", "line").order_by("account_no")
        )
        return [self.section(_("Households"), without(occupants().columns(), "village"), households,
                             list_url(occupants().list_url_name, village=obj.pk))]


class TransformerListView(ScopedListView):
    model = Transformer
    filterset_class = TransformerFilterSet
    select_related = ("grid__station",)
    import_kind = "transformers"

    def get_columns(self):
        return transformer_columns()

    def annotate(self, queryset):
        return queryset.annotate(household_count=count_of(countable(self.request.user, occupants().model), "transformer"))


class TransformerDetailView(ScopedDetailView):
    model = Transformer
    select_related = ("grid__station__county",)
    list_url_name = "portal:transformer_list"

    def get_lineage(self, obj):
        return [_county_step(obj.grid.station.county), _station_step(obj.grid.station), _grid_step(obj.grid)]

    def get_fields(self, obj):
        user = self.request.user
        household_count = for_user(user, occupants().model).filter(transformer=obj).count()
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
                  list_url(occupants().list_url_name, transformer=obj.pk) if household_count else None),
        ]

    def get_sections(self, obj):
        user = self.request.user
        lines = (
            for_user(user, LVLine).filter(transformer=obj).select_related("transformer")
            .annotate(household_count=count_of(countable(user, occupants().model), "line")).order_by("code")
        )
        ties = (
            for_user(user, Transformer).filter(ties=obj).select_related("grid__station")
            .annotate(household_count=count_of(countable(user, occupants().model), "transformer")).order_by("code")
        )
        return [
            self.section(_("LV lines"), without(lvline_columns(), "transformer"), lines, list_url("portal:lvline_list", transformer=obj.pk)),
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
        return queryset.annotate(household_count=count_of(countable(self.request.user, occupants().model), "line"))


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
            for_user(self.request.user, occupants().model).filter(line=obj)
            .select_related("village", "transformer", "line").order_by("account_no")
        )
        return [self.section(_("Households"), without(occupants().columns(), "transformer", "line"), households)]


