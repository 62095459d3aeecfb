"""Territory, network assets and roles.

Territory: County > Station > Grid > Village. Network: Transformer (in a grid) > LVLine.
Every model that users can see declares `territory_paths`: for each level of the
territory tree, the lookup from the model to that level's primary key. `core.scoping`
turns a user's role assignments into a filter through these paths.
"""


from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COMPANY_ADMIN = "company_admin", _("Company admin")
    COUNTY_ADMIN = "county_admin", _("County admin")
    STATION_STAFF = "station_staff", _("Station staff")
    GRID_MANAGER = "grid_manager", _("Grid manager")
    # A village committee's clerk keeps the village's returning list, nothing else.
    VILLAGE_CLERK = "village_clerk", _("Village clerk")


class County(models.Model):
    code = models.CharField(_("county code"), max_length=32, unique=True)
    name = models.CharField(_("county name"), max_length=64)

    territory_paths = {"county": "pk"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("county")
        verbose_name_plural = _("counties")

    def __str__(self) -> str:
        return self.name


class Station(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="stations", verbose_name=_("county"))
    code = models.CharField(_("station code"), max_length=32, unique=True)
    name = models.CharField(_("station name"), max_length=64)

    territory_paths = {"county": "county_id", "station": "pk"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("power supply station")
        verbose_name_plural = _("power supply stations")

    def __str__(self) -> str:
        return self.name


class Grid(models.Model):
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="grids", verbose_name=_("station"))
    code = models.CharField(_("grid code"), max_length=32, unique=True)
    name = models.CharField(_("grid name"), max_length=64)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_grids",
        verbose_name=_("grid manager"),
    )

    territory_paths = {"county": "station__county_id", "station": "station_id", "grid": "pk"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="villages", verbose_name=_("grid"))
    code = models.CharField(_("village code"), max_length=32, unique=True)
    name = models.CharField(_("village name"), max_length=64)

    territory_paths = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id",
                       "village": "pk"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("village")
        verbose_name_plural = _("villages")
        indexes = [models.Index(fields=["grid", "name"])]

    def __str__(self) -> str:
        return self.name


STANDARD_RATINGS_KVA = (30, 50, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600)


