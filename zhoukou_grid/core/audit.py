"""Audit records. Each write with business rules, import, export and personal-data
reveal writes one row through `audit_record`; never through signals (bulk writes
skip signals)."""

from __future__ import annotations

from typing import Any

from zhoukou_grid.core.models import AuditLog


def county_of(user) -> int | None:
    """The one county a user works in (their county, or that of their station, grid or village);
    None for company-wide users, users of several counties and anonymous callers."""
    from zhoukou_grid.core.scoping import territory_of

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    territory = territory_of(user)
    if territory.everything:
        return None
    counties = territory.county_ids | territory.context_county_ids
    if territory.village_ids:
        from zhoukou_grid.territory.models import Village

        counties = counties | set(Village.objects.filter(pk__in=territory.village_ids).values_list(
            "grid__station__county_id", flat=True))
    return next(iter(counties)) if len(counties) == 1 else None


def audit_record(*, user, action: str, object_type: str = "", object_id: Any = "", detail: dict | None = None) -> AuditLog:
    """Write one audit row. `detail` must not hold personal data (ids and counts only)."""
    acting = user if (user is not None and getattr(user, "is_authenticated", False)) else None
    return AuditLog.objects.create(
        user=acting,
        county_id=county_of(acting),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id not in (None, "") else "",
        detail=detail or {},
    )
