"""python manage.py export_data KIND [--format csv|xlsx] [--out PATH] [--as USERNAME]

Writes the same columns and headers the importer reads, so an export imports back
unchanged. Without --out the CSV goes to standard output; XLSX needs --out.
"""

from __future__ import annotations

import shutil
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing.engine import ImportContext
from zhoukou_grid.core.importing.exporting import export_to_tempfile, write_csv
from zhoukou_grid.core.importing.service import export_audit
from zhoukou_grid.core.importing.spec import get_kind


class _BytesToText:
    """Lets the byte-producing CSV writer print to a text stream (stdout or a test's StringIO)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, chunk: bytes) -> None:
        buffer = getattr(self.stream, "buffer", None)
        if buffer is not None:
            self.stream.flush()
            buffer.write(chunk)
            buffer.flush()
        else:
            self.stream.write(chunk.decode("utf-8"))


class Command(BaseCommand):
    help = "Export one kind of data in its import columns (CSV or XLSX)."

    def add_arguments(self, parser):
        parser.add_argument("kind")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--out", metavar="PATH", help="Write to this file (default: standard output, CSV only).")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help="Export with this user's territory and permissions.")

    def fail(self, message: str):
        self.stderr.write(message)
        sys.exit(2)

    def handle(self, *args, **options):
        try:
            kind = get_kind(options["kind"])
        except LookupError as error:
            self.fail(str(error))
        user = None
        if options["as_user"]:
            user = get_user_model().objects.filter(username=options["as_user"], is_active=True).first()
            if user is None:
                self.fail(_("Unknown user: %(user)s.") % {"user": options["as_user"]})
            if not kind.may_export(user):
                self.fail(_("%(user)s may not export %(kind)s.") % {"user": user.username, "kind": kind.name})
        fmt = options["format"]
        if fmt == "xlsx" and not options["out"]:
            self.fail(_("An XLSX export needs --out PATH."))
        scope_user = ImportContext(user=user).scope_user
        queryset = kind.export_queryset(scope_user)
        if options["out"]:
            handle, count = export_to_tempfile(kind, queryset, fmt)
            with handle, open(options["out"], "wb") as out:
                shutil.copyfileobj(handle, out)
        else:
            count = write_csv(kind, queryset, _BytesToText(self.stdout._out))
        export_audit(user=user, kind=kind, fmt=fmt, rows=count, personal_data=kind.export_has_personal_data(scope_user))
        if options["out"]:
            self.stderr.write(_("%(count)d rows written to %(path)s.") % {"count": count, "path": options["out"]})
