# Personal data at rest (docs/personal-data.md), step 1 of 3: the new columns beside the old ones.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0005_keycustomer_24h_contact_plan_phone_note'),
    ]

    operations = [
        migrations.AddField(
            model_name='returningresident',
            name='id_number_enc',
            field=models.CharField(blank=True, editable=False, max_length=100, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='id_number_hmac',
            field=models.CharField(blank=True, editable=False, max_length=64, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='id_number_masked',
            field=models.CharField(blank=True, editable=False, max_length=18, verbose_name='ID number', default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='phone_enc',
            field=models.CharField(blank=True, editable=False, max_length=100, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='phone_hmac',
            field=models.CharField(blank=True, editable=False, max_length=64, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='phone_masked',
            field=models.CharField(blank=True, editable=False, max_length=11, verbose_name='mobile phone', default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='returningresident',
            name='erased_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='personal data erased'),
        ),
    ]
