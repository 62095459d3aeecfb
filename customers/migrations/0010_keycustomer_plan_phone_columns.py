# Key-customer contact phones and a plan's responsible phone at rest (docs/personal-data.md),
# step 1 of 3: token, HMAC and masked columns beside the plaintext ones.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0009_resident_unique_per_village'),
    ]

    operations = [
        migrations.AddField(
            model_name='keycustomer',
            name='contact_phone_enc',
            field=models.CharField(blank=True, editable=False, max_length=160, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='keycustomer',
            name='contact_phone_hmac',
            field=models.CharField(blank=True, editable=False, max_length=64, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='keycustomer',
            name='contact_phone_masked',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name="contact phone", default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='keycustomer',
            name='contact_24h_phone_enc',
            field=models.CharField(blank=True, editable=False, max_length=160, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='keycustomer',
            name='contact_24h_phone_hmac',
            field=models.CharField(blank=True, editable=False, max_length=64, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='keycustomer',
            name='contact_24h_phone_masked',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name="24-hour contact phone", default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='serviceplan',
            name='responsible_phone_enc',
            field=models.CharField(blank=True, editable=False, max_length=160, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='serviceplan',
            name='responsible_phone_hmac',
            field=models.CharField(blank=True, editable=False, max_length=64, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='serviceplan',
            name='responsible_phone_masked',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name="responsible person's phone", default=''),
            preserve_default=False,
        ),
    ]
