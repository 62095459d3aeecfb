"""python manage.py seed_demo [--scale demo|city] [--seed N] [--today YYYY-MM-DD] [--if-empty | --reset]"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from zhoukou_grid.territory.demo import SCALES
from zhoukou_grid.territory.seeding import demo_logins, format_table, has_seeded_data, run_seed, wipe_seeded_data

DEFAULT_SEED = 2027


class Command(BaseCommand):
    help = (
        "Seed deterministic demo data: territory, transformers, LV lines, households and one login per role. "
        "Scales: " + "; ".join(f"{s.name} ({s.description}: {s.households:,} households)" for s in SCALES.values())
        + ". The demo passwords are printed and public: never run this on a production database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same data (default %(default)s)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--if-empty", action="store_true",
                          help="when territory data exists, seed nothing and only print the demo logins")
        mode.add_argument("--reset", action="store_true",
                          help="wipe the territory, network and household tables (and every row referring to "
                               "them, role assignments included) and seed again")
        parser.add_argument("--today", type=dt.date.fromisoformat,
                            help="place the demo as if seeded on this day (default: today): the metered days "
                                 "before it, the coming Spring Festival's lists and the last one's back-test")
        parser.add_argument("--stats-json", type=Path, help="also write the per-step figures to this JSON file")
        parser.add_argument("--force", action="store_true",
                            help="seed even though DEBUG is off (benchmarks); the demo passwords are public")

    def handle(self, *args, scale: str, seed: int, if_empty: bool, reset: bool, stats_json: Path | None,
               force: bool = False, verbosity: int = 1, today: dt.date | None = None, **options):
        chosen = SCALES[scale]
        if not (settings.DEBUG or getattr(settings, "TESTING", False) or force):
            # A superuser with a published password must not appear on a production server.
            raise CommandError("DEBUG is off: this looks like a production server, and the demo logins have "
                               "public passwords. Run with DEBUG=1, or add --force for a benchmark database.")
        if has_seeded_data():
            if if_empty:
                self.stdout.write("The database already holds territory data: nothing seeded.")
                self._print_logins()
                return
            if not reset:
                raise CommandError(
                    "The database already holds territory data. Run with --if-empty to keep it, "
                    "or with --reset to wipe it (and everything referring to it) and seed again."
                )
        out = self.stdout.write if verbosity >= 1 else None
        if out:
            out(f"Seeding scale '{chosen.name}' with seed {seed}"
                + (" after wiping the existing territory data" if reset else "") + " ...")
        started = time.perf_counter()
        with transaction.atomic():  # a failed reseed leaves the old data in place
            if reset:
                wipe_seeded_data()
            ctx, stats = run_seed(scale=chosen, seed=seed, out=out, today=today)
        total = time.perf_counter() - started
        if out:
            rows = sum(s.rows for s in stats)
            out(self.style.SUCCESS(f"Seeded {rows:,} rows in {total:.1f} s ({rows / total:,.0f} rows/s)."))
            season = ctx.season
            out(f"Demo placed on {season.today}: this season's New Year {season.new_year} (除夕 {season.eve}), "
                f"{len(ctx.unreported_villages())} villages without this season's list; "
                f"last season's New Year {season.last_new_year} metered for the back-test.")
        if stats_json:
            stats_json.write_text(json.dumps({
                "scale": chosen.name, "seed": seed, "total_seconds": round(total, 3),
                "steps": [{"name": s.name, "rows": s.rows, "seconds": round(s.seconds, 4)} for s in stats],
            }, indent=2))
        self._print_logins()

    def _print_logins(self) -> None:
        logins = demo_logins()
        if not logins:
            self.stdout.write("No demo users in this database (seed_demo --reset creates them).")
            return
        self.stdout.write("\nDemo logins (passwords as seeded; they are public: demo data only):")
        self.stdout.write(format_table(
            ("role", "username", "password", "territory"),
            [(str(x.role), x.username, x.password, x.territory) for x in logins],
        ))
        self.stdout.write("")
