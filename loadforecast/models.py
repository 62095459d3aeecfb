"""Load data, projection settings, runs, projections, alerts and measures (docs/domain.md §6).

An asset is a transformer or an LV line: rows that belong to one carry exactly one of the
two foreign keys (a check constraint says so). Every model also keeps the asset's `grid`
(copied from the asset when the row is written) so that `for_user` scopes it with one
join, whichever kind of asset it belongs to.

The metered hourly curve of a day is kept as 24 little-endian float32 values in one
`bytea` (96 bytes, NaN for an hour without data): 840,000 asset-days read into numpy with
one `np.frombuffer` over the joined bytes instead of 20 million Python floats.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.territory.models import County, Grid, LVLine, Station, Transformer

HOURS = 24
CURVE_DTYPE = np.dtype("<f4")

_GRID_PATHS = {"county": "grid__station__county_id", "station": "grid__station_id", "grid": "grid_id"}


def pack_curve(values) -> bytes:
    """24 hourly kW values (None/NaN = no data) as the stored 96 bytes."""
    array = np.array([np.nan if v is None else v for v in values], dtype=CURVE_DTYPE)
    if array.shape != (HOURS,):
        raise ValueError("a daily curve has 24 hourly values")
    return array.tobytes()


def unpack_curves(blobs) -> np.ndarray:
    """(n, 24) float64 from stored curves; a missing curve (None) is a row of NaN."""
    blobs = list(blobs)
    empty = np.full(HOURS, np.nan, dtype=CURVE_DTYPE).tobytes()
    joined = b"".join(empty if blob is None else bytes(blob) for blob in blobs)
    return np.frombuffer(joined, dtype=CURVE_DTYPE).reshape(len(blobs), HOURS).astype(np.float64)


class Level(models.IntegerChoices):
    """docs/domain.md 6.2; the values are `engine.Level`'s."""

    NORMAL = 0, _("Normal")
    WATCH = 1, _("Watch")
    HEAVY = 2, _("Heavy load")
    OVERLOAD = 3, _("Overload")
    THERMAL = 4, _("Thermal critical")


LEVEL_CODES = {0: "normal", 1: "watch", 2: "heavy", 3: "overload", 4: "thermal"}


def _one_asset(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=(Q(transformer__isnull=False, line__isnull=True) | Q(transformer__isnull=True, line__isnull=False)),
        name=f"{prefix}_one_asset",
    )


class AssetMixin(models.Model):
    """A transformer XOR an LV line, and the grid of that asset (for scoping)."""

    transformer = models.ForeignKey(
        Transformer, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("transformer")
    )
    line = models.ForeignKey(
        LVLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("LV line")
    )
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="+", verbose_name=_("grid"))

    territory_paths = _GRID_PATHS

    class Meta:
        abstract = True

    @property
    def asset(self):
        return self.transformer if self.transformer_id else self.line

    @property
    def asset_type(self) -> str:
        return "transformer" if self.transformer_id else "lvline"


class LoadReading(AssetMixin):
    """One asset-day of metered load: the hourly curve, or only the daily maximum."""

    class Points(models.IntegerChoices):
        QUARTER_HOURS = 96, _("96 points (15 min)")
        HOURS = 24, _("24 points (hourly)")
        DAILY_MAX = 1, _("Daily maximum only")

    date = models.DateField(_("date"))
    hourly_kw = models.BinaryField(_("hourly load (kW)"), null=True, blank=True, editable=False)
    max_kw = models.FloatField(_("daily maximum (kW)"), null=True, blank=True)
    points = models.PositiveSmallIntegerField(_("points per day"), choices=Points.choices)
    import_job = models.ForeignKey(
        "zhoukou_grid.ImportJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("import job"),
    )

    class Meta:
        ordering = ["-date"]
        verbose_name = _("load reading")
        verbose_name_plural = _("load readings")
        constraints = [
            _one_asset("loadreading"),
            models.UniqueConstraint(fields=["transformer", "date"], name="loadreading_unique_transformer_day"),
            models.UniqueConstraint(fields=["line", "date"], name="loadreading_unique_line_day"),
            models.CheckConstraint(condition=Q(max_kw__isnull=True) | Q(max_kw__gte=0), name="loadreading_max_kw_positive"),
            models.CheckConstraint(
                condition=(Q(points=1, hourly_kw__isnull=True, max_kw__isnull=False)
                           | Q(points__in=[24, 96], hourly_kw__isnull=False)),
                name="loadreading_points_match_values",
            ),
        ]
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.asset} {self.date}"

    @property
    def hourly(self) -> list[float | None]:
        if self.hourly_kw is None:
            return []
        return [None if np.isnan(v) else float(v) for v in unpack_curves([self.hourly_kw])[0]]


