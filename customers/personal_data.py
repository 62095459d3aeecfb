"""Personal data of returning residents: ID and phone numbers, masked unless revealed.

Every page, API answer and export shows the masked form, for every role: it is stored
beside the encrypted value (`<field>_masked`), so lists never decrypt. A user holding
`customers.view_personal_data` may reveal one value of one resident by an explicit
action; each reveal decrypts that one value and writes an audit row naming who, when,
which resident and which field, never the value. Nothing here logs a value.
Storage, keys, rotation and retention: docs/personal-data.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q

from zhoukou_grid.core import crypto
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.bulk_update import update_rows
from zhoukou_grid.core.scoping import get_for_user_or_404, roles_of
from zhoukou_grid.territory.models import Role

from .models import KeyCustomer, ReturningResident, ServicePlan, personal_index
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


def is_village_clerk(user) -> bool:
    return Role.VILLAGE_CLERK in roles_of(user)


def can_reveal_resident(user, resident: ReturningResident) -> bool:
    """Whether `resident_reveal` would answer this user for this (visible) resident."""
    if can_reveal(user):
        return True
    return is_village_clerk(user) and resident.source == ReturningResident.Source.VILLAGE


@transaction.atomic
def resident_reveal(*, user, resident_id: int, field: str) -> str:
    """The full phone or ID number of one resident of the user's territory, audited.

    Raises PermissionDenied without the permission (checked before the lookup, so a
    user without it learns nothing about which ids exist), Http404 for a resident
    outside the territory or missing, UnknownPersonalField for any other field.
    A village clerk (without the permission) may reveal only what their village entered
    (source "village"); any other resident of the village answers PermissionDenied.
    """
    if field not in PERSONAL_FIELDS:
        raise UnknownPersonalField(field)
    full_reveal = can_reveal(user)
    if not full_reveal and not is_village_clerk(user):
        raise PermissionDenied
    queryset = ReturningResident.objects.only("pk", "source", f"{field}_enc")
    resident = get_for_user_or_404(user, queryset, pk=resident_id)
    if not full_reveal and resident.source != ReturningResident.Source.VILLAGE:
        raise PermissionDenied
    audit_record(user=user, action="resident.revealed", object_type="returningresident", object_id=resident.pk,
                 detail={"field": field})
    return getattr(resident, field)


def tel_url(phone: str) -> str:
    """A tel: link for a revealed mobile number (mainland numbers are dialled as is)."""
    return f"tel:{phone}" if phone else ""


# --- Key rotation (docs/personal-data.md, `manage.py rotate_personal_data_keys`) ----------

ROTATION_BATCH = 2000
_ROTATED = ("id_number", "phone")  # the order of the columns below
_TOKEN_COLUMNS = tuple(f"{field}_enc" for field in _ROTATED)
_HMAC_COLUMNS = tuple(f"{field}_hmac" for field in _ROTATED)


def rows_under_old_keys() -> int:
    """How many residents still hold a token under another key than the current one."""
    prefix = crypto.keyring().current_kid + ":"
    stale = Q()
    for column in _TOKEN_COLUMNS:
        stale |= Q(**{f"{column}__gt": ""}) & ~Q(**{f"{column}__startswith": prefix})
    return ReturningResident.objects.filter(stale).count()


def rotate_encryption_keys(*, batch_size: int = ROTATION_BATCH, on_batch=None) -> int:
    """Re-encrypt under the current key every token made with an older one.

    Each batch is its own transaction, chosen by what is still stale: an interrupted run
    resumes where it stopped, and a second run changes nothing (idempotent). Returns how
    many residents were re-encrypted. The old keys must stay in PERSONAL_DATA_KEYS until
    this has run to the end (`rows_under_old_keys() == 0`).
    """
    keyring = crypto.keyring()
    prefix = keyring.current_kid + ":"
    stale = Q()
    for column in _TOKEN_COLUMNS:
        stale |= Q(**{f"{column}__gt": ""}) & ~Q(**{f"{column}__startswith": prefix})
    table = ReturningResident._meta.db_table
    done, last = 0, 0
    while True:
        with transaction.atomic():
            batch = list(ReturningResident.objects.filter(stale, pk__gt=last).order_by("pk").values_list(
                "pk", *_TOKEN_COLUMNS)[:batch_size])
            if not batch:
                break
            rows = []
            for pk, *tokens in batch:
                rows.append((pk, *(
                    token if keyring.is_current(token) else keyring.encrypt(keyring.decrypt(token, purpose=field),
                                                                            purpose=field)
                    for field, token in zip(_ROTATED, tokens, strict=True))))
            update_rows(connection, table, _TOKEN_COLUMNS, rows)
        done += len(batch)
        last = batch[-1][0]
        if on_batch is not None:
            on_batch(done)
    return done


def _rekey(match_key: str, id_hmac: str, phone_hmac: str) -> str:
    """The match key with the new HMAC in place of the old one (name+village keys hold none)."""
    if match_key.startswith("id:") and id_hmac:
        return "id:" + id_hmac
    if match_key.startswith("np:") and phone_hmac:
        name, _sep, _old = match_key[3:].rpartition("|")
        return f"np:{name}|{phone_hmac}"
    return match_key


def rotate_hmac_key(*, batch_size: int = ROTATION_BATCH, on_batch=None) -> dict[str, int]:
    """Recompute every HMAC (and the match keys built from them) under the current
    PERSONAL_DATA_HMAC_KEY from the decrypted values.

    Rows whose HMACs already are the current key's are skipped, so a run can be repeated
    or resumed. A stored HMAC that is neither the current nor the previous key's
    (PERSONAL_DATA_HMAC_KEY_PREVIOUS) is counted as `unexpected` and recomputed anyway.
    Imports must be paused meanwhile: rows not yet done match under the old key only.
    """
    table = ReturningResident._meta.db_table
    counts = {"checked": 0, "recomputed": 0, "unexpected": 0}
    previous_known = settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS is not None
    last = 0
    while True:
        with transaction.atomic():
            batch = list(ReturningResident.objects.filter(pk__gt=last).order_by("pk").values_list(
                "pk", *_TOKEN_COLUMNS, *_HMAC_COLUMNS, "match_key")[:batch_size])
            if not batch:
                break
            rows = []
            for pk, id_token, phone_token, id_hmac, phone_hmac, match_key in batch:
                values = {"id_number": crypto.decrypt(id_token, purpose="id_number"),
                          "phone": crypto.decrypt(phone_token, purpose="phone")}
                stored = {"id_number": id_hmac, "phone": phone_hmac}
                new = {field: crypto.blind_index(value, purpose=field) for field, value in values.items()}
                if new == stored:
                    continue
                if previous_known and any(
                        stored[field] != crypto.blind_index(values[field], purpose=field, previous=True)
                        for field in _ROTATED if stored[field] != new[field]):
                    counts["unexpected"] += 1
                rows.append((pk, new["id_number"], new["phone"], _rekey(match_key, new["id_number"], new["phone"])))
            update_rows(connection, table, (*_HMAC_COLUMNS, "match_key"), rows)
        counts["checked"] += len(batch)
        counts["recomputed"] += len(rows)
        last = batch[-1][0]
        if on_batch is not None:
            on_batch(counts["checked"])
    return counts


# --- The contact phones of key customers and plans ---------------------------------------
# Encrypted like residents' numbers (`models.contact_phone_columns`), rotated by the same
# command after the residents.
CONTACT_PHONES = ((KeyCustomer, ("contact_phone", "contact_24h_phone")), (ServicePlan, ("responsible_phone",)))


def _stale_contacts(fields, prefix: str) -> Q:
    stale = Q()
    for field in fields:
        stale |= Q(**{f"{field}_enc__gt": ""}) & ~Q(**{f"{field}_enc__startswith": prefix})
    return stale


def contact_rows_under_old_keys() -> int:
    """How many key customers and plans still hold a phone token under an older key."""
    prefix = crypto.keyring().current_kid + ":"
    return sum(model.objects.filter(_stale_contacts(fields, prefix)).count() for model, fields in CONTACT_PHONES)


def rotate_contact_phone_keys(*, batch_size: int = ROTATION_BATCH) -> int:
    """`rotate_encryption_keys` for the key customers' and plans' phones: resumable and
    idempotent the same way. Returns how many rows were re-encrypted."""
    keyring = crypto.keyring()
    prefix = keyring.current_kid + ":"
    done = 0
    for model, fields in CONTACT_PHONES:
        stale = _stale_contacts(fields, prefix)
        columns = tuple(f"{field}_enc" for field in fields)
        last = 0
        while True:
            with transaction.atomic():
                batch = list(model.objects.filter(stale, pk__gt=last).order_by("pk").values_list(
                    "pk", *columns)[:batch_size])
                if not batch:
                    break
                rows = [(pk, *(token if keyring.is_current(token)
                               else keyring.encrypt(keyring.decrypt(token, purpose=field), purpose=field)
                               for field, token in zip(fields, tokens, strict=True)))
                        for pk, *tokens in batch]
                update_rows(connection, model._meta.db_table, columns, rows)
            done += len(batch)
            last = batch[-1][0]
    return done


def rotate_contact_phone_hmacs(*, batch_size: int = ROTATION_BATCH) -> dict[str, int]:
    """`rotate_hmac_key` for the key customers' and plans' phones: each HMAC recomputed from
    the decrypted number; rows already under the current key are left alone."""
    counts = {"checked": 0, "recomputed": 0}
    for model, fields in CONTACT_PHONES:
        tokens = tuple(f"{field}_enc" for field in fields)
        hmacs = tuple(f"{field}_hmac" for field in fields)
        last = 0
        while True:
            with transaction.atomic():
                batch = list(model.objects.filter(pk__gt=last).order_by("pk").values_list(
                    "pk", *tokens, *hmacs)[:batch_size])
                if not batch:
                    break
                rows = []
                for pk, *cells in batch:
                    stored = cells[len(fields):]
                    new = tuple(personal_index("phone", crypto.decrypt(token, purpose=field))
                                for field, token in zip(fields, cells[:len(fields)], strict=True))
                    if new != tuple(stored):
                        rows.append((pk, *new))
                update_rows(connection, model._meta.db_table, hmacs, rows)
            counts["checked"] += len(batch)
            counts["recomputed"] += len(rows)
            last = batch[-1][0]
    return counts