class Transformer(models.Model):
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="transformers", verbose_name=_("grid"))
    code = models.CharField(_("transformer code"), max_length=32, unique=True)
    name = models.CharField(_("transformer name"), max_length=64)
    rated_kva = models.PositiveIntegerField(
        _("rated capacity (kVA)"), validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    p0_w = models.PositiveIntegerField(_("no-load loss (W)"), null=True, blank=True)
    pk_w = models.PositiveIntegerField(_("load loss (W)"), null=True, blank=True)
    year = models.PositiveSmallIntegerField(
        _("commissioning year"), null=True, blank=True, validators=[MinValueValidator(1950), MaxValueValidator(2100)]
    )
    ties = models.ManyToManyField(
        "self", symmetrical=True, blank=True, verbose_name=_("tied transformers"),
        help_text=_("Neighbouring transformers this one can transfer load to."),
    )

    territory_paths = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id"}

    class Meta:
        ordering = ["code"]
        verbose_name = _("transformer")
        verbose_name_plural = _("transformers")
        constraints = [
            models.CheckConstraint(condition=Q(rated_kva__gte=1) & Q(rated_kva__lte=5000), name="transformer_rated_kva_range"),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | (Q(year__gte=1950) & Q(year__lte=2100)), name="transformer_year_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class LVLine(models.Model):
    transformer = models.ForeignKey(
        Transformer, on_delete=models.PROTECT, related_name="lines", verbose_name=_("transformer")
    )
    code = models.CharField(_("line code"), max_length=40, unique=True)
    conductor = models.CharField(_("conductor type"), max_length=40, blank=True)
    section_mm2 = models.PositiveIntegerField(_("cross-section (mm²)"), null=True, blank=True)
    ampacity_a = models.PositiveIntegerField(
        _("ampacity (A)"), validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    length_m = models.PositiveIntegerField(_("length (m)"), null=True, blank=True)

    territory_paths = {
        "county": "transformer__grid__station__county_id",
        "station": "transformer__grid__station_id",
        "grid": "transformer__grid_id",
    }

    class Meta:
        ordering = ["code"]
        verbose_name = _("LV line")
        verbose_name_plural = _("LV lines")
        constraints = [
            models.CheckConstraint(condition=Q(ampacity_a__gte=1), name="lvline_ampacity_positive"),
        ]

    def __str__(self) -> str:
        return self.code


class RoleAssignment(models.Model):
    """One role of a user over one territory. A user may hold several."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    county = models.ForeignKey(County, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("county"))
    station = models.ForeignKey(Station, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("station"))
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("grid"))
    village = models.ForeignKey(Village, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("village"))

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            # The territory column must match the role's level, and only that one is set.
            models.CheckConstraint(
                name="role_assignment_territory_matches_role",
                condition=(
                    Q(role="company_admin", county__isnull=True, station__isnull=True, grid__isnull=True,
                      village__isnull=True)
                    | Q(role="county_admin", county__isnull=False, station__isnull=True, grid__isnull=True,
                        village__isnull=True)
                    | Q(role="station_staff", county__isnull=True, station__isnull=False, grid__isnull=True,
                        village__isnull=True)
                    | Q(role="grid_manager", county__isnull=True, station__isnull=True, grid__isnull=False,
                        village__isnull=True)
                    | Q(role="village_clerk", county__isnull=True, station__isnull=True, grid__isnull=True,
                        village__isnull=False)
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "county", "station", "grid", "village"],
                name="role_assignment_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        territory = self.county or self.station or self.grid or self.village or _("all")
        return f"{self.user} · {self.get_role_display()} · {territory}"

    @property
    def territory(self):
        return self.county or self.station or self.grid or self.village




class UserProfile(models.Model):
    """What customers are told about a member of staff: the one phone number printed on the
    service cards, the plan sheet and the plan page. It is the work phone the company gives
    customers to call, so it is shown in full (not a customer's personal data)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile",
                                verbose_name=_("user"))
    phone = models.CharField(_("work phone"), max_length=20, blank=True,
                             help_text=_("The number customers call: printed on service cards and plan sheets."))

    class Meta:
        verbose_name = _("user profile")
        verbose_name_plural = _("user profiles")

    def __str__(self) -> str:
        return self.phone


def work_phones(user_ids) -> dict[int, str]:
    """Each user's work phone (one query for all); users without one are left out."""
    return dict(UserProfile.objects.filter(user_id__in=list(user_ids)).exclude(phone="")
                .values_list("user_id", "phone"))


class GridCardToken(models.Model):
    """The secret in the QR code of a grid's service cards (issue 15).

    The card's URL carries `key` and a MAC of it (`zhoukou_grid.territory.cards`), so a
    tampered token is refused before any query and a database copy alone cannot mint one.
    A grid has one live token; rotating it (cards reprinted) retires the old one, which
    keeps working for settings.CARD_TOKEN_GRACE_DAYS, then answers "card expired".
    """

    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="card_tokens", verbose_name=_("grid"))
    key = models.CharField(_("key"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    territory_paths = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id"}

    class Meta:
        ordering = ["grid_id", "-created_at", "-pk"]
        verbose_name = _("service card token")
        verbose_name_plural = _("service card tokens")
        constraints = [
            # One live token per grid: the one printed on the cards now.
            models.UniqueConstraint(fields=["grid"], condition=Q(retired_at__isnull=True),
                                    name="gridcardtoken_one_live_per_grid"),
        ]

    def __str__(self) -> str:
        return f"{self.grid_id} · {self.created_at:%Y-%m-%d}"
