"""python manage.py run_projection [--date D] [--days N] [--station CODE]"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loadforecast.services import projection_run
from zhoukou_grid.territory.models import Station


class Command(BaseCommand):
    help = "Run the load projection of a date for all stations or one, in this process."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run date YYYY-MM-DD (default: today)")
        parser.add_argument("--days", type=int, help="days to project (default: the settings' horizon)")
        parser.add_argument("--station", help="station code (default: all stations)")

    def handle(self, *args, **options):
        try:
            run_date = dt.date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD") from None
        station_id = None
        if options["station"]:
            station_id = Station.objects.filter(code=options["station"]).values_list("pk", flat=True).first()
            if station_id is None:
                raise CommandError(f"unknown station code {options['station']}")
        try:
            run = projection_run(run_date=run_date, days=options["days"], station_id=station_id)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        counts = {k: v for k, v in run.counts.items() if k != "stations"}
        self.stdout.write(json.dumps({"run": run.pk, "status": run.status, **counts, "timings": {
            k: v for k, v in run.timings.items() if k != "stations"}, "skipped": len(run.skipped),
            "error": run.error}, ensure_ascii=False))
        if run.status != "done":
            raise CommandError(run.error or "the run failed")
