"""A returning resident's season (docs/domain.md §6.7): one entry per person, village and season.

The season is backfilled from the arrival date (`lunar_calendar.nearest_season`: the festival
whose New Year is nearest to it), the rule the outlook used to read the season from the dates.
Every row has an arrival date (the column is NOT NULL), so no other source is needed; a row
without one could only come from outside the model, and would take the season of the day it
was created (`lunar_calendar.season_of`, the coming festival of that day).
"""

from django.db import migrations, models
from django.utils import timezone

from zhoukou_grid.core.lunar_calendar import nearest_season, season_of


def backfill_seasons(apps, schema_editor):
    Resident = apps.get_model("customers", "ReturningResident")
    # One UPDATE per distinct arrival day (a few hundred per festival), not one per row.
    days = Resident.objects.filter(season__isnull=True, arrival_date__isnull=False).values_list(
        "arrival_date", flat=True).distinct().order_by()
    by_season: dict[int, list] = {}
    for day in days:
        by_season.setdefault(nearest_season(day), []).append(day)
    for season, season_days in by_season.items():
        for start in range(0, len(season_days), 500):
            Resident.objects.filter(season__isnull=True, arrival_date__in=season_days[start:start + 500]).update(
                season=season)
    for pk, created_at in Resident.objects.filter(season__isnull=True).values_list("pk", "created_at"):
        Resident.objects.filter(pk=pk).update(season=season_of(timezone.localdate(created_at)))


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0016_serviceplan_approved_after_drafted'),
    ]

    operations = [
        migrations.AddField(
            model_name='returningresident',
            name='season',
            field=models.PositiveSmallIntegerField(null=True, verbose_name='season'),
        ),
        migrations.RunPython(backfill_seasons, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name='returningresident',
            name='season',
            field=models.PositiveSmallIntegerField(db_index=True, verbose_name='season'),
        ),
        migrations.RemoveConstraint(
            model_name='returningresident',
            name='resident_unique_match_key_per_village',
        ),
        migrations.RemoveConstraint(
            model_name='returningresident',
            name='resident_unique_id_number_hmac_per_village',
        ),
        migrations.AddConstraint(
            model_name='returningresident',
            constraint=models.UniqueConstraint(fields=('village', 'season', 'match_key'), name='resident_unique_match_key_per_village_season'),
        ),
        migrations.AddConstraint(
            model_name='returningresident',
            constraint=models.UniqueConstraint(condition=models.Q(('id_number_hmac', ''), _negated=True), fields=('village', 'season', 'id_number_hmac'), name='resident_unique_id_hmac_per_village_season'),
        ),
    ]
