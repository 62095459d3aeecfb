"""Personal data of returning residents: ID and phone numbers, masked unless revealed.

Every page, API answer and export shows the masked form, for every role: it is stored
beside the encrypted value (`<field>_masked`), so lists never decrypt. A user holding
`customers.view_personal_data` may reveal one value of one resident by an explicit
action; each reveal decrypts that one value and writes an audit row naming who, when,
which resident and which field, never the value. Nothing here logs a value.
Storage, keys, rotation and retention: docs/personal-data.md.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from zhoukou_grid.audit import audit_record
from zhoukou_grid.scoping import get_for_user_or_404

from .models import ReturningResident
from .parsing import mask_id_number, mask_phone

REVEAL_PERMISSION = "customers.view_personal_data"
PERSONAL_FIELDS = ("phone", "id_number")
_MASKERS = {"phone": mask_phone, "id_number": mask_id_number}


class UnknownPersonalField(ValueError):
    """A reveal asked for a field that is not personal data (or does not exist)."""


def masked(value: str, field: str) -> str:
    """The masked form of a phone or ID number; an empty value stays empty."""
    if not value:
        return ""
    return _MASKERS[field](value)


def resident_masked(resident: ReturningResident, field: str) -> str:
    """The stored masked form (no decryption)."""
    if field not in PERSONAL_FIELDS:
        raise UnknownPersonalField(field)
    return getattr(resident, f"{field}_masked")


def can_reveal(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(REVEAL_PERMISSION))


@transaction.atomic
def resident_reveal(*, user, resident_id: int, field: str) -> str:
    """The full phone or ID number of one resident of the user's territory, audited.

    Raises PermissionDenied without the permission (checked before the lookup, so a
    user without it learns nothing about which ids exist), Http404 for a resident
    outside the territory or missing, UnknownPersonalField for any other field.
    """
    if field not in PERSONAL_FIELDS:
        raise UnknownPersonalField(field)
    if not can_reveal(user):
        raise PermissionDenied
    queryset = ReturningResident.objects.only("pk", f"{field}_enc")
    resident = get_for_user_or_404(user, queryset, pk=resident_id)
    audit_record(user=user, action="resident.revealed", object_type="returningresident", object_id=resident.pk,
                 detail={"field": field})
    return getattr(resident, field)


def tel_url(phone: str) -> str:
    """A tel: link for a revealed mobile number (mainland numbers are dialled as is)."""
    return f"tel:{phone}" if phone else ""
