"""python manage.py import_data KIND FILE [--dry-run] [--skip-invalid] [--errors-out PATH] [--as USERNAME] [--json]

Exit 0: every row valid and (without --dry-run) written. Exit 1: rows rejected; nothing
written unless --skip-invalid. Exit 2: the file or the arguments cannot be used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing.exporting import error_workbook_bytes
from zhoukou_grid.core.importing.reader import SpreadsheetError
from zhoukou_grid.core.importing.service import import_file
from zhoukou_grid.core.importing.spec import get_kind
from zhoukou_grid.core.lunar_calendar import FIRST_SEASON, LAST_SEASON, season_in_calendar


class Command(BaseCommand):
    help = "Import a spreadsheet (XLSX, XLS or CSV) of one kind of data."

    def add_arguments(self, parser):
        parser.add_argument("kind")
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and write nothing.")
        parser.add_argument("--skip-invalid", action="store_true",
                            help="Write the valid rows; the rejected ones go to --errors-out.")
        parser.add_argument("--errors-out", metavar="PATH", help="Write the rejected rows to this XLSX file.")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="Import with this user's territory and permissions.")
        parser.add_argument("--json", action="store_true", help="Print the summary as one JSON object.")
        parser.add_argument("--season", type=int, metavar="YEAR",
                            help="residents only: the festival (lunar year) the list is about, e.g. last "
                                 "season's list for the outlook's estimates (default: the coming season)")

    def fail(self, message: str, as_json: bool, error: dict | None = None):
        self.stderr.write(message)
        if as_json:
            self.stdout.write(json.dumps({"ok": False, "message": message, "errors": [error] if error else []},
                                         ensure_ascii=False))
        sys.exit(2)

    def handle(self, *args, **options):
        as_json = options["json"]
        try:
            kind = get_kind(options["kind"])
        except LookupError as error:
            self.fail(str(error), as_json)
        user = None
        if options["as_user"]:
            user = get_user_model().objects.filter(username=options["as_user"], is_active=True).first()
            if user is None:
                self.fail(_("Unknown user: %(user)s.") % {"user": options["as_user"]}, as_json)
            if not kind.may_import(user):
                self.fail(_("%(user)s may not import %(kind)s.") % {"user": user.username, "kind": kind.name}, as_json)
        season = options.get("season")
        if season is not None:
            if kind.name != "residents":
                self.fail(_("--season applies to returning residents lists only, not to %(kind)s.")
                          % {"kind": kind.name}, as_json)
            if not season_in_calendar(season):
                self.fail(_("The season %(season)s has no Lunar New Year in the calendar (seasons %(first)s to "
                            "%(last)s). Check the year.") % {"season": season, "first": FIRST_SEASON,
                                                             "last": LAST_SEASON}, as_json)
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as error:
            self.fail(_("Cannot read the file %(path)s: %(error)s") % {"path": path, "error": error.strerror}, as_json)
        try:
            result = import_file(kind=kind, data=data, file_name=path.name, user=user, dry_run=options["dry_run"],
                                 skip_invalid=options["skip_invalid"], season=season)
        except SpreadsheetError as error:
            self.fail(f"{path.name}: {error.message}", as_json, error.as_error())
        if options["errors_out"]:  # written even when empty, so a script never reads a stale file
            Path(options["errors_out"]).write_bytes(error_workbook_bytes(result.header_cells, result.rejected_rows))
        if as_json:
            self.stdout.write(json.dumps({"ok": not result.errors, **result.summary()}, ensure_ascii=False))
        else:
            for error in result.errors:
                self.stdout.write(_("row %(row)s, column %(column)s, value \"%(value)s\": %(message)s") % error)
            if result.ignored_columns:
                self.stdout.write(_("Ignored columns: %(columns)s") % {"columns": ", ".join(result.ignored_columns)})
            counts = result.counts
            self.stdout.write(_("%(kind)s: %(new)d new, %(updated)d updated, %(unchanged)d unchanged, "
                                "%(rejected)d rejected; %(written)s.") % {
                "kind": kind.name, **counts,
                "written": _("written") if result.written else (_("dry run, nothing written") if result.dry_run
                                                                  else _("nothing written")),
            })
        if result.exit_code:
            sys.exit(result.exit_code)
