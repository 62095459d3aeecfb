# Key-customer contact phones and a plan's responsible phone at rest, step 3 of 3: the
# plaintext columns go.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_keycustomer_plan_encrypt_phones'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='keycustomer',
            name='contact_phone',
        ),
        migrations.RemoveField(
            model_name='keycustomer',
            name='contact_24h_phone',
        ),
        migrations.RemoveField(
            model_name='serviceplan',
            name='responsible_phone',
        ),
    ]
