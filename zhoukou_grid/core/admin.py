"""Django admin building blocks (scoped changelists, content-checked imports) and the
read-only admin of audit records and import jobs.
"""


from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from import_export.forms import ImportForm

from zhoukou_grid.core.importing.django_ie import resource_for
from zhoukou_grid.core.importing.jobs import jobs_visible_to
from zhoukou_grid.core.importing.reader import SpreadsheetError, iter_sheets
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.models import AuditLog, ImportJob
from zhoukou_grid.core.scoping import roles_of, writable_for_user
from zhoukou_grid.territory.models import Role


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
    # Spreadsheets only (the package also offers JSON, YAML and HTML),
    # checked by content.
    import_form_class = ContentCheckedImportForm

    def get_import_formats(self):
        return [base_formats.CSV, base_formats.XLSX]

    def get_resource_classes(self, request):
        return [resource_for(get_kind(self.import_kind))]

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}



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
