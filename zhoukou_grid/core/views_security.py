"""Account security pages and the audit-log browser for administrators.

- "Sign out on all devices" for oneself; the admin's user page offers the same for a user
  (zhoukou_grid/admin.py), e.g. when a phone is lost.
- Password change ends the user's other sessions and API token.
- The audit log: company admins see all of it, county admins their county's users' rows
  (`for_user` through AuditLog.county); filters by user, date range and action; paged;
  CSV/XLSX export, itself audited.
"""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import datetime

import django_filters
import xlsxwriter
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.audit_labels import action_label, detail_text, object_type_label
from zhoukou_grid.core.importing.exporting import BOM
from zhoukou_grid.core.importing.parsers import escape_formula
from zhoukou_grid.core.models import AuditLog
from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.core.security import user_sessions_end
from zhoukou_grid.core.tables import Column
from zhoukou_grid.core.views import ScopedListView, display_name

EXPORT_MAX_ROWS = 200_000


# --- Sessions -----------------------------------------------------------------------------


@require_POST
def sign_out_everywhere(request):
    """End every session of the user, this one included, and delete their API token."""
    user = request.user
    user_sessions_end(user=user, actor=user, reason="sign_out_everywhere")
    logout(request)
    messages.success(request, _("You have been signed out on all devices."))
    return redirect("login")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; the other sessions and the API token end with it.

    (Django already refuses the other sessions on their next request, since their stored
    password hash no longer matches; ending them here also removes the API token, which
    a password change does not touch.)
    """

    def form_valid(self, form):
        response = super().form_valid(form)
        user_sessions_end(user=self.request.user, actor=self.request.user,
                          keep_session_key=self.request.session.session_key, reason="password_changed")
        return response


# --- The audit log --------------------------------------------------------------------------


def _scoped_log(request):
    return for_user(request.user, AuditLog)


def _users_in_log(request):
    if request is None:
        return get_user_model()._default_manager.none()
    users = _scoped_log(request).exclude(user=None).values("user")
    return get_user_model()._default_manager.filter(pk__in=users).order_by("username")


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        # The person's name (a login name only for an account without one).
        return display_name(obj)


class UserChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = UserChoiceField


def _action_choices():
    # Actions are a short open set (one per service); those present in the log are offered.
    return [(action, action_label(action))
            for action in AuditLog.objects.order_by("action").values_list("action", flat=True).distinct()]


class AuditLogFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=gettext_lazy("Search"))
    user = UserChoiceFilter(queryset=_users_in_log, label=gettext_lazy("Performed by"))
    action = django_filters.ChoiceFilter(choices=_action_choices, label=gettext_lazy("Kind of action"))
    date_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                          label=gettext_lazy("From (date)"),
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte",
                                        label=gettext_lazy("To (date)"),
                                        widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditLog
        fields = ["q", "user", "action", "date_from", "date_to"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(object_type__icontains=value) | queryset.filter(object_id=value) | queryset.filter(
            user__username__icontains=value)


def _county_label(entry) -> str:
    county = entry.county
    return f"{county.name} ({county.code})" if county else ""


def _detail_text(entry) -> str:
    return json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else ""


def audit_columns(*, readable: bool = False):
    """The log's columns; `readable` (the page) names actions, objects and details in words,
    the exports keep the stored codes and JSON for whoever processes them."""
    if readable:
        return [
            Column("created_at", gettext_lazy("Time"), sort="created_at", primary=True,
                   accessor=lambda e: timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S")),
            Column("user", gettext_lazy("Performed by"), accessor=lambda e: display_name(e.user) if e.user else "—",
                   sort="user__username"),
            Column("action", gettext_lazy("Kind of action"), sort="action", accessor=lambda e: action_label(e.action)),
            Column("object_type", gettext_lazy("Object type"), sort="object_type",
                   accessor=lambda e: object_type_label(e.object_type)),
            Column("object_id", gettext_lazy("Object id")),
            Column("county", gettext_lazy("County"), accessor=_county_label),
            Column("detail", gettext_lazy("Detail"), accessor=lambda e: detail_text(e.detail)),
        ]
    return [
        Column("created_at", gettext_lazy("Time"), sort="created_at", primary=True,
               accessor=lambda e: timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S")),
        Column("user", gettext_lazy("Performed by"), accessor=lambda e: e.user.username if e.user else "—", sort="user__username"),
        Column("action", gettext_lazy("Kind of action"), sort="action"),
        Column("object_type", gettext_lazy("Object type"), sort="object_type"),
        Column("object_id", gettext_lazy("Object id")),
        Column("county", gettext_lazy("County"), accessor=_county_label),
        Column("detail", gettext_lazy("Detail"), accessor=_detail_text),
    ]


class AuditLogListView(ScopedListView):
    """/audit/: who did what, for company and county admins."""

    model = AuditLog
    template_name = "portal/audit_log.html"
    filterset_class = AuditLogFilterSet
    select_related = ("user", "county")
    default_sort = "-created_at"
    search_hint = gettext_lazy("Search by user, object type or object id")

    def get_columns(self):
        return audit_columns(readable=True)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = _("Audit log")
        return context


def _safe_cell(value) -> str:
    """A cell as text, formula-escaped like every other export (the importers' own rule)."""
    return escape_formula("" if value is None else str(value))


@permission_required("zhoukou_grid.view_auditlog", raise_exception=True)
def audit_log_export(request):
    """The filtered audit log as CSV or XLSX; the export writes its own audit row."""
    if request.method != "GET":
        raise PermissionDenied
    filterset = AuditLogFilterSet(request.GET or None, queryset=_scoped_log(request).select_related("user", "county"),
                                  request=request)
    # The log as it stood at the request: the export's own row (written below) is not in it.
    last_pk = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    queryset = filterset.qs.filter(pk__lte=last_pk).order_by("-created_at", "-pk")[:EXPORT_MAX_ROWS]
    columns = audit_columns()
    headers = [str(column.header) for column in columns]
    export_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    row_count = queryset.count()
    audit_record(user=request.user, action="export", object_type="zhoukou_grid.auditlog",
                 detail={"format": export_format, "rows": row_count,
                         "filters": {k: v for k, v in request.GET.items() if k in filterset.filters}})
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    if export_format == "csv":
        def rows():
            class Echo:
                def write(self, value):
                    return value

            writer = csv.writer(Echo())
            yield BOM + writer.writerow(headers)  # Excel opens UTF-8 Chinese correctly
            for entry in queryset.iterator(chunk_size=2000):
                yield writer.writerow([_safe_cell(column.value(entry)) for column in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
        return response
    handle = tempfile.TemporaryFile()
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False})
    sheet = workbook.add_worksheet("audit")
    sheet.write_row(0, 0, headers)
    for index, entry in enumerate(queryset.iterator(chunk_size=2000), start=1):
        sheet.write_row(index, 0, [_safe_cell(column.value(entry)) for column in columns])
    workbook.close()
    handle.seek(0)
    response = FileResponse(handle, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.xlsx"'
    return response
