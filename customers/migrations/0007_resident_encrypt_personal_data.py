# Personal data at rest, step 2 of 3: encrypt the ID and phone numbers already stored,
# compute their HMACs and masked forms, and rewrite each match key with the HMACs in place
# of the numbers ("id:<ID>" -> "id:<HMAC>", "np:<name>|<phone>" -> "np:<name>|<HMAC>": a
# one-to-one rewrite, so the keys stay unique). Batched by primary key; needs the keys of
# the environment (PERSONAL_DATA_KEYS, PERSONAL_DATA_HMAC_KEY), as the portal does.

from django.db import migrations

from zhoukou_grid.core import crypto
from zhoukou_grid.core.bulk_update import update_rows

BATCH = 5000
NEW_COLUMNS = ("id_number_enc", "id_number_hmac", "id_number_masked", "phone_enc", "phone_hmac", "phone_masked",
               "match_key")


def _mask_id(value):
    return f"{value[:6]}********{value[-4:]}" if len(value) == 18 else "****"


def _mask_phone(value):
    return f"{value[:3]}****{value[-4:]}" if len(value) == 11 else "****"


def _columns(field, value, mask):
    if not value:
        return "", "", ""
    return (crypto.encrypt(value, purpose=field), crypto.blind_index(value, purpose=field), mask(value))


def encrypt_existing(apps, schema_editor):
    resident = apps.get_model("customers", "ReturningResident")
    connection = schema_editor.connection
    table = resident._meta.db_table
    last = 0
    while True:
        batch = list(resident.objects.using(connection.alias).filter(pk__gt=last).order_by("pk").values_list(
            "pk", "id_number", "phone", "match_key")[:BATCH])
        if not batch:
            break
        rows = []
        for pk, id_number, phone, match_key in batch:
            id_columns = _columns("id_number", id_number or "", _mask_id)
            phone_columns = _columns("phone", phone or "", _mask_phone)
            if match_key.startswith("id:"):
                match_key = "id:" + crypto.blind_index(match_key[3:], purpose="id_number")
            elif match_key.startswith("np:"):
                name, _sep, key_phone = match_key[3:].rpartition("|")
                match_key = f"np:{name}|" + crypto.blind_index(key_phone, purpose="phone")
            rows.append((pk, *id_columns, *phone_columns, match_key))
        update_rows(connection, table, NEW_COLUMNS, rows)
        last = batch[-1][0]


def decrypt_back(apps, schema_editor):
    resident = apps.get_model("customers", "ReturningResident")
    connection = schema_editor.connection
    table = resident._meta.db_table
    last = 0
    while True:
        batch = list(resident.objects.using(connection.alias).filter(pk__gt=last).order_by("pk").values_list(
            "pk", "id_number_enc", "phone_enc", "name", "match_key")[:BATCH])
        if not batch:
            break
        rows = []
        for pk, id_token, phone_token, name, match_key in batch:
            id_number = crypto.decrypt(id_token, purpose="id_number")
            phone = crypto.decrypt(phone_token, purpose="phone")
            if match_key.startswith("id:") and id_number:
                match_key = "id:" + id_number
            elif match_key.startswith("np:") and phone:
                match_key = f"np:{name}|{phone}"
            rows.append((pk, id_number, phone, match_key))
        update_rows(connection, table, ("id_number", "phone", "match_key"), rows)
        last = batch[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0006_resident_personal_data_columns'),
    ]

    operations = [
        migrations.RunPython(encrypt_existing, decrypt_back, elidable=False),
    ]
