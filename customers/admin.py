"""Admin of households, scoped and with import/export from the households column spec."""

from __future__ import annotations

from django.contrib import admin

from zhoukou_grid.core.admin import SpecImportExportAdmin

from .models import Household


@admin.register(Household)
class HouseholdAdmin(SpecImportExportAdmin):
    import_kind = "households"
    list_display = ("account_no", "name", "village", "transformer", "line", "phase")
    list_filter = ("phase", "village__grid")
    list_select_related = ("village", "transformer", "line")
    search_fields = ("account_no", "name", "address")
    raw_id_fields = ("village", "transformer", "line")
