"""Rounds, planned visits, visit logs, hazards, customer issues and service cards.

Every model here carries its grid (or, for a round, its county and station) directly, so
that `scoping.for_user` filters on one column and reports group by it without joins
through the target. A visit's target is exactly one of a household, a key customer or a
village; a check constraint in the database says so.

Writes with rules go through `visits.services`; reads for users through `for_user` and
`visits.selectors`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import Household, KeyCustomer, ReturningResident
from zhoukou_grid.territory.models import County, Grid, Station, Village

GRID_PATHS = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id"}


def _one_target(prefix: str, *, optional: bool = False) -> models.CheckConstraint:
    """Exactly one of household, key customer and village (at most one when optional)."""
    only_household = Q(household__isnull=False, key_customer__isnull=True, village__isnull=True)
    only_customer = Q(household__isnull=True, key_customer__isnull=False, village__isnull=True)
    only_village = Q(household__isnull=True, key_customer__isnull=True, village__isnull=False)
    condition = only_household | only_customer | only_village
    if optional:
        condition |= Q(household__isnull=True, key_customer__isnull=True, village__isnull=True)
    return models.CheckConstraint(condition=condition, name=f"{prefix}_one_target")


class TargetMixin(models.Model):
    """A household, a key customer or a village: whom a visit, hazard or issue concerns."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("household"))
    key_customer = models.ForeignKey(KeyCustomer, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("key customer"))
    village = models.ForeignKey(Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("village"))

    class Meta:
        abstract = True

    @property
    def target(self):
        return self.household or self.key_customer or self.village

    @property
    def target_key(self) -> str:
        """The scheduler's key of the target: "household:12", "keycustomer:3", "village:7"."""
        if self.household_id:
            return f"household:{self.household_id}"
        if self.key_customer_id:
            return f"keycustomer:{self.key_customer_id}"
        if self.village_id:
            return f"village:{self.village_id}"
        return ""


