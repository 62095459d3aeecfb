"""Households (electricity accounts). Returning residents and key customers come later."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core import crypto
from zhoukou_grid.core.lunar_calendar import nearest_season
from zhoukou_grid.territory.models import LVLine, Transformer, Village

from .parsing import MAX_PERSONS, mask_contact_phone, mask_id_number, mask_phone


class Phase(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    ABC = "ABC", "ABC"


class Household(models.Model):
    account_no = models.CharField(_("account number"), max_length=13, unique=True)
    name = models.CharField(_("account name"), max_length=64)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="households", verbose_name=_("village"))
    transformer = models.ForeignKey(
        Transformer, on_delete=models.PROTECT, related_name="households", verbose_name=_("transformer")
    )
    line = models.ForeignKey(
        LVLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="households", verbose_name=_("LV line")
    )
    phase = models.CharField(_("phase"), max_length=3, choices=Phase.choices, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)

    # A household belongs to the grid of its village.
    territory_paths = {
        "county": "village__grid__station__county_id",
        "station": "village__grid__station_id",
        "grid": "village__grid_id",
        "village": "village_id",
    }

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("household")
        verbose_name_plural = _("households")
        indexes = [models.Index(fields=["village", "name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_no__regex=r"^[0-9]{10,13}$"), name="household_account_no_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_no})"


class Heating(models.TextChoices):
    ELECTRIC_HEATER = "electric_heater", _("Electric heater")
    AIR_CONDITIONER = "air_conditioner", _("Air conditioner")
    ELECTRIC_BLANKET = "electric_blanket", _("Electric blanket")
    HEAT_PUMP = "heat_pump", _("Heat pump")
    COAL = "coal", _("Coal")
    GAS = "gas", _("Gas")
    NONE = "none", _("None")
    OTHER = "other", _("Other")


# Personal fields of a returning resident, each stored as three columns (docs/personal-data.md):
# `<field>_enc` the AES-GCM token, `<field>_hmac` the keyed HMAC of the normalised value (for
# matching and uniqueness), `<field>_masked` what lists and masked exports show.
RESIDENT_PERSONAL_FIELDS = ("id_number", "phone")
_MASKERS = {"id_number": mask_id_number, "phone": mask_phone}
_PHONE_NOISE = re.compile(r"[^0-9]")


def normalise_personal(field: str, value: str) -> str:
    """The form whose HMAC is stored: ID upper-case (a trailing X), 18 characters; phone
    its digits (the parsers already give these; this only guards other callers)."""
    value = (value or "").strip()
    if field == "id_number":
        return value.replace(" ", "").upper()
    digits = _PHONE_NOISE.sub("", value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def personal_columns(field: str, value: str, *, normalised: bool = False) -> dict[str, str]:
    """The three stored columns of one personal value ("" for all three when empty)."""
    if not normalised:
        value = normalise_personal(field, value)
    if not value:
        return {f"{field}_enc": "", f"{field}_hmac": "", f"{field}_masked": ""}
    return {f"{field}_enc": crypto.encrypt(value, purpose=field),
            f"{field}_hmac": crypto.blind_index(value, purpose=field),
            f"{field}_masked": _MASKERS[field](value)}


def personal_index(field: str, value: str) -> str:
    """The HMAC of a (raw or normalised) value, for lookups; "" for an empty one."""
    return crypto.blind_index(normalise_personal(field, value), purpose=field)


def _personal_property(field: str) -> property:
    """`resident.id_number` / `resident.phone`: assigning sets the three stored columns;
    reading decrypts (one value: reveals, exports for roles that may see it, tests). Lists
    and masked views read `<field>_masked` instead and never decrypt. A property (not a
    custom descriptor) so that `ReturningResident(phone=...)` and serializers accept it."""

    def getter(self) -> str:
        return crypto.decrypt(getattr(self, f"{field}_enc") or "", purpose=field)

    def setter(self, value: str) -> None:
        for name, column in personal_columns(field, value or "").items():
            setattr(self, name, column)

    return property(getter, setter)


# Phones of key customers' contacts and of the person responsible for a plan: the same three
# columns as a resident's phone (docs/personal-data.md). The value is kept as typed (a landline
# with its area code and dash) and masked by `mask_contact_phone`; its HMAC is that of the
# digits under the purpose "phone", so a number searched for finds residents and contacts alike.
CONTACT_PHONE_MAX_LENGTH = 20


def contact_phone_columns(field: str, value: str) -> dict[str, str]:
    """The three stored columns of a contact phone ("" for all three when empty)."""
    value = (value or "").strip()
    if not value:
        return {f"{field}_enc": "", f"{field}_hmac": "", f"{field}_masked": ""}
    return {f"{field}_enc": crypto.encrypt(value, purpose=field),
            f"{field}_hmac": personal_index("phone", value),
            f"{field}_masked": mask_contact_phone(value)}


def _contact_phone_property(field: str) -> property:
    """Like `_personal_property`: assigning fills the three columns, reading decrypts one
    value (an audited reveal, a printed sheet or an export for a role that may see it)."""

    def getter(self) -> str:
        return crypto.decrypt(getattr(self, f"{field}_enc") or "", purpose=field)

    def setter(self, value: str) -> None:
        for name, column in contact_phone_columns(field, value or "").items():
            setattr(self, name, column)

    return property(getter, setter)


def _contact_phone_columns(verbose_name):
    """Token, HMAC and masked form of one contact phone, as model fields."""
    return (models.CharField(max_length=160, blank=True, editable=False),
            models.CharField(max_length=64, blank=True, editable=False),
            models.CharField(verbose_name, max_length=CONTACT_PHONE_MAX_LENGTH, blank=True, editable=False))


class ReturningResident(models.Model):
    """A person coming home for the festival, from a village committee list or a visit.

    `match_key` is what makes a re-import update instead of duplicate: the HMAC of the ID
    number when given, otherwise name + HMAC of the phone, otherwise name + village +
    household account. It is unique per village, not city-wide: one person may honestly be
    on two villages' lists, and a city-wide rule would tell a grid manager that an ID number
    is listed somewhere outside their territory (docs/security.md, "Existence oracles").
    No plaintext ID or phone number is stored (see `_personal_property`).
    """

    class Status(models.TextChoices):
        EXPECTED = "expected", _("Expected")
        ARRIVED = "arrived", _("Arrived")
        DEPARTED = "departed", _("Departed")

    class Source(models.TextChoices):
        IMPORT = "import", _("Import")
        MANUAL = "manual", _("Manual entry")
        VISIT = "visit", _("Visit")
        VILLAGE = "village", _("Village committee")

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="residents", verbose_name=_("village"))
    village_group = models.CharField(_("village group"), max_length=32, blank=True)
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="residents",
        verbose_name=_("household"),
    )
    account_no = models.CharField(_("account number as listed"), max_length=13, blank=True)
    head_name = models.CharField(_("head of household"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=64)
    # Encrypted ID and phone numbers with their HMACs and masked forms (see RESIDENT_PERSONAL_FIELDS).
    id_number_enc = models.CharField(max_length=100, blank=True, editable=False)
    id_number_hmac = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True, editable=False)
    phone_enc = models.CharField(max_length=100, blank=True, editable=False)
    phone_hmac = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("mobile phone"), max_length=11, blank=True, editable=False)
    id_number = _personal_property("id_number")
    phone = _personal_property("phone")
    workplace = models.CharField(_("place of work"), max_length=100, blank=True)
    persons = models.PositiveSmallIntegerField(_("persons coming home"), default=1)
    arrival_date = models.DateField(_("arrival date"), db_index=True)
    # The festival the entry is listed for: the Gregorian year of its Lunar New Year (2027 for
    # the New Year of 2027-02-06). A village sends a list every season, mostly the same people:
    # one entry per person, village and season (docs/domain.md §6.7). Set from the arrival date
    # when not given (`lunar_calendar.nearest_season`); an import sets the season it imports.
    season = models.PositiveSmallIntegerField(_("season"), db_index=True)
    departure_date = models.DateField(_("departure date"), null=True, blank=True)
    heating = models.CharField(_("heating"), max_length=20, choices=Heating.choices, blank=True)
    extra_load = models.CharField(_("extra load"), max_length=200, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.EXPECTED)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.IMPORT)
    import_job = models.ForeignKey(
        "zhoukou_grid.ImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("import job"),
    )
    match_key = models.CharField(max_length=160, editable=False)
    # Set when the retention task erased the personal data (the row stays for the counts).
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    territory_paths = Household.territory_paths

    class Meta:
        ordering = ["arrival_date", "village_id", "name"]
        verbose_name = _("returning resident")
        verbose_name_plural = _("returning residents")
        permissions = [("view_personal_data", "Can reveal ID and phone numbers (each reveal is audited)")]
        indexes = [models.Index(fields=["village", "arrival_date"]), models.Index(fields=["status"]),
                   # The lookups across villages: the person's other lists, the projection's de-duplication.
                   models.Index(fields=["match_key"]), models.Index(fields=["id_number_hmac"])]
        constraints = [
            models.CheckConstraint(condition=Q(persons__gte=1) & Q(persons__lte=MAX_PERSONS),
                                   name="resident_persons_range"),
            models.CheckConstraint(
                condition=Q(departure_date__isnull=True) | Q(departure_date__gt=models.F("arrival_date")),
                name="resident_departure_after_arrival",
            ),
            # One entry per person, village and season (docs/security.md, "Existence oracles").
            models.UniqueConstraint(fields=["village", "season", "match_key"],
                                    name="resident_unique_match_key_per_village_season"),
            # One entry per ID number, village and season: on its HMAC, never on the number.
            models.UniqueConstraint(fields=["village", "season", "id_number_hmac"], condition=~Q(id_number_hmac=""),
                                    name="resident_unique_id_hmac_per_village_season"),
        ]

    def __str__(self) -> str:
        # The village by name when it is at hand (never its database id); no query for it.
        village = self._state.fields_cache.get("village")
        return f"{self.display_name}（{village.name}）" if village is not None else self.display_name

    def save(self, *args, **kwargs):
        if self.season is None and self.arrival_date is not None:
            self.season = nearest_season(self.arrival_date)
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """The name, or a word saying the retention task erased it (lists link by it)."""
        if not self.name and self.erased_at is not None:
            return str(_("Personal data erased"))
        return self.name

    @staticmethod
    def build_match_key(*, name: str, id_hmac: str = "", phone_hmac: str = "", village_id: int | None = None,
                        account_no: str = "", id_number: str = "", phone: str = "") -> str:
        """From the HMACs (`personal_index`), never from the numbers themselves; an
        `id_number` or `phone` given instead is replaced by its HMAC."""
        if id_number and not id_hmac:
            id_hmac = personal_index("id_number", id_number)
        if phone and not phone_hmac:
            phone_hmac = personal_index("phone", phone)
        if id_hmac:
            return f"id:{id_hmac}"
        if phone_hmac:
            return f"np:{name}|{phone_hmac}"
        return f"nv:{name}|{village_id}|{account_no}"



class ResidentChange(models.Model):
    """One dated change of a returning list's entry: the feed a grid manager reads.

    Written by the services (`customers.services`) beside the audit row; holds field
    names, never values (docs/personal-data.md).
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Added")
        UPDATED = "updated", _("Changed")
        ARRIVED = "arrived", _("Arrived")
        DEPARTED = "departed", _("Departed")

    resident = models.ForeignKey(ReturningResident, on_delete=models.CASCADE, related_name="changes",
                                 verbose_name=_("returning resident"))
    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="+", verbose_name=_("village"))
    kind = models.CharField(_("change"), max_length=10, choices=Kind.choices)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("changed by"))
    at = models.DateTimeField(_("time"), auto_now_add=True)

    territory_paths = {
        "county": "village__grid__station__county_id",
        "station": "village__grid__station_id",
        "grid": "village__grid_id",
        "village": "village_id",
    }

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("returning list change")
        verbose_name_plural = _("returning list changes")
        indexes = [models.Index(fields=["village", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.resident_id}"

class KeyCustomer(models.Model):
    """A customer whose outage hurts many people: its file (一户一档)."""

    class Category(models.TextChoices):
        BUSINESS = "business", _("Business")
        SCHOOL = "school", _("School")
        NURSING_HOME = "nursing_home", _("Nursing home")
        HOSPITAL = "hospital", _("Hospital")
        GOVERNMENT = "government", _("Government office")
        WATER = "water", _("Water plant")
        HEATING = "heating", _("Heating plant")
        TELECOM = "telecom", _("Telecom site")
        FARM = "farm", _("Large farm")
        OTHER = "other", _("Other")

    class Importance(models.TextChoices):
        SPECIAL = "special", _("Special class")
        FIRST = "first", _("First class")
        SECOND = "second", _("Second class")
        TEMPORARY = "temporary", _("Temporary")

    class Supply(models.TextChoices):
        SINGLE = "single", _("Single supply")
        DUAL = "dual", _("Dual supply")

    account_no = models.CharField(_("account number"), max_length=13, unique=True)
    name = models.CharField(_("customer name"), max_length=100)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    importance = models.CharField(_("importance"), max_length=10, choices=Importance.choices, blank=True)
    grid = models.ForeignKey("zhoukou_grid.Grid", on_delete=models.PROTECT, related_name="key_customers",
                             verbose_name=_("grid"))
    village = models.ForeignKey(Village, on_delete=models.SET_NULL, null=True, blank=True, related_name="key_customers",
                                verbose_name=_("village"))
    transformer = models.ForeignKey(Transformer, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="key_customers", verbose_name=_("transformer"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact"), max_length=64, blank=True)
    # Encrypted, with HMAC and masked form (`contact_phone_columns`); no plaintext column.
    contact_phone_enc, contact_phone_hmac, contact_phone_masked = _contact_phone_columns(_("contact phone"))
    contact_phone = _contact_phone_property("contact_phone")
    contact_24h_name = models.CharField(_("24-hour contact"), max_length=64, blank=True)
    contact_24h_phone_enc, contact_24h_phone_hmac, contact_24h_phone_masked = _contact_phone_columns(
        _("24-hour contact phone"))
    contact_24h_phone = _contact_phone_property("contact_24h_phone")
    supply = models.CharField(_("supply arrangement"), max_length=10, choices=Supply.choices, default=Supply.SINGLE)
    feeder = models.CharField(_("feeder"), max_length=64, blank=True)
    backup_kw = models.PositiveIntegerField(_("backup generator (kW)"), null=True, blank=True)
    main_loads = models.TextField(_("main loads"), blank=True)
    seasonal_needs = models.TextField(_("seasonal needs"), blank=True)
    last_inspection = models.DateField(_("last inspection"), null=True, blank=True)

    territory_paths = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id"}

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("key customer")
        verbose_name_plural = _("key customers")
        constraints = [
            models.CheckConstraint(condition=Q(account_no__regex=r"^[0-9]{10,13}$"), name="keycustomer_account_digits"),
        ]

    def __str__(self) -> str:
        return self.name


MAX_PLAN_HAZARDS = 50


def validate_hazards(value) -> None:
    """A plan's hazards (一患一策): a list of {"hazard": ..., "remedy": ...}, each with its own remedy."""
    if not isinstance(value, list):
        raise ValidationError(_("The hazards must be a list."))
    if len(value) > MAX_PLAN_HAZARDS:
        raise ValidationError(_("At most %(max)d hazards per plan.") % {"max": MAX_PLAN_HAZARDS})
    for item in value:
        if not isinstance(item, dict) or set(item) - {"hazard", "remedy", "deadline"}:
            raise ValidationError(_("Each hazard has a description, a remedy and an optional deadline."))
        if not str(item.get("hazard", "")).strip() or not str(item.get("remedy", "")).strip():
            raise ValidationError(_("Each hazard needs a description and its own remedy."))


class ServicePlan(models.Model):
    """One version of a key customer's "one household, one policy" plan (一户一策)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        APPROVED = "approved", _("Approved")
        SUPERSEDED = "superseded", _("Superseded")

    class Cadence(models.TextChoices):
        WEEKLY = "weekly", _("Weekly")
        BIWEEKLY = "biweekly", _("Every two weeks")
        MONTHLY = "monthly", _("Monthly")
        QUARTERLY = "quarterly", _("Quarterly")

    customer = models.ForeignKey(KeyCustomer, on_delete=models.CASCADE, related_name="plans",
                                 verbose_name=_("key customer"))
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    needs = models.TextField(_("needs found"), blank=True)
    risks = models.TextField(_("risks found"), blank=True)
    measures = models.TextField(_("agreed measures"), blank=True)
    hazards = models.JSONField(_("hazards and their remedies"), default=list, blank=True,
                               validators=[validate_hazards])
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("responsible grid manager"),
    )
    # The phone printed on the plan sheet and the service cards (users carry no phone):
    # encrypted like the contacts' phones (`contact_phone_columns`).
    responsible_phone_enc, responsible_phone_hmac, responsible_phone_masked = _contact_phone_columns(
        _("responsible person's phone"))
    responsible_phone = _contact_phone_property("responsible_phone")
    cadence = models.CharField(_("visit cadence"), max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY)
    festival_cadence = models.CharField(_("visit cadence during the festival"), max_length=10,
                                        choices=Cadence.choices, default=Cadence.WEEKLY)
    # A day to visit before and after (a plant's shutdown, a hospital's move): one visit in
    # the `key_date_margin_days` days before it and one in those after it.
    key_date = models.DateField(_("visit before and after"), null=True, blank=True)
    key_date_margin_days = models.PositiveSmallIntegerField(_("days before and after"), default=3, db_default=3)
    agenda = models.TextField(_("agenda for the next visits"), blank=True)
    # Why this version exists (e.g. "after the visit of 12 January"); not carried to the next.
    change_note = models.CharField(_("reason for this version"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("drafted by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                    verbose_name=_("approved by"))

    territory_paths = {
        "county": "customer__grid__station__county_id",
        "station": "customer__grid__station_id",
        "grid": "customer__grid_id",
    }

    class Meta:
        ordering = ["customer_id", "-version"]
        verbose_name = _("service plan")
        verbose_name_plural = _("service plans")
        permissions = [("approve_serviceplan", "Can approve a service plan")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "version"], name="serviceplan_unique_version"),
            # At most one approved version per customer at a time.
            models.UniqueConstraint(fields=["customer"], condition=Q(status="approved"),
                                    name="serviceplan_one_approved"),
            # A version is approved after it was drafted, never before.
            models.CheckConstraint(condition=Q(approved_at__isnull=True) | Q(approved_at__gte=models.F("created_at")),
                                   name="serviceplan_approved_after_drafted"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} v{self.version}"
