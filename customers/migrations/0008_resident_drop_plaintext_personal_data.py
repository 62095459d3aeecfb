# Personal data at rest, step 3 of 3: the plaintext columns go; one entry per ID number,
# enforced on its HMAC.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0007_resident_encrypt_personal_data'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='returningresident',
            name='id_number',
        ),
        migrations.RemoveField(
            model_name='returningresident',
            name='phone',
        ),
        migrations.AddConstraint(
            model_name='returningresident',
            constraint=models.UniqueConstraint(condition=models.Q(('id_number_hmac', ''), _negated=True), fields=('id_number_hmac',), name='resident_unique_id_number_hmac'),
        ),
    ]