class Round(models.Model):
    """A visiting campaign (走访轮次) over a county or one of its stations, for a period."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("round name"), max_length=100)
    # The county is always set (a station round too), so one column answers "in this county".
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="visit_rounds",
                               verbose_name=_("county"))
    station = models.ForeignKey(Station, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="visit_rounds", verbose_name=_("station"),
                                help_text=_("Empty for a round over the whole county."))
    period_start = models.DateField(_("first day"))
    period_end = models.DateField(_("last day"))
    daily_capacity = models.PositiveSmallIntegerField(_("visits per grid manager per day"), default=8)
    holidays = models.JSONField(_("days without visits"), default=list, blank=True,
                                help_text=_("ISO dates, e.g. 2027-02-06."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("created by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("closed by"))
    # What closing found: {"targets", "reached", "missed", "moved", "next_round", "visits_cancelled"}.
    # Nullable: the seeding engine's COPY names its columns and leaves this one out.
    summary = models.JSONField(_("closing summary"), null=True, blank=True)

    # Grid managers see their rounds through their visits and round targets, not here.
    territory_paths = {"county": "county_id", "station": "station_id"}

    class Meta:
        ordering = ["-period_start", "name"]
        verbose_name = _("visit round")
        verbose_name_plural = _("visit rounds")
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                   name="round_period_ordered"),
            models.CheckConstraint(condition=Q(daily_capacity__gte=1), name="round_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def holiday_dates(self):
        from datetime import date

        return {date.fromisoformat(day) for day in self.holidays or []}


class UnplacedReason(models.TextChoices):
    """Why the scheduler found no day for a target (the codes of `visits.scheduling`)."""

    NO_MANAGER = "no_manager", _("The target's grid has no grid manager.")
    NO_CAPACITY = "no_capacity", _("No grid manager of the grid has a free slot in the window.")
    OUTSIDE_PERIOD = "outside_period", _("The target's earliest date lies after the round's period.")


class RoundTarget(TargetMixin):
    """One entry of a round's target list, in its grid."""

    class Source(models.TextChoices):
        KEY_CUSTOMERS = "key_customers", _("All key customers")
        RETURNING = "returning", _("Households with residents arriving")
        VILLAGES = "villages", _("Chosen villages")
        UPLOAD = "upload", _("Uploaded list")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="targets", verbose_name=_("round"))
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    earliest = models.DateField(_("not before"), null=True, blank=True)
    cadence_days = models.PositiveSmallIntegerField(_("one visit every (days)"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # Set by the last scheduling when the target found no day: the round's list to act on.
    unplaced_reason = models.CharField(_("why it did not fit"), max_length=16, choices=UnplacedReason.choices,
                                       blank=True, default="", db_default="")
    unplaced_window_start = models.DateField(_("window from"), null=True, blank=True)
    unplaced_window_end = models.DateField(_("window to"), null=True, blank=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["round_id", "grid_id", "pk"]
        verbose_name = _("round target")
        verbose_name_plural = _("round targets")
        constraints = [
            _one_target("roundtarget"),
            models.UniqueConstraint(fields=["round", "household"], name="roundtarget_unique_household"),
            models.UniqueConstraint(fields=["round", "key_customer"], name="roundtarget_unique_keycustomer"),
            models.UniqueConstraint(fields=["round", "village"], name="roundtarget_unique_village"),
            models.CheckConstraint(condition=Q(cadence_days__isnull=True) | Q(cadence_days__gte=1),
                                   name="roundtarget_cadence_positive"),
        ]
        indexes = [models.Index(fields=["round", "grid"])]

    def __str__(self) -> str:
        return f"{self.round_id} {self.target_key}"


class Visit(TargetMixin):
    """A planned visit by a grid manager, and what became of it."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    round = models.ForeignKey(Round, on_delete=models.PROTECT, null=True, blank=True, related_name="visits",
                              verbose_name=_("round"))
    grid_manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits",
                                     verbose_name=_("grid manager"))
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="visits", verbose_name=_("grid"))
    planned_date = models.DateField(_("planned date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    done_at = models.DateTimeField(_("visited at"), null=True, blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    missed_reason = models.CharField(_("reason missed"), max_length=300, blank=True)
    cancel_reason = models.CharField(_("reason cancelled"), max_length=300, blank=True)
    rescheduled_from = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True,
                                            related_name="rescheduled_to", verbose_name=_("instead of"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The log's guidance flags as bits (bit i = VisitLog.GUIDANCE_FIELDS[i]), copied here when the
    # log is written so the progress report counts guidance without joining every log of the city.
    guidance = models.PositiveSmallIntegerField(_("guidance given"), default=0, editable=False)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["planned_date", "grid_manager_id", "pk"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            _one_target("visit"),
            models.CheckConstraint(condition=~Q(status="done") | Q(done_at__isnull=False), name="visit_done_has_time"),
            models.CheckConstraint(condition=~Q(status="missed") | ~Q(missed_reason=""),
                                   name="visit_missed_has_reason"),
        ]
        indexes = [
            models.Index(fields=["grid_manager", "planned_date"]),
            models.Index(fields=["grid", "planned_date"]),
            models.Index(fields=["round", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.planned_date} {self.target_key} ({self.get_status_display()})"


class VisitLog(models.Model):
    """What happened at a done visit: one per visit, submitted once (by `client_key`)."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="log", verbose_name=_("visit"))
    # Chosen by the phone before the first try: a retried submit carries the same key.
    client_key = models.CharField(_("submission key"), max_length=64, unique=True)
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("submitted by"))
    met_person = models.CharField(_("person met"), max_length=100, blank=True)
    needs = models.TextField(_("needs heard"), blank=True)
    concerns = models.TextField(_("concerns"), blank=True)
    recommendations = models.TextField(_("recommendations given"), blank=True)
    guided_payment = models.BooleanField(_("guidance: paying through State Grid Online"), default=False)
    guided_balance = models.BooleanField(_("guidance: checking the balance"), default=False)
    guided_service_change = models.BooleanField(_("guidance: changing the service type"), default=False)
    guided_account_transfer = models.BooleanField(_("guidance: transferring the account"), default=False)
    guided_find_electrician = models.BooleanField(_("guidance: Find My Electrician"), default=False)
    residents_confirmed = models.ManyToManyField(ReturningResident, blank=True, related_name="+",
                                                 verbose_name=_("residents confirmed arrived"))

    territory_paths = {"county": "visit__grid__station__county_id", "station": "visit__grid__station_id",
                       "grid": "visit__grid_id"}

    GUIDANCE_FIELDS = ("guided_payment", "guided_balance", "guided_service_change", "guided_account_transfer",
                       "guided_find_electrician")

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("visit log")
        verbose_name_plural = _("visit logs")
        indexes = [
            # The progress report counts guidance over a county's visits (tens of thousands):
            # with the flags in the index PostgreSQL joins by index-only scans instead of
            # reading every log of the city (bench/load: 0.5 s → 0.17 s per report).
            models.Index(fields=["visit"], name="visitlog_visit_guidance",
                         include=["guided_payment", "guided_balance", "guided_service_change",
                                  "guided_account_transfer", "guided_find_electrician"]),
        ]

    def __str__(self) -> str:
        return f"{self.visit_id} {self.submitted_at:%Y-%m-%d}"

    @property
    def guidance_bits(self) -> int:
        """The guidance flags as `Visit.guidance` stores them."""
        return sum(1 << i for i, name in enumerate(self.GUIDANCE_FIELDS) if getattr(self, name))


class ChecklistItem(models.TextChoices):
    DISTRIBUTION_ROOM = "distribution_room", _("Distribution room")
    METER_BOX = "meter_box", _("Meter box")
    INCOMING_LINE = "incoming_line", _("Incoming line")
    EARTHING = "earthing", _("Earthing")
    LEAKAGE_PROTECTOR = "leakage_protector", _("Leakage protector")
    BACKUP_GENERATOR = "backup_generator", _("Backup generator")


class ChecklistResult(models.Model):
    """One inspected item of a visit log."""

    class Result(models.TextChoices):
        OK = "ok", _("OK")
        PROBLEM = "problem", _("Problem")
        NOT_APPLICABLE = "not_applicable", _("Not applicable")

    log = models.ForeignKey(VisitLog, on_delete=models.CASCADE, related_name="checklist", verbose_name=_("visit log"))
    item = models.CharField(_("item"), max_length=20, choices=ChecklistItem.choices)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)

    territory_paths = {"county": "log__visit__grid__station__county_id", "station": "log__visit__grid__station_id",
                       "grid": "log__visit__grid_id"}

    class Meta:
        ordering = ["log_id", "pk"]
        verbose_name = _("checklist result")
        verbose_name_plural = _("checklist results")
        constraints = [models.UniqueConstraint(fields=["log", "item"], name="checklistresult_unique_item")]

    def __str__(self) -> str:
        return f"{self.get_item_display()}: {self.get_result_display()}"


class Hazard(TargetMixin):
    """A safety hazard (安全隐患): found → customer notified → rectifying → re-checked (closed)."""

    class Severity(models.TextChoices):
        GENERAL = "general", _("General")
        SERIOUS = "serious", _("Serious")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        FOUND = "found", _("Found")
        NOTIFIED = "notified", _("Customer notified")
        RECTIFYING = "rectifying", _("Rectifying")
        RECHECKED = "rechecked", _("Re-checked (closed)")

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="hazards", verbose_name=_("grid"))
    visit_log = models.ForeignKey(VisitLog, on_delete=models.PROTECT, null=True, blank=True, related_name="hazards",
                                  verbose_name=_("found at visit"))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    description = models.TextField(_("description"))
    deadline = models.DateField(_("rectify by"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("responsible"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.FOUND)
    found_at = models.DateTimeField(_("found at"))
    found_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("found by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["deadline", "pk"]
        verbose_name = _("hazard")
        verbose_name_plural = _("hazards")
        constraints = [
            _one_target("hazard", optional=True),
            models.CheckConstraint(condition=Q(status="rechecked", closed_at__isnull=False)
                                   | (~Q(status="rechecked") & Q(closed_at__isnull=True)),
                                   name="hazard_closed_iff_rechecked"),
        ]
        indexes = [models.Index(fields=["grid", "status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} · {self.description[:40]}"


class HazardEvent(models.Model):
    """One step of a hazard's history."""

    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, related_name="events", verbose_name=_("hazard"))
    from_status = models.CharField(_("from"), max_length=12, choices=Hazard.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Hazard.Status.choices)
    at = models.DateTimeField(_("time"), auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    note = models.CharField(_("note"), max_length=500, blank=True)

    territory_paths = {"county": "hazard__grid__station__county_id", "station": "hazard__grid__station_id",
                       "grid": "hazard__grid_id"}

    class Meta:
        ordering = ["hazard_id", "at", "pk"]
        verbose_name = _("hazard event")
        verbose_name_plural = _("hazard events")

    def __str__(self) -> str:
        return f"{self.hazard_id}: {self.from_status} → {self.to_status}"


class Photo(models.Model):
    """A photo of a visit or of a hazard (before or after rectification).

    `visits.services.photo_add` checks the content type and size and stores the file;
    the row keeps what it checked. The grid is copied from the visit or hazard so the
    photo is scoped like them.
    """

    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        BEFORE = "before", _("Before rectification")
        AFTER = "after", _("After rectification")

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    visit_log = models.ForeignKey(VisitLog, on_delete=models.CASCADE, null=True, blank=True, related_name="photos",
                                  verbose_name=_("visit log"))
    hazard = models.ForeignKey(Hazard, on_delete=models.CASCADE, null=True, blank=True, related_name="photos",
                               verbose_name=_("hazard"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.VISIT)
    image = models.FileField(_("image"), upload_to="visits/photos/%Y/%m/", max_length=255)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"))
    content_type = models.CharField(_("content type"), max_length=40)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            models.CheckConstraint(condition=Q(visit_log__isnull=False) | Q(hazard__isnull=False),
                                   name="photo_belongs_somewhere"),
            models.CheckConstraint(condition=Q(kind="visit") | Q(hazard__isnull=False),
                                   name="photo_before_after_of_hazard"),
        ]

    def __str__(self) -> str:
        return self.image.name


class CustomerIssue(TargetMixin):
    """A customer's request or complaint (用电诉求), with a target time by category."""

    class Channel(models.TextChoices):
        VISIT = "visit", _("Visit")
        PHONE = "phone", _("Phone")
        HOTLINE = "hotline", _("Hotline")
        # Left by a customer on the public page of a service card's QR code (no account).
        SERVICE_CARD = "service_card", _("Service card scan")

    class Category(models.TextChoices):
        NO_POWER = "no_power", _("No power")
        LOW_VOLTAGE = "low_voltage", _("Low voltage")
        METER = "meter", _("Meter")
        BILLING = "billing", _("Billing")
        NEW_CONNECTION = "new_connection", _("New connection or capacity increase")
        APP_HELP = "app_help", _("App help")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")
        CONFIRMED = "confirmed", _("Confirmed by the customer")

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="customer_issues", verbose_name=_("grid"))
    visit_log = models.ForeignKey(VisitLog, on_delete=models.PROTECT, null=True, blank=True, related_name="issues",
                                  verbose_name=_("raised at visit"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    description = models.TextField(_("description"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("responsible"))
    raised_at = models.DateTimeField(_("raised at"))
    # None: left by a customer on a service card's public page (no account).
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("recorded by"))
    due_at = models.DateTimeField(_("resolve by"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = _("customer issue")
        verbose_name_plural = _("customer issues")
        constraints = [
            _one_target("customerissue", optional=True),
            models.CheckConstraint(condition=Q(due_at__gte=models.F("raised_at")), name="customerissue_due_after_raised"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_progress"]) | Q(resolved_at__isnull=False),
                name="customerissue_resolved_has_time",
            ),
            models.CheckConstraint(condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                                   name="customerissue_confirmed_has_time"),
        ]
        indexes = [models.Index(fields=["grid", "status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.get_category_display()} · {self.description[:40]}"


class IssueEvent(models.Model):
    """One step of a customer issue's history."""

    issue = models.ForeignKey(CustomerIssue, on_delete=models.CASCADE, related_name="events",
                              verbose_name=_("customer issue"))
    from_status = models.CharField(_("from"), max_length=12, choices=CustomerIssue.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=CustomerIssue.Status.choices)
    at = models.DateTimeField(_("time"), auto_now_add=True)
    # None: the customer, on a service card's public page.
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                           related_name="+", verbose_name=_("by"))
    note = models.CharField(_("note"), max_length=500, blank=True)

    territory_paths = {"county": "issue__grid__station__county_id", "station": "issue__grid__station_id",
                       "grid": "issue__grid_id"}

    class Meta:
        ordering = ["issue_id", "at", "pk"]
        verbose_name = _("issue event")
        verbose_name_plural = _("issue events")

    def __str__(self) -> str:
        return f"{self.issue_id}: {self.from_status} → {self.to_status}"


class CardRequest(models.Model):
    """What a customer left on a service card's public page, beside the issue it became:
    the reference they were given, the callback phone (encrypted, like residents' numbers)
    and the optional photo (re-encoded like visit photos: no EXIF, no GPS)."""

    issue = models.OneToOneField(CustomerIssue, on_delete=models.CASCADE, related_name="card_request",
                                 verbose_name=_("customer issue"))
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    reference = models.CharField(_("reference"), max_length=16, unique=True)
    card_token = models.ForeignKey("zhoukou_grid.GridCardToken", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("service card token"))
    phone_enc = models.TextField(_("callback phone (encrypted)"))
    phone_masked = models.CharField(_("callback phone"), max_length=20)
    photo = models.FileField(_("photo"), upload_to="visits/card_requests/%Y/%m/", max_length=255, blank=True)
    photo_content_type = models.CharField(_("content type"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("left at"), auto_now_add=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("service card request")
        verbose_name_plural = _("service card requests")

    def __str__(self) -> str:
        return self.reference


class ServiceCardRecord(models.Model):
    """Service cards (服务卡) handed out or posted on meter boxes: the one place cards are counted.

    Either the cards of one visit (set by the visit log) or a bulk record of a grid
    manager's cards in a village on a day.
    """

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    grid_manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("grid manager"))
    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="cards",
                                 verbose_name=_("visit"))
    village = models.ForeignKey(Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("village"))
    round = models.ForeignKey(Round, on_delete=models.PROTECT, null=True, blank=True, related_name="card_records",
                              verbose_name=_("round"))
    date = models.DateField(_("date"))
    handed_out = models.PositiveIntegerField(_("cards handed out"), default=0)
    posted = models.PositiveIntegerField(_("cards posted on meter boxes"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    territory_paths = GRID_PATHS

    class Meta:
        ordering = ["-date", "pk"]
        verbose_name = _("service card record")
        verbose_name_plural = _("service card records")
        constraints = [
            models.CheckConstraint(condition=Q(visit__isnull=False) | Q(village__isnull=False),
                                   name="servicecardrecord_visit_or_village"),
            models.CheckConstraint(condition=Q(handed_out__gt=0) | Q(posted__gt=0),
                                   name="servicecardrecord_not_empty"),
        ]
        indexes = [models.Index(fields=["grid", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.handed_out}+{self.posted}"
