"""python manage.py rotate_personal_data_keys [--hmac] [--status] [--batch-size N]

Re-encrypts residents' ID and phone numbers, then the key customers' and plans' phones,
under the current key (the first of PERSONAL_DATA_KEYS), batch by batch; with --hmac,
recomputes their HMACs (and the residents' match keys) under the current
PERSONAL_DATA_HMAC_KEY instead. Resumable and idempotent: run it again
after an interruption. One audit row per run (counts only). Procedure: docs/personal-data.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers import personal_data
from zhoukou_grid.core import crypto
from zhoukou_grid.core.audit import audit_record


class Command(BaseCommand):
    help = "Re-encrypt ID and phone numbers under the current key (or, with --hmac, recompute their HMACs)."

    def add_arguments(self, parser):
        parser.add_argument("--hmac", action="store_true",
                            help="Recompute the HMACs under PERSONAL_DATA_HMAC_KEY (the previous key in "
                                 "PERSONAL_DATA_HMAC_KEY_PREVIOUS). Pause imports while it runs.")
        parser.add_argument("--status", action="store_true",
                            help="Only say how many residents still hold a token under an older key.")
        parser.add_argument("--batch-size", type=int, default=personal_data.ROTATION_BATCH)

    def handle(self, *args, hmac: bool = False, status: bool = False, batch_size: int = 0, **options):
        keyring = crypto.keyring()
        if status:
            stale = personal_data.rows_under_old_keys()
            self.stdout.write(f"current key: {keyring.current_kid}; keys configured: {', '.join(keyring.kids)}; "
                              f"residents with a token under an older key: {stale}")
            self.stdout.write(f"key customers and plans with a phone under an older key: "
                              f"{personal_data.contact_rows_under_old_keys()}")
            return
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(done: int) -> None:
            if options.get("verbosity", 1) > 1:
                self.stdout.write(f"  {done} residents")

        if hmac:
            if settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS is None:
                raise CommandError("Set PERSONAL_DATA_HMAC_KEY_PREVIOUS to the old HMAC key and "
                                   "PERSONAL_DATA_HMAC_KEY to the new one (docs/personal-data.md).")
            try:
                counts = personal_data.rotate_hmac_key(batch_size=batch_size, on_batch=progress)
                contacts = personal_data.rotate_contact_phone_hmacs(batch_size=batch_size)
            except crypto.UndecryptableValue as error:
                raise CommandError(f"A stored number cannot be decrypted ({error}): put every key still in use "
                                   f"in PERSONAL_DATA_KEYS. The batches done so far are kept; run again.") from None
            audit_record(user=None, action="personal_data.hmac_rotated", object_type="returningresident",
                         detail=counts)
            audit_record(user=None, action="personal_data.phone_hmacs_rotated", object_type="keycustomer",
                         detail={"contact_phones": contacts})
            self.stdout.write(f"HMACs: checked {counts['checked']}, recomputed {counts['recomputed']}, "
                              f"under neither key before {counts['unexpected']}")
            self.stdout.write(f"key customers' and plans' phone HMACs: checked {contacts['checked']}, "
                              f"recomputed {contacts['recomputed']}")
            return
        try:
            count = personal_data.rotate_encryption_keys(batch_size=batch_size, on_batch=progress)
            contacts = personal_data.rotate_contact_phone_keys(batch_size=batch_size)
        except crypto.UndecryptableValue as error:
            raise CommandError(f"A stored number cannot be decrypted ({error}): put every key still in use in "
                               f"PERSONAL_DATA_KEYS. The batches done so far are kept; run again.") from None
        stale = personal_data.rows_under_old_keys()
        contacts_stale = personal_data.contact_rows_under_old_keys()
        audit_record(user=None, action="personal_data.keys_rotated", object_type="returningresident",
                     detail={"reencrypted": count, "current_key": keyring.current_kid, "left_under_old_keys": stale})
        audit_record(user=None, action="personal_data.contact_phone_keys_rotated", object_type="keycustomer",
                     detail={"reencrypted": contacts, "current_key": keyring.current_kid,
                             "left_under_old_keys": contacts_stale})
        self.stdout.write(f"re-encrypted {count} residents under key {keyring.current_kid}; "
                          f"left under older keys: {stale}")
        self.stdout.write(f"re-encrypted {contacts} key customers and plans; left under older keys: {contacts_stale}")
        if stale == 0 and contacts_stale == 0 and len(keyring.kids) > 1:
            self.stdout.write(f"the older keys ({', '.join(keyring.kids[1:])}) may now be removed from "
                              f"PERSONAL_DATA_KEYS")
