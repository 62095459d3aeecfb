"""Admin pages of the load forecast, scoped like every admin page of the portal."""

from __future__ import annotations

from django.contrib import admin

from zhoukou_grid.core.admin import ScopedAdminMixin

from .models import (
    Alert,
    AlertHistory,
    AssetProjection,
    LoadReading,
    Measure,
    OutlookItem,
    OutlookRun,
    OutlookSettings,
    ProjectionRun,
    ProjectionSettings,
    WeatherForecast,
)


class _AssetAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_select_related = ("transformer", "line", "grid")
    raw_id_fields = ("transformer", "line", "grid")


@admin.register(LoadReading)
class LoadReadingAdmin(_AssetAdmin):
    list_display = ("transformer", "line", "date", "points", "max_kw")
    list_filter = ("points",)
    date_hierarchy = "date"
    search_fields = ("transformer__code", "line__code")


@admin.register(WeatherForecast)
class WeatherForecastAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("county", "date", "t_min", "t_max")
    list_filter = ("county",)


@admin.register(ProjectionSettings)
class ProjectionSettingsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("county", "station", "updated_at", "updated_by")
    readonly_fields = ("values", "updated_at", "updated_by")  # edited through settings_update (validated, audited)


@admin.register(ProjectionRun)
class ProjectionRunAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("run_date", "station", "status", "started_at", "finished_at", "chunks_done", "chunks_total")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ProjectionRun._meta.fields]


@admin.register(AssetProjection)
class AssetProjectionAdmin(_AssetAdmin):
    list_display = ("transformer", "line", "date", "peak_kw", "peak_load_rate", "level")
    list_filter = ("level",)
    raw_id_fields = ("transformer", "line", "grid", "run")


class AlertHistoryInline(admin.TabularInline):
    model = AlertHistory
    extra = 0
    readonly_fields = ("at", "user", "action", "status", "level", "note")
    can_delete = False


class MeasureInline(admin.TabularInline):
    model = Measure
    extra = 0
    raw_id_fields = ("neighbour",)
    readonly_fields = ("created_by", "done_at", "done_by")


@admin.register(Alert)
class AlertAdmin(_AssetAdmin):
    list_display = ("transformer", "line", "level", "first_date", "last_date", "peak_load_rate", "status")
    list_filter = ("level", "status")
    raw_id_fields = ("transformer", "line", "grid", "last_run")
    inlines = [MeasureInline, AlertHistoryInline]


@admin.register(Measure)
class MeasureAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("alert", "kind", "planned_date", "status", "done_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("alert", "neighbour")


@admin.register(OutlookSettings)
class OutlookSettingsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("county", "station", "updated_at", "updated_by")
    readonly_fields = ("values", "updated_at", "updated_by")  # edited through outlook_settings_update (audited)


@admin.register(OutlookRun)
class OutlookRunAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("run_date", "station", "season", "new_year", "days_projected", "created_at")
    readonly_fields = [f.name for f in OutlookRun._meta.fields]


@admin.register(OutlookItem)
class OutlookItemAdmin(_AssetAdmin):
    list_display = ("transformer", "line", "level", "peak_date", "peak_load_rate", "order_by", "late")
    list_filter = ("level", "late")
    raw_id_fields = ("transformer", "line", "grid", "run")
