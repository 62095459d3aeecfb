# Key-customer contact phones and a plan's responsible phone at rest, step 2 of 3: encrypt the
# numbers already stored, with their HMACs (of the digits, purpose "phone") and masked forms.
# Batched by primary key; needs the keys of the environment (PERSONAL_DATA_KEYS,
# PERSONAL_DATA_HMAC_KEY), as the portal does. The functions are copied here, not imported
# from the models, so that this migration keeps working when the models change.

import re

from django.db import migrations

from zhoukou_grid.core import crypto
from zhoukou_grid.core.bulk_update import update_rows

BATCH = 5000
PHONES = {"KeyCustomer": ("contact_phone", "contact_24h_phone"), "ServicePlan": ("responsible_phone",)}
_NOISE = re.compile(r"[^0-9]")


def _digits(value):
    digits = _NOISE.sub("", value)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _mask(phone):
    digits = [ch for ch in phone if ch.isdigit()]
    if len(digits) == 11 and phone.isdigit():
        return f"{phone[:3]}****{phone[-4:]}"
    if len(digits) >= 7:
        return f"{phone[:4]}****{phone[-3:]}"
    return "****"


def _columns(field, value):
    value = (value or "").strip()
    if not value:
        return "", "", ""
    return (crypto.encrypt(value, purpose=field), crypto.blind_index(_digits(value), purpose="phone"), _mask(value))


def _batches(model, connection, names):
    last = 0
    while True:
        batch = list(model.objects.using(connection.alias).filter(pk__gt=last).order_by("pk").values_list(
            "pk", *names)[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def encrypt_existing(apps, schema_editor):
    connection = schema_editor.connection
    for model_name, fields in PHONES.items():
        model = apps.get_model("customers", model_name)
        columns = [f"{field}_{part}" for field in fields for part in ("enc", "hmac", "masked")]
        for batch in _batches(model, connection, fields):
            rows = [(pk, *(cell for field, value in zip(fields, values, strict=True)
                           for cell in _columns(field, value))) for pk, *values in batch]
            update_rows(connection, model._meta.db_table, columns, rows)


def decrypt_back(apps, schema_editor):
    connection = schema_editor.connection
    for model_name, fields in PHONES.items():
        model = apps.get_model("customers", model_name)
        tokens = [f"{field}_enc" for field in fields]
        for batch in _batches(model, connection, tokens):
            rows = [(pk, *(crypto.decrypt(token, purpose=field) for field, token in zip(fields, values, strict=True)))
                    for pk, *values in batch]
            update_rows(connection, model._meta.db_table, fields, rows)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0010_keycustomer_plan_phone_columns'),
    ]

    operations = [
        migrations.RunPython(encrypt_existing, decrypt_back, elidable=False),
    ]
