"""python manage.py run_projection [--date D] [--days N] [--station CODE] [--outlook]"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loadforecast.engine import SettingsError
from loadforecast.outlook_services import outlook_run
from loadforecast.services import projection_run
from zhoukou_grid.territory.models import Station


class Command(BaseCommand):
    help = ("Run the load projection of a date for all stations or one, in this process; with --outlook, "
            "the season outlook (docs/domain.md §6.7) instead.")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run date YYYY-MM-DD (default: today)")
        parser.add_argument("--days", type=int, help="days to project (default: the settings' horizon)")
        parser.add_argument("--station", help="station code (default: all stations)")
        parser.add_argument("--outlook", action="store_true",
                            help="make the season outlook of the festival window instead of the projection")

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
        if options["outlook"]:
            if options["days"]:
                raise CommandError("--days does not apply to --outlook: the outlook projects the festival window")
            self._outlook(run_date, station_id)
            return
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

    def _outlook(self, run_date: dt.date, station_id: int | None) -> None:
        try:
            runs = outlook_run(run_date=run_date, station_id=station_id)
        except SettingsError as exc:
            raise CommandError(f"outlook settings: {exc}") from None
        for run in runs:
            headline = run.headline
            self.stdout.write(json.dumps({
                "outlook": run.pk, "station": run.station.code, "season": run.season,
                "new_year": run.new_year.isoformat(), "days": run.days_projected, "message": run.message,
                "transformers": headline.get("transformers"), "lines": headline.get("lines"),
                "peak_day": headline.get("peak_day"), "temporary_kva": headline.get("temporary_kva"),
            }, ensure_ascii=False))
