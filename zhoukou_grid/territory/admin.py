"""Django admin of the territory, the network and the users with their roles. Every
changelist and every foreign-key choice is scoped to the user's writable territory.
"""


from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.core.admin import ScopedAdminMixin, SpecImportExportAdmin
from zhoukou_grid.core.scoping import writable_for_user
from zhoukou_grid.territory.models import County, Grid, LVLine, RoleAssignment, Station, Transformer, Village


@admin.register(County)
class CountyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Station)
class StationAdmin(SpecImportExportAdmin):
    import_kind = "stations"
    list_display = ("code", "name", "county")
    list_filter = ("county",)
    list_select_related = ("county",)
    search_fields = ("code", "name")


@admin.register(Grid)
class GridAdmin(SpecImportExportAdmin):
    import_kind = "grids"
    list_display = ("code", "name", "station", "manager")
    list_filter = ("station__county", "station")
    list_select_related = ("station", "manager")
    search_fields = ("code", "name")
    raw_id_fields = ("manager",)


@admin.register(Village)
class VillageAdmin(SpecImportExportAdmin):
    import_kind = "villages"
    list_display = ("code", "name", "grid")
    list_filter = ("grid__station",)
    list_select_related = ("grid",)
    search_fields = ("code", "name")


@admin.register(Transformer)
class TransformerAdmin(SpecImportExportAdmin):
    import_kind = "transformers"
    list_display = ("code", "name", "grid", "rated_kva", "year")
    list_filter = ("grid__station", "rated_kva")
    list_select_related = ("grid",)
    search_fields = ("code", "name")
    filter_horizontal = ("ties",)


@admin.register(LVLine)
class LVLineAdmin(SpecImportExportAdmin):
    import_kind = "lvlines"
    list_display = ("code", "transformer", "conductor", "section_mm2", "ampacity_a", "length_m")
    list_select_related = ("transformer",)
    search_fields = ("code", "transformer__code")
    raw_id_fields = ("transformer",)


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    fk_name = "user"
    extra = 0
    fields = ("role", "county", "station", "grid", "village")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("county", "station", "grid", "village"):
            kwargs["queryset"] = writable_for_user(request.user, db_field.remote_field.model)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    inlines = [RoleAssignmentInline]
    actions = ["sign_out_everywhere"]

    def user_change_password(self, request, id, form_url=""):
        """Django's "set password" for a user; a successful change also ends that user's
        sessions and API token (Django alone would leave the token working)."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            from zhoukou_grid.core.security import user_sessions_end

            user = self.get_object(request, id)
            if user is not None:
                keep = request.session.session_key if user.pk == request.user.pk else None
                user_sessions_end(user=user, actor=request.user, keep_session_key=keep, reason="password_set_by_admin")
        return response

    # A lost phone: end the user's sessions and API token at once.
    @admin.action(description=_("Sign out on all devices (ends sessions and API tokens)"),
                  permissions=["change"])
    def sign_out_everywhere(self, request, queryset):
        from zhoukou_grid.core.security import user_sessions_end

        ended = 0
        for user in queryset:
            ended += user_sessions_end(user=user, actor=request.user, reason="admin_sign_out")
        self.message_user(request, _("%(users)d user(s) signed out on all devices (%(sessions)d sessions ended).")
                          % {"users": len(queryset), "sessions": ended})


