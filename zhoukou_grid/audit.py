"""Audit records. Each write with business rules, import, export and personal-data
reveal writes one row through `audit_record`; never through signals (bulk writes
skip signals)."""

from __future__ import annotations

from typing import Any

from .models import AuditLog


def audit_record(*, user, action: str, object_type: str = "", object_id: Any = "", detail: dict | None = None) -> AuditLog:
    """Write one audit row. `detail` must not hold personal data (ids and counts only)."""
    return AuditLog.objects.create(
        user=user if (user is not None and getattr(user, "is_authenticated", False)) else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id not in (None, "") else "",
        detail=detail or {},
    )
