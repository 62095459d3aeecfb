"""Export-only kinds `visits`, `hazards` and `issues` for `export_data` and the export pages.

What the portal records in the field is exported in English column keys (like the load
forecast's `projections` and `alerts`) and never imported: visits, hazards and issues are
written through the visit log and the boards, with their rules and history. Each kind
reads from `for_user` and streams through the shared exporter (formula escaping, XLSX in
constant memory); the command and the export view write the audit row.

Columns
- visits: id, round, grid_code, grid_manager, planned_date, status, target_type
  (household / key_customer / village), target_code (household or key customer account number
  or village code), done_at (ISO time, Asia/Shanghai), missed_reason, cards_handed_out,
  cards_posted (the visit's own card record), guidance (the app topics explained,
  separated by ";"), hazards_found, issues_raised.
- hazards: id, grid_code, target_type, target_code, severity, status, description,
  deadline, found_at, found_by, owner, closed_at, overdue (yes when open past its deadline).
- issues: id, grid_code, target_type, target_code, channel, category, status,
  description, raised_at, raised_by, due_at, resolved_at, confirmed_at, overdue.
"""

from __future__ import annotations

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from zhoukou_grid.core.importing.spec import Column, ImportKind, register
from zhoukou_grid.core.scoping import for_user

from .filters import HazardFilterSet, IssueFilterSet
from .models import CustomerIssue, Hazard, Visit, VisitLog
from .selectors import OPEN_ISSUE_STATUSES

TARGET_FIELDS = ("household__account_no", "key_customer__account_no", "village__code")


def _target(values: dict) -> tuple[str, str]:
    if values["household__account_no"]:
        return "household", values["household__account_no"]
    if values["key_customer__account_no"]:
        return "key_customer", values["key_customer__account_no"]
    if values["village__code"]:
        return "village", values["village__code"]
    return "", ""


def _time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _columns(*keys: str) -> tuple[Column, ...]:
    return tuple(Column(key, key, export="", text=key.endswith("code")) for key in keys)


class _FieldRecordExport(ImportKind):
    """Exported, never imported."""

    permissions = ("visits.no_such_permission",)

    def may_import(self, user) -> bool:
        return False


class VisitExport(_FieldRecordExport):
    name = "visits"
    model = Visit
    verbose_name = _lazy("Visits")
    key_field = "id"
    columns = _columns("id", "round", "grid_code", "grid_manager", "planned_date", "status", "target_type",
                       "target_code", "done_at", "missed_reason", "cards_handed_out", "cards_posted", "guidance",
                       "hazards_found", "issues_raised")

    def export_queryset(self, user):
        return for_user(user, Visit, include_context=False).order_by("planned_date", "pk")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        guidance = [f"log__{name}" for name in VisitLog.GUIDANCE_FIELDS]
        fields = ("pk", "round__name", "grid__code", "grid_manager__username", "planned_date", "status", "done_at",
                  "missed_reason", "cards__handed_out", "cards__posted", *TARGET_FIELDS, *guidance)
        # Counts of hazards and issues per log in the same query (no query per row).
        rows = queryset.annotate(n_hazards=Count("log__hazards", distinct=True),
                                 n_issues=Count("log__issues", distinct=True))
        for values in rows.values(*fields, "n_hazards", "n_issues").iterator(chunk_size=chunk_size):
            target_type, target_code = _target(values)
            yield {
                "id": values["pk"], "round": values["round__name"] or "", "grid_code": values["grid__code"],
                "grid_manager": values["grid_manager__username"], "planned_date": values["planned_date"].isoformat(),
                "status": values["status"], "target_type": target_type, "target_code": target_code,
                "done_at": _time(values["done_at"]), "missed_reason": values["missed_reason"],
                "cards_handed_out": values["cards__handed_out"] or 0, "cards_posted": values["cards__posted"] or 0,
                "guidance": ";".join(name.removeprefix("log__guided_") for name in guidance if values[name]),
                "hazards_found": values["n_hazards"], "issues_raised": values["n_issues"],
            }


class HazardExport(_FieldRecordExport):
    name = "hazards"
    model = Hazard
    filterset_class = HazardFilterSet
    verbose_name = _lazy("Hazards")
    key_field = "id"
    columns = _columns("id", "grid_code", "target_type", "target_code", "severity", "status", "description",
                       "deadline", "found_at", "found_by", "owner", "closed_at", "overdue")

    def export_queryset(self, user):
        return for_user(user, Hazard, include_context=False).order_by("deadline", "pk")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        today = timezone.localdate()
        fields = ("pk", "grid__code", "severity", "status", "description", "deadline", "found_at",
                  "found_by__username", "owner__username", "closed_at", *TARGET_FIELDS)
        for values in queryset.values(*fields).iterator(chunk_size=chunk_size):
            target_type, target_code = _target(values)
            overdue = values["deadline"] < today and values["status"] != Hazard.Status.RECHECKED
            yield {
                "id": values["pk"], "grid_code": values["grid__code"], "target_type": target_type,
                "target_code": target_code, "severity": values["severity"], "status": values["status"],
                "description": values["description"], "deadline": values["deadline"].isoformat(),
                "found_at": _time(values["found_at"]), "found_by": values["found_by__username"],
                "owner": values["owner__username"] or "", "closed_at": _time(values["closed_at"]),
                "overdue": "yes" if overdue else "",
            }


class IssueExport(_FieldRecordExport):
    name = "issues"
    model = CustomerIssue
    filterset_class = IssueFilterSet
    verbose_name = _lazy("Customer issues")
    key_field = "id"
    columns = _columns("id", "grid_code", "target_type", "target_code", "channel", "category", "status",
                       "description", "raised_at", "raised_by", "due_at", "resolved_at", "confirmed_at", "overdue")

    def export_queryset(self, user):
        return for_user(user, CustomerIssue, include_context=False).order_by("raised_at", "pk")

    def export_rows(self, queryset, *, chunk_size: int = 2000):
        now = timezone.now()
        fields = ("pk", "grid__code", "channel", "category", "status", "description", "raised_at",
                  "raised_by__username", "due_at", "resolved_at", "confirmed_at", *TARGET_FIELDS)
        for values in queryset.values(*fields).iterator(chunk_size=chunk_size):
            target_type, target_code = _target(values)
            overdue = values["due_at"] < now and values["status"] in OPEN_ISSUE_STATUSES
            yield {
                "id": values["pk"], "grid_code": values["grid__code"], "target_type": target_type,
                "target_code": target_code, "channel": values["channel"], "category": values["category"],
                "status": values["status"], "description": values["description"],
                "raised_at": _time(values["raised_at"]), "raised_by": values["raised_by__username"] or "",
                "due_at": _time(values["due_at"]), "resolved_at": _time(values["resolved_at"]),
                "confirmed_at": _time(values["confirmed_at"]), "overdue": "yes" if overdue else "",
            }


for _kind in (VisitExport, HazardExport, IssueExport):
    register(_kind())
