"""Django admin for administrators: territory, network, users with their roles, audit
records and import jobs. Every changelist and every foreign-key choice is scoped to the
user's writable territory; import/export buttons use resources generated from the same
column specs as /imports/."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from import_export.forms import ImportForm

from .importing.django_ie import resource_for
from .importing.jobs import jobs_visible_to
from .importing.reader import SpreadsheetError, iter_sheets
from .importing.spec import get_kind
from .models import AuditLog, County, Grid, ImportJob, LVLine, Role, RoleAssignment, Station, Transformer, Village
from .scoping import roles_of, writable_for_user


class ScopedAdminMixin:
    """Rows, and foreign-key choices, limited to what the user may write."""

    def get_queryset(self, request):
        return writable_for_user(request.user, super().get_queryset(request))

    def _scope_choices(self, db_field, request, kwargs):
        related = db_field.remote_field.model
        if getattr(related, "territory_paths", None):
            kwargs["queryset"] = writable_for_user(request.user, related)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scope_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scope_choices(db_field, request, kwargs))


class ContentCheckedImportForm(ImportForm):
    """django-import-export's upload form, with the file judged by its bytes first (the
    same reader as /imports/): a web page, a program or a PDF named .xlsx/.csv is refused
    with the reader's message before the admin tries to parse it."""

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        data = upload.read()
        upload.seek(0)
        try:
            next(iter_sheets(data, upload.name))
        except SpreadsheetError as exc:
            raise ValidationError(exc.message) from None
        return upload


class SpecImportExportAdmin(ScopedAdminMixin, ImportExportModelAdmin):
    """Admin with django-import-export buttons fed by the kind's column spec."""

    import_kind: str = ""
    # security (issue 6): spreadsheets only (the package also offers JSON, YAML and HTML),
    # checked by content.
    import_form_class = ContentCheckedImportForm

    def get_import_formats(self):
        return [base_formats.CSV, base_formats.XLSX]

    def get_resource_classes(self, request):
        return [resource_for(get_kind(self.import_kind))]

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}


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
    fields = ("role", "county", "station", "grid")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("county", "station", "grid"):
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
            from .security import user_sessions_end

            user = self.get_object(request, id)
            if user is not None:
                keep = request.session.session_key if user.pk == request.user.pk else None
                user_sessions_end(user=user, actor=request.user, keep_session_key=keep, reason="password_set_by_admin")
        return response

    # security (issue 6): a lost phone: end the user's sessions and API token at once.
    @admin.action(description=_("Sign out on all devices (ends sessions and API tokens)"),
                  permissions=["change"])
    def sign_out_everywhere(self, request, queryset):
        from .security import user_sessions_end

        ended = 0
        for user in queryset:
            ended += user_sessions_end(user=user, actor=request.user, reason="admin_sign_out")
        self.message_user(request, _("%(users)d user(s) signed out on all devices (%(sessions)d sessions ended).")
                          % {"users": len(queryset), "sessions": ended})


def _is_company_admin(user) -> bool:
    return user.is_superuser or Role.COMPANY_ADMIN in roles_of(user)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "action", "object_type", "object_id")
    list_filter = ("action", "created_at", ("user", admin.RelatedOnlyFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("object_type", "object_id", "user__username")
    list_select_related = ("user",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # The audit trail is the company's; others see their own actions.
        return queryset if _is_company_admin(request.user) else queryset.filter(user=request.user)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "file_name", "status", "counts_summary")
    list_filter = ("kind", "status", "created_at")
    search_fields = ("file_name", "user__username")
    exclude = ("errors",)

    def get_queryset(self, request):
        return jobs_visible_to(request.user)

    @admin.display(description=_("counts"))
    def counts_summary(self, job):
        counts = job.counts or {}
        return " / ".join(str(counts.get(k, 0)) for k in ("new", "updated", "unchanged", "rejected"))
