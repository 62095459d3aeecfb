"""The framework's records: audit trail, import jobs, notifications, login sessions, webhooks.
"""


from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.territory.models import County


class AuditLog(models.Model):
    """Who did what: writes with business rules, imports, exports, personal-data reveals."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    action = models.CharField(_("action"), max_length=40, db_index=True)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # The county of the acting user when the row was written (None: company-wide users and
    # system tasks): county admins browse their own county's trail through it.
    county = models.ForeignKey(County, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name=_("county"))

    territory_paths = {"county": "county_id"}

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type}"


class ImportJob(models.Model):
    """One uploaded spreadsheet: its preview, its commit, its outcome."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="import_jobs", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=32)
    file_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    skip_invalid = models.BooleanField(_("import valid rows only"), default=False)
    # The festival a returning residents list is imported for (docs/import-formats.md,
    # `--season`); fixed when the file is uploaded, so the check and the import agree. None
    # for the other kinds.
    season = models.PositiveSmallIntegerField(_("season"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    timings = models.JSONField(_("timings"), default=dict, blank=True)
    # Deliveries of the current run's task to a worker (reset when the job is queued again): a
    # task whose worker dies is delivered again, and past IMPORT_MAX_DELIVERIES the job fails.
    attempts = models.PositiveSmallIntegerField(_("deliveries"), default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.get_status_display()})"


class Notification(models.Model):
    """One message to one user, shown in the portal (and mailed when they have an address).

    Not territory-scoped: a user sees exactly the rows addressed to them (`user`), through
    `notifications.notifications_for`. `kind` is a short code of the feature that sent it
    (`alerts`, `visits`, …), so a feature can find its own.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=32)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # The top bar's unread count on every page, and the list: by recipient first.
            models.Index(fields=["user", "read_at"], name="notification_user_read"),
            models.Index(fields=["user", "-created_at"], name="notification_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class LoginSession(models.Model):
    """One signed-in session of a user, so that "sign out on all devices" can end them all
    whatever the session engine (rows are written at login, removed at logout)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions",
                             verbose_name=_("user"))
    session_key = models.CharField(_("session key"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("signed in"), auto_now_add=True)

    class Meta:
        verbose_name = _("login session")
        verbose_name_plural = _("login sessions")

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"


class Webhook(models.Model):
    """An outgoing webhook of one station or one grid: a WeCom group robot (企业微信群机器人)
    or a plain JSON endpoint of another system (zhoukou_grid/core/webhooks.py).

    The URL is a secret (whoever holds a robot's URL posts into the group): stored encrypted
    (`url_enc`, the personal-data keyring), shown masked (`url_masked`), never logged."""

    class Kind(models.TextChoices):
        WECOM = "wecom", _("WeCom group robot (markdown)")
        WECOM_TEXT = "wecom_text", _("WeCom group robot (plain text)")
        JSON = "json", _("JSON (other systems)")

    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="+", verbose_name=_("county"))
    station = models.ForeignKey("zhoukou_grid.Station", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="webhooks", verbose_name=_("station"))
    grid = models.ForeignKey("zhoukou_grid.Grid", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="webhooks", verbose_name=_("grid"))
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("format"), max_length=16, choices=Kind.choices, default=Kind.WECOM)
    url_enc = models.TextField(_("address (encrypted)"), editable=False)
    url_masked = models.CharField(_("address"), max_length=300, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    # The sending's health, shown on the settings page.
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)

    territory_paths = {"county": "county_id"}

    class Meta:
        ordering = ["county", "name", "pk"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(station__isnull=False, grid__isnull=True)
                           | models.Q(station__isnull=True, grid__isnull=False)),
                name="webhook_station_xor_grid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_failing(self) -> bool:
        return self.consecutive_failures > 0


class WebhookDelivery(models.Model):
    """One event for one webhook: created once per (webhook, event key), so an event is never
    sent twice to the same webhook; sent (and retried) by the Celery task."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries",
                                verbose_name=_("webhook"))
    event = models.CharField(_("event"), max_length=40)
    event_key = models.CharField(_("event key"), max_length=200)
    message = models.JSONField(_("message"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    territory_paths = {"county": "webhook__county_id"}

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["webhook", "event_key"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_key} ({self.status})"
