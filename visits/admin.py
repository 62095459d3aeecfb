"""Admin of visits: read-only and scoped. Every change has rules (capacity, transitions,
history rows, audit) and goes through `visits.services`, never through a bare form."""

from __future__ import annotations

from django.contrib import admin

from zhoukou_grid.core.admin import ReadOnlyAdmin, ScopedAdminMixin

from .models import CustomerIssue, Hazard, HazardEvent, IssueEvent, Round, ServiceCardRecord, Visit, VisitLog


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HazardEventInline(ReadOnlyInline):
    model = HazardEvent
    fields = ("at", "from_status", "to_status", "by", "note")
    readonly_fields = fields


class IssueEventInline(ReadOnlyInline):
    model = IssueEvent
    fields = ("at", "from_status", "to_status", "by", "note")
    readonly_fields = fields


@admin.register(Round)
class RoundAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("name", "county", "station", "period_start", "period_end", "daily_capacity", "status")
    list_filter = ("status", "county")
    list_select_related = ("county", "station")


@admin.register(Visit)
class VisitAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("planned_date", "grid", "grid_manager", "status", "round")
    list_filter = ("status", "planned_date")
    list_select_related = ("grid", "grid_manager", "round")
    raw_id_fields = ("household", "key_customer", "village", "rescheduled_from")


@admin.register(VisitLog)
class VisitLogAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("visit", "submitted_at", "submitted_by")
    list_select_related = ("visit", "submitted_by")


@admin.register(Hazard)
class HazardAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("description", "grid", "severity", "status", "deadline", "owner")
    list_filter = ("status", "severity")
    list_select_related = ("grid", "owner")
    inlines = [HazardEventInline]


@admin.register(CustomerIssue)
class CustomerIssueAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("description", "grid", "channel", "category", "status", "due_at")
    list_filter = ("status", "category", "channel")
    list_select_related = ("grid",)
    inlines = [IssueEventInline]


@admin.register(ServiceCardRecord)
class ServiceCardRecordAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("date", "grid", "grid_manager", "village", "handed_out", "posted")
    list_select_related = ("grid", "grid_manager", "village")