class WeatherForecast(models.Model):
    """The county's daily temperatures, observed or forecast (°C)."""

    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="+", verbose_name=_("county"))
    date = models.DateField(_("date"))
    t_min = models.FloatField(_("minimum temperature (°C)"))
    t_max = models.FloatField(_("maximum temperature (°C)"), null=True, blank=True)

    territory_paths = {"county": "county_id"}

    class Meta:
        ordering = ["county_id", "date"]
        verbose_name = _("weather forecast")
        verbose_name_plural = _("weather forecasts")
        constraints = [
            models.UniqueConstraint(fields=["county", "date"], name="weather_unique_county_day"),
            models.CheckConstraint(condition=Q(t_min__gte=-60) & Q(t_min__lte=60), name="weather_t_min_range"),
            models.CheckConstraint(
                condition=Q(t_max__isnull=True) | Q(t_max__gte=models.F("t_min")), name="weather_t_max_not_below_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id} {self.date} {self.t_min}"


class CountySettings(models.Model):
    """Settings of a county (station empty) or one station's overrides on top of them:
    `values` holds only the keys that differ from the defaults. The projection's and the
    season outlook's settings share this shape; each keeps its own table and constraints."""

    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="+", verbose_name=_("county"))
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("station"),
        help_text=_("Empty: the county's settings. Set: overrides for this station only."),
    )
    values = models.JSONField(_("settings"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("updated by"),
    )

    territory_paths = {"county": "county_id", "station": "station_id"}

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(self.station or self.county)


class ProjectionSettings(CountySettings):
    """A county's projection settings, or a station's overrides on top of them.

    `values` holds only the keys that differ from the defaults (engine.ProjectionSettings);
    it is validated through `ProjectionSettings.from_dict` by `settings_update`.
    """

    class Meta:
        verbose_name = _("projection settings")
        verbose_name_plural = _("projection settings")
        constraints = [
            models.UniqueConstraint(fields=["county"], condition=Q(station__isnull=True), name="projsettings_one_per_county"),
            models.UniqueConstraint(fields=["station"], condition=Q(station__isnull=False),
                                    name="projsettings_one_per_station"),
        ]


class ProjectionRun(models.Model):
    """One projection of a date for one station or for all stations."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    run_date = models.DateField(_("run date"))
    days = models.PositiveSmallIntegerField(_("days projected"))
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("station"),
        help_text=_("Empty: all stations."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    chunks_total = models.PositiveIntegerField(_("station chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("station chunks done"), default=0)
    # Each start of the run (projection_start) counts one more; the station and finishing
    # messages carry it, and a message of an earlier attempt does nothing.
    attempt = models.PositiveIntegerField(_("attempt"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    timings = models.JSONField(_("timings (s)"), default=dict, blank=True)
    settings_snapshot = models.JSONField(_("settings used"), default=dict, blank=True)
    skipped = models.JSONField(_("skipped assets"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )

    territory_paths = {"county": "station__county_id", "station": "station_id"}

    class Meta:
        ordering = ["-run_date", "-created_at"]
        verbose_name = _("projection run")
        verbose_name_plural = _("projection runs")
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1) & Q(days__lte=45), name="projrun_days_range"),
            # One run per date and scope: a re-run replaces it (nulls_distinct: one "all" run too).
            models.UniqueConstraint(fields=["run_date", "station"], name="projrun_unique_date_scope",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        scope = self.station or _("all stations")
        return f"{self.run_date} {scope}"


class AssetProjection(AssetMixin):
    """One asset and day of a run (the latest run of that date and station replaces it).

    The nightly run writes 4.4 million of these at city scale in one COPY per station.
    Their foreign keys are not enforced by the database and have no index of their own:
    per-row foreign-key triggers and four more indexes made the write most of the run's
    time, while the rows only ever come from the run service, which reads the ids it
    writes from the database in the same transaction; deleting an asset still deletes its
    rows (Django's collector). The unique constraints below serve the lookups (asset
    first, then run), and (run, grid) serves the scoping.
    """

    transformer = models.ForeignKey(
        Transformer, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False, verbose_name=_("transformer"),
    )
    line = models.ForeignKey(
        LVLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False, verbose_name=_("LV line"),
    )
    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                             db_index=False, verbose_name=_("grid"))
    run = models.ForeignKey(ProjectionRun, on_delete=models.CASCADE, related_name="projections",
                            db_constraint=False, db_index=False, verbose_name=_("run"))
    date = models.DateField(_("date"))
    peak_kw = models.FloatField(_("peak (kW)"))
    peak_a = models.FloatField(_("peak current (A)"), null=True, blank=True)
    peak_load_rate = models.FloatField(_("peak load rate"))
    hours_ge_80 = models.PositiveSmallIntegerField(_("hours at or above heavy load"))
    hours_ge_100 = models.PositiveSmallIntegerField(_("hours at or above overload"))
    returning_households = models.PositiveIntegerField(_("returning households"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)

    class Meta:
        ordering = ["date"]
        verbose_name = _("asset projection")
        verbose_name_plural = _("asset projections")
        constraints = [
            _one_asset("assetprojection"),
            models.UniqueConstraint(fields=["transformer", "run", "date"], condition=Q(transformer__isnull=False),
                                    name="assetprojection_unique_transformer"),
            models.UniqueConstraint(fields=["line", "run", "date"], condition=Q(line__isnull=False),
                                    name="assetprojection_unique_line"),
            models.CheckConstraint(condition=Q(hours_ge_80__lte=24) & Q(hours_ge_100__lte=models.F("hours_ge_80")),
                                   name="assetprojection_hours"),
        ]
        indexes = [models.Index(fields=["run", "grid"])]

    def __str__(self) -> str:
        return f"{self.asset} {self.date}"


class Alert(AssetMixin):
    """An asset projected at watch or above for a run of consecutive days (an episode)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        MEASURE_PLANNED = "measure_planned", _("Measure planned")
        DONE = "done", _("Measure done")
        DISMISSED = "dismissed", _("Dismissed")
        MITIGATED = "mitigated", _("Mitigated")
        # Station staff close a mitigated alert once the episode is over: the end of its path.
        CLOSED = "closed", _("Closed")

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED, Status.MEASURE_PLANNED, Status.DONE)

    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    first_date = models.DateField(_("first day"))
    last_date = models.DateField(_("last day"))
    peak_date = models.DateField(_("peak day"))
    peak_kw = models.FloatField(_("peak (kW)"))
    peak_load_rate = models.FloatField(_("peak load rate"))
    returning_households = models.PositiveIntegerField(_("returning households at the peak"), default=0)
    thresholds = models.JSONField(_("thresholds used"), default=dict, blank=True)
    measures = models.JSONField(_("recommended measures"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    runs_below_watch = models.PositiveSmallIntegerField(_("consecutive runs below watch"), default=0)
    last_run = models.ForeignKey(ProjectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("last run"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-level", "first_date", "pk"]
        verbose_name = _("overload alert")
        verbose_name_plural = _("overload alerts")
        constraints = [
            _one_asset("alert"),
            models.CheckConstraint(condition=Q(last_date__gte=models.F("first_date")), name="alert_days_in_order"),
            models.CheckConstraint(condition=Q(level__gte=1) & Q(level__lte=4), name="alert_level_range"),
        ]
        indexes = [models.Index(fields=["status", "level"]), models.Index(fields=["transformer", "status"])]

    def __str__(self) -> str:
        return f"{self.asset} {self.get_level_display()} {self.first_date}"

    @property
    def level_code(self) -> str:
        return LEVEL_CODES[self.level]


class AlertHistory(models.Model):
    """Every change of an alert: by a run (user empty) or by a person."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="history", verbose_name=_("alert"))
    at = models.DateTimeField(_("time"), auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("user"))
    action = models.CharField(_("action"), max_length=20)
    status = models.CharField(_("status"), max_length=16, choices=Alert.Status.choices)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    territory_paths = {"county": "alert__grid__station__county_id", "station": "alert__grid__station_id",
                       "grid": "alert__grid_id"}

    class Meta:
        ordering = ["alert_id", "at", "pk"]
        verbose_name = _("alert history")
        verbose_name_plural = _("alert history")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Measure(models.Model):
    """A measure against an alert (docs/domain.md 6.5), planned and then done."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", _("Load transfer")
        PHASE_BALANCE = "phase_balance", _("Phase balancing")
        TEMP_CAPACITY = "temp_capacity", _("Temporary capacity")
        STAGGERED = "staggered", _("Staggered-use notice")
        PATROL = "patrol", _("Patrol and infrared check")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="measure_set", verbose_name=_("alert"))
    kind = models.CharField(_("measure"), max_length=16, choices=Kind.choices)
    neighbour = models.ForeignKey(Transformer, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("neighbour taking the load"))
    kva = models.FloatField(_("kVA"), null=True, blank=True,
                            help_text=_("Transferred load, or the rating of the temporary transformer."))
    kw = models.FloatField(_("kW"), null=True, blank=True)
    planned_date = models.DateField(_("planned date"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PLANNED)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("planned by"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("done by"))

    territory_paths = {"county": "alert__grid__station__county_id", "station": "alert__grid__station_id",
                       "grid": "alert__grid_id"}

    class Meta:
        ordering = ["planned_date", "pk"]
        verbose_name = _("measure")
        verbose_name_plural = _("measures")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="transfer") | (Q(neighbour__isnull=False) & Q(kva__gt=0)),
                name="measure_transfer_has_neighbour_and_kva",
            ),
            models.CheckConstraint(condition=~Q(kind="temp_capacity") | Q(kva__gt=0),
                                   name="measure_temp_capacity_has_kva"),
            models.CheckConstraint(condition=Q(status="planned") | Q(done_at__isnull=False),
                                   name="measure_done_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


# ---------------------------------------------------------------------------------------
# Season outlook (docs/domain.md §6.7): kept apart from the 21-day projection's runs and alerts.
# ---------------------------------------------------------------------------------------


class OutlookSettings(CountySettings):
    """A county's season-outlook settings (§6.7), or a station's overrides on top of them.

    `values` holds only the keys that differ from the defaults (outlook_engine.OutlookSettings);
    validated and audited by `outlook_services.outlook_settings_update`.
    """

    class Meta:
        verbose_name = _("season outlook settings")
        verbose_name_plural = _("season outlook settings")
        constraints = [
            models.UniqueConstraint(fields=["county"], condition=Q(station__isnull=True),
                                    name="outlooksettings_one_per_county"),
            models.UniqueConstraint(fields=["station"], condition=Q(station__isnull=False),
                                    name="outlooksettings_one_per_station"),
        ]


class OutlookRun(models.Model):
    """One station's season outlook made on a date (a re-run of the date replaces it).

    `days` holds one entry per projected day: date, T_min, its source ("forecast" or
    "normal") and the festival factor; `headline` the station's counts per level, peak day,
    temporary kVA and list coverage (§6.7). A run whose window is not in reach keeps
    `days_projected` = 0 and says why in `message`.
    """

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+", verbose_name=_("station"))
    run_date = models.DateField(_("run date"))
    season = models.PositiveSmallIntegerField(_("season"))
    new_year = models.DateField(_("New Year's Day"))
    window_start = models.DateField(_("window start"))
    window_end = models.DateField(_("window end"))
    first_day = models.DateField(_("first day projected"))
    days_projected = models.PositiveSmallIntegerField(_("days projected"), default=0)
    days = models.JSONField(_("days"), default=list, blank=True)
    headline = models.JSONField(_("headline"), default=dict, blank=True)
    settings_snapshot = models.JSONField(_("settings used"), default=dict, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )

    territory_paths = {"county": "station__county_id", "station": "station_id"}

    class Meta:
        ordering = ["-run_date", "-created_at"]
        verbose_name = _("season outlook run")
        verbose_name_plural = _("season outlook runs")
        constraints = [
            models.UniqueConstraint(fields=["run_date", "station"], name="outlookrun_unique_date_station"),
            models.CheckConstraint(condition=Q(days_projected__lte=45), name="outlookrun_days_range"),
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.season} @ {self.run_date}"


class OutlookItem(AssetMixin):
    """An asset of an outlook run projected at watch or above somewhere in the window.

    `daily` is one entry per projected day (aligned with the run's `days`):
    [level, peak load rate, peak kW, registered households, estimated households,
    kW of the registered increase, kW of the estimated increase (both at the peak hour)].
    `measures` are the §6.5 measures, each with its `order_by` date and `late` flag.
    """

    run = models.ForeignKey(OutlookRun, on_delete=models.CASCADE, related_name="items", verbose_name=_("run"))
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    peak_date = models.DateField(_("peak day"))
    peak_kw = models.FloatField(_("peak (kW)"))
    peak_load_rate = models.FloatField(_("peak load rate"))
    first_heavy_date = models.DateField(_("first day at heavy load"), null=True, blank=True)
    registered_households = models.PositiveIntegerField(_("registered households at the peak"), default=0)
    estimated_households = models.PositiveIntegerField(_("estimated households at the peak"), default=0)
    order_by = models.DateField(_("order by"), null=True, blank=True)
    late = models.BooleanField(_("late"), default=False)
    daily = models.JSONField(_("days"), default=list, blank=True)
    measures = models.JSONField(_("recommended measures"), default=list, blank=True)

    class Meta:
        ordering = ["-level", "-peak_load_rate", "pk"]
        verbose_name = _("season outlook item")
        verbose_name_plural = _("season outlook items")
        constraints = [
            _one_asset("outlookitem"),
            models.CheckConstraint(condition=Q(level__gte=1) & Q(level__lte=4), name="outlookitem_level_range"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.get_level_display()} {self.peak_date}"

    @property
    def level_code(self) -> str:
        return LEVEL_CODES[self.level]
