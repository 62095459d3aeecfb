"""customers 0017: the season of the entries already stored is backfilled from their arrival
date (the New Year nearest to it, `lunar_calendar.nearest_season`), and from then on one
person may be listed by a village once per season."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from customers.models import ReturningResident
from tests.factories import VillageFactory

BEFORE = [("customers", "0016_serviceplan_approved_after_drafted")]
AFTER = [("customers", "0017_resident_season")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_seasons_are_backfilled_from_the_arrival_dates_and_seasons_may_repeat_a_person():
    village = VillageFactory()
    migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model(
            "customers", "ReturningResident")
        arrivals = {  # name -> (arrival, season expected)
            "甲": (date(2026, 2, 13), 2026),  # 腊月二十六 of the 2026 festival (New Year 2026-02-17)
            "乙": (date(2027, 2, 2), 2027),  # 腊月二十六 of the 2027 festival (New Year 2027-02-06)
            "丙": (date(2026, 3, 25), 2026),  # a late arrival, still nearest to 2026's New Year
            "丁": (date(2026, 12, 1), 2027),  # an early one, nearest to 2027's
            "戊": (date(2025, 1, 20), 2025),  # two seasons back (New Year 2025-01-29)
        }
        for name, (arrival, _season) in arrivals.items():
            old.objects.create(village_id=village.pk, name=name, match_key=f"nv:{name}|{village.pk}|",
                               arrival_date=arrival)
        migrate(AFTER)
        seasons = dict(ReturningResident.objects.values_list("name", "season"))
        assert seasons == {name: season for name, (_arrival, season) in arrivals.items()}
        # The same person (same key) in the same village: once per season, no longer once for ever.
        jia = ReturningResident.objects.get(name="甲")
        ReturningResident.objects.create(village_id=village.pk, name="甲", match_key=jia.match_key,
                                         arrival_date=date(2027, 2, 1))
        with pytest.raises(IntegrityError), transaction.atomic():
            ReturningResident.objects.create(village_id=village.pk, name="甲", match_key=jia.match_key,
                                             arrival_date=date(2027, 1, 28))
        assert sorted(ReturningResident.objects.filter(name="甲").values_list("season", flat=True)) == [2026, 2027]
        # And back (a rollback of a failed deploy) once the second entry is gone.
        ReturningResident.objects.filter(name="甲", season=2027).delete()
        migrate(BEFORE)
        with connection.cursor() as cursor:
            columns = [c.name for c in connection.introspection.get_table_description(
                cursor, ReturningResident._meta.db_table)]
        assert "season" not in columns
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
