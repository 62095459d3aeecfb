"""The import engine: parse and check every row in plain Python, resolve codes with
one query per batch, compare with what exists, then write all or nothing.

django-import-export's per-row path takes minutes on 100,000 rows (a SELECT and a save
per row, and on PostgreSQL a failing batch aborts the transaction with no row to blame);
here nothing touches the database until every row has been checked, and the writes are
batched upserts of the new and changed rows only.

A kind that streams (`ImportKind.stream_batch_rows`, the residents) goes through these
steps a batch of rows at a time inside one transaction (`_run_streaming`): memory stays
flat in the row count, and the answer (counts, errors, row numbers, all or nothing) is the
one of the whole file at once.
"""

from __future__ import annotations

import hashlib
import io
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Field, ForeignObject, Lookup, Model, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing.headers import HeaderMatch, cell_text, find_header, is_total_row
from zhoukou_grid.core.importing.parsers import CellError
from zhoukou_grid.core.importing.reader import SheetStream, SpreadsheetError, iter_sheet_streams, row_is_blank
from zhoukou_grid.core.importing.spec import ImportKind
from zhoukou_grid.core.scoping import territory_of, territory_q, writable_for_user

BATCH_SIZE = 1000  # rows per upsert statement


class CommandLineSuperuser:
    """The scope of `import_data` without --as: all territory, every permission."""

    pk = None
    id = None
    username = "(command line)"
    is_authenticated = True
    is_active = True
    is_superuser = True
    is_staff = True
    is_anonymous = False

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True

    def __str__(self) -> str:
        return self.username


def local_today() -> date:
    """The import day in Asia/Shanghai (kinds read dates without a year relative to it)."""
    return timezone.localdate()


# Share of the progress bar of each phase of an import (start, end), in percent.
PHASES = {"read": (0, 15), "parse": (15, 50), "resolve": (50, 65), "compare": (65, 75), "write": (75, 100)}


@dataclass
class ImportContext:
    """Who imports: `user` is a User, or None for the command line's superuser scope.

    `today` is the import day (default: today in Asia/Shanghai); `job` the ImportJob the
    rows are written for (its pk is known before it is saved); `on_progress(phase,
    percent)` is called as the phases advance."""

    user: Any = None
    today: date | None = None
    job: Any = None
    on_progress: Callable[[str, int], None] | None = None
    # The festival (lunar year) a list is about when the importer names it (`--season`):
    # yearless dates and the date checks then refer to that season, not the coming one.
    season: int | None = None
    # What a streamed import's batches share (engine.run_import): the kind's own notes, kept
    # for one pass over the file; and the duplicate finder of that pass.
    shared: dict[str, Any] = field(default_factory=dict)
    duplicates: Any = None
    _scope: Any = field(default=None, repr=False)
    # The share (from, to, in 0..1) of the progress bar of the batch being imported.
    _span: tuple[float, float] = field(default=(0.0, 1.0), repr=False)
    _last_percent: int = field(default=0, repr=False)

    @property
    def import_day(self) -> date:
        if self.today is None:
            self.today = local_today()
        return self.today

    @property
    def reference_day(self) -> date:
        """The day a list's dates are read against: the New Year of the named season, else
        the import day (`lunar_calendar.season_of` of it is the coming season)."""
        if self.season is not None:
            from zhoukou_grid.core.lunar_calendar import lunar_new_year

            return lunar_new_year(self.season)
        return self.import_day

    def progress(self, phase: str, fraction: float = 0.0) -> None:
        """Report that `phase` is `fraction` done (0..1)."""
        if self.on_progress is not None:
            start, end = PHASES[phase]
            percent = start + (end - start) * min(max(fraction, 0.0), 1.0)
            if phase != "read":  # a streamed import's batch takes its share of the bar
                low, high = self._span
                percent = 100 * low + (high - low) * percent
            self._last_percent = max(self._last_percent, int(percent))
            self.on_progress(phase, self._last_percent)

    @property
    def scope_user(self):
        if self.user is not None:
            return self.user
        if self._scope is None:
            self._scope = CommandLineSuperuser()
        return self._scope

    @property
    def actor(self):
        """The user recorded in audit rows and jobs (None for the command line)."""
        return self.user

    def writable(self, model: type[Model]):
        return writable_for_user(self.scope_user, model)

    def has_perm(self, perm: str) -> bool:
        return self.scope_user.has_perm(perm)


@dataclass(slots=True)
class ParsedRow:
    """One data row: its Excel row number, its cells, parsed values and errors (slots: a
    100,000-row file makes as many of these)."""

    number: int
    cells: list[Any]
    values: dict[str, Any]
    positions: dict[str, int]  # column key -> index in the cells (shared by all rows)
    written: dict[str, str]  # column key -> header as written in the file (shared)
    resolved: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_error(self, column_key: str | None, message: str, value: Any = None) -> None:
        self.errors.append({
            "row": self.number,
            "column": self.written.get(column_key, column_key or "") if column_key else "",
            "value": self.raw(column_key) if value is None and column_key else cell_text(value),
            "message": str(message),
        })

    def raw(self, column_key: str) -> str:
        """The cell as written in the file, for messages (computed only when needed)."""
        position = self.positions.get(column_key)
        if position is None or position >= len(self.cells):
            return ""
        return cell_text(self.cells[position])

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPlan:
    """What the import would do with the valid rows."""

    kind: ImportKind
    rows: list[ParsedRow]
    present: set[str]
    update_fields: list[str]
    fields: dict[int, dict[str, Any]] = field(default_factory=dict)  # row number -> model fields
    states: dict[int, str] = field(default_factory=dict)  # row number -> new/updated/unchanged
    # key -> current values (pk, key, compared fields, "_writable") as a tuple in the order of
    # `existing_names`: 100,000 tuples take a third of the memory of as many dicts.
    existing: dict[Any, tuple] = field(default_factory=dict)
    existing_names: tuple[str, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)  # what a kind's hooks pass on to its write
    keys: dict[int, tuple] = field(default_factory=dict)  # row number -> db key (see db_key)

    def db_key(self, row: ParsedRow) -> tuple:
        """The row's key as stored in the database (a tuple, in `unique_fields()` order),
        computed once per row."""
        key = self.keys.get(row.number)
        if key is None:
            values = self.kind.key_values(row)
            key = self.keys[row.number] = tuple(values[name] for name in self.kind.unique_fields())
        return key

    def current(self, row: ParsedRow) -> dict[str, Any] | None:
        """The existing record of a row (pk, key and compared fields), None for a new one."""
        values = self.existing.get(self.db_key(row))
        return None if values is None else dict(zip(self.existing_names, values, strict=True))

    def to_write(self) -> list[dict[str, Any]]:
        """Field values (by attname) of the new and changed rows, key included."""
        return [
            {**self.kind.key_values(row), **self.fields[row.number]}
            for row in self.rows
            if self.states[row.number] != "unchanged"
        ]

    def counts(self) -> dict[str, int]:
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        for state in self.states.values():
            counts[state] += 1
        return counts


@dataclass
class ImportResult:
    kind: str
    file_name: str
    dry_run: bool
    skip_invalid: bool
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    ignored_columns: list[str]
    header_row: int
    header_cells: list[Any]
    rejected_rows: list[tuple[int, list[Any], list[str]]]
    written: bool
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.counts.get("rejected") else 0

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file_name,
            "dry_run": self.dry_run,
            "skip_invalid": self.skip_invalid,
            "written": self.written,
            **{name: self.counts.get(name, 0) for name in ("new", "updated", "unchanged", "rejected")},
            **{name: value for name, value in self.counts.items() if name not in ("new", "updated", "unchanged",
                                                                                 "rejected")},
            "ignored_columns": self.ignored_columns,
            "header_row": self.header_row,
            "seconds": self.seconds,
            "timings": self.timings,
            "errors": self.errors,
        }


class AnyOf(Lookup):
    """`field__any_of=[...]`: `field = ANY(%s)` with the list sent as one array parameter on
    PostgreSQL (Django's `__in` prepares each of 5,000 values one by one); `IN` elsewhere."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def lookup_batch_size() -> int:
    """Codes per `IN (...)` lookup: large on PostgreSQL, within old SQLite's 999 variables."""
    return 5000 if connection.vendor == "postgresql" else 900


def batched(values: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    size = size or lookup_batch_size()
    for start in range(0, len(values), size):
        yield values[start:start + size]


def run_import(
    kind: ImportKind,
    data: bytes,
    *,
    file_name: str = "",
    ctx: ImportContext | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    on_write: Any = None,
) -> ImportResult:
    """Check the file and (unless dry_run, and unless rows were rejected without
    skip_invalid) write it in one transaction. `on_write(result)` runs inside that
    transaction (the job and audit rows). Raises SpreadsheetError for file-level errors.

    A kind whose `stream_batch_rows()` is a number is imported a batch of rows at a time
    (`_run_streaming`); the others as one batch (the whole file at once)."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    clock = [started]

    def lap(name: str) -> None:
        now = time.monotonic()
        timings[name] = round(timings.get(name, 0.0) + now - clock[0], 3)
        clock[0] = now

    ctx = ctx or ImportContext()
    ctx.progress("read")
    sheet, header = best_sheet_stream(kind, data, file_name)
    header = _check_header(kind, header, sheet.head)
    batch_rows = kind.stream_batch_rows()
    if batch_rows is not None:
        result = _run_streaming(kind, ctx, sheet, header, batch_rows, lap=lap, timings=timings, file_name=file_name,
                                dry_run=dry_run, skip_invalid=skip_invalid, on_write=on_write)
        result.seconds = round(time.monotonic() - started, 3)
        return result
    rows = list(sheet.rows())
    lap("read")
    ctx.progress("parse")
    parsed = _parse_rows(kind, rows, header, ctx)
    lap("parse")
    if not parsed:
        raise SpreadsheetError(
            _("The file has a header row but no data rows below it."), row=header.excel_row
        )
    ctx.progress("resolve")
    _check_duplicates(kind, parsed)
    valid = [row for row in parsed if row.ok]
    _resolve_lookups(kind, ctx, valid)
    kind.resolve(ctx, [row for row in valid if row.ok])
    kind.clean_rows(ctx, [row for row in valid if row.ok])
    valid = [row for row in valid if row.ok]
    lap("resolve")
    ctx.progress("compare")
    plan = _plan(kind, ctx, valid, set(header.columns))
    lap("compare")
    valid = [row for row in plan.rows if row.ok]  # _plan may reject rows owned elsewhere
    plan.rows = valid
    rejected = [row for row in parsed if not row.ok]
    counts = {**plan.counts(), "rejected": len(rejected), **kind.extra_counts(plan)}
    errors = [error for row in rejected for error in row.errors]
    _mask_personal_values(kind, header, errors)
    result = ImportResult(
        kind=kind.name,
        file_name=file_name,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        counts=counts,
        errors=errors,
        ignored_columns=header.ignored,
        header_row=header.excel_row,
        header_cells=header_cells(rows, header),
        rejected_rows=[(row.number, row.cells, [e["message"] for e in row.errors]) for row in rejected],
        written=False,
        timings=timings,
    )
    if not dry_run and (not rejected or skip_invalid):
        ctx.progress("write")
        with transaction.atomic():
            kind.write(ctx, plan)
            result.written = True
            lap("write")
            if on_write is not None:
                on_write(result)
    result.seconds = round(time.monotonic() - started, 3)
    return result


class DuplicateFinder:
    """The rows of a streamed file that share a key, found a batch at a time.

    Within a batch the rows are grouped by key (as for a whole file). Every key is also kept
    as an 8-byte digest with its row number (12 bytes a row, in arrays: 12 MB for a million
    rows), so that `finish()` can tell whether a key came back in a later batch: then the
    batches were checked without knowing it, and a second pass (`known` set) gives each row
    of such a group its error, naming all its rows, before anything is resolved or written."""

    def __init__(self, known: dict[str, dict[int, str]] | None = None):
        self.known = known
        self.digests: dict[str, array] = defaultdict(lambda: array("q"))
        self.numbers: dict[str, array] = defaultdict(lambda: array("q"))
        self.marked: dict[str, int] = defaultdict(int)

    def check(self, name: str, rows: Iterable[ParsedRow], key_of: Callable[[ParsedRow], Any],
              report: Callable[[ParsedRow, str], None]) -> None:
        """Call `report(row, "r1, r2, …")` for each row whose `key_of(row)` another row has."""
        if self.known is not None:
            known = self.known.get(name, {})
            if known:
                for row in rows:
                    numbers = known.get(row.number)
                    if numbers is not None:
                        report(row, numbers)
            return
        by_key: dict[Any, list[ParsedRow]] = defaultdict(list)
        for row in rows:
            key = key_of(row)
            if key not in (None, ""):
                by_key[key].append(row)
        digests, numbers = self.digests[name], self.numbers[name]
        for key, same in by_key.items():
            digest = int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "little",
                                    signed=True)
            for row in same:
                digests.append(digest)
                numbers.append(row.number)
            if len(same) > 1:
                self.marked[name] += len(same)
                text = ", ".join(str(row.number) for row in same)
                for row in same:
                    report(row, text)

    def finish(self) -> dict[str, dict[int, str]] | None:
        """None when every group of rows with the same key lay within one batch (the pass was
        exact); else, by name, row number -> the numbers of its group, for a second pass."""
        import numpy

        known: dict[str, dict[int, str]] = {}
        spans = False
        for name, digests in self.digests.items():
            keys = numpy.frombuffer(digests, dtype=numpy.int64)
            numbers = numpy.frombuffer(self.numbers[name], dtype=numpy.int64)
            order = numpy.argsort(keys, kind="stable")
            keys, numbers = keys[order], numbers[order]
            same_as_next = keys[1:] == keys[:-1]
            in_group = numpy.zeros(len(keys), dtype=bool)
            in_group[1:] |= same_as_next
            in_group[:-1] |= same_as_next
            grouped = int(in_group.sum())
            if grouped != self.marked.get(name, 0):
                spans = True
            groups: dict[int, list[int]] = defaultdict(list)
            for key, number in zip(keys[in_group].tolist(), numbers[in_group].tolist(), strict=True):
                groups[key].append(number)
            known[name] = {number: ", ".join(map(str, sorted(group)))
                           for group in groups.values() for number in group}
        return known if spans else None


class _Rollback(Exception):
    """Leaves the transaction of a streamed import without writing anything."""


@dataclass
class _PassResult:
    counts: dict[str, int]
    errors: list[dict[str, Any]]
    rejected_rows: list[tuple[int, list[Any], list[str]]]
    data_rows: int
    known: dict[str, dict[int, str]] | None


def _run_streaming(kind: ImportKind, ctx: ImportContext, sheet: SheetStream, header: HeaderMatch, batch_rows: int,
                   *, lap: Callable[[str], None], timings: dict[str, float], file_name: str, dry_run: bool,
                   skip_invalid: bool, on_write: Any) -> ImportResult:
    """The import a batch of rows at a time: each batch is parsed, checked, resolved, compared
    and (when the import writes) upserted before the next is read, so memory stays flat in the
    row count; everything is written in one transaction, all or nothing.

    A batch is written as soon as it is checked, while no row of the file has been rejected;
    after the first rejected row nothing more is written and, unless "skip invalid" is chosen,
    the transaction is rolled back at the end: nothing is written. The duplicate rows of a
    file are found across batches (DuplicateFinder); when a key comes back in a later batch
    the pass was done without knowing it, so it is rolled back and done again knowing every
    such row (rare: the same person twice, thousands of rows apart)."""
    present = set(header.columns)
    estimate = sheet.estimated_rows - header.data_start if sheet.estimated_rows else 0
    head = header_cells(sheet.head, header)
    rows_iter = sheet.rows()
    source = _RowSource(rows_iter, header.data_start)

    def one_pass(write: bool, known: dict[str, dict[int, str]] | None, skip: bool) -> _PassResult:
        ctx.shared = {}
        ctx.duplicates = DuplicateFinder(known)
        counts: dict[str, int] = defaultdict(int)
        errors: list[dict[str, Any]] = []
        rejected_rows: list[tuple[int, list[Any], list[str]]] = []
        data_rows = 0
        writing = write
        done = 0
        for batch in source.batches(batch_rows):
            lap("read")  # the time the reader took for this batch's rows
            # The batch's share of the progress bar, against the rows the reader expects (a guess
            # that grows when the reader cannot tell).
            expected = max(estimate, done + len(batch)) if estimate else 2 * (done + len(batch))
            ctx._span = (done / expected, (done + len(batch)) / expected)
            done += len(batch)
            ctx.progress("parse")
            parsed = _parse_rows_from(kind, batch, header, ctx)
            lap("parse")
            data_rows += len(parsed)
            ctx.progress("resolve")
            ctx.duplicates.check("key", parsed, kind.row_key,
                                 lambda row, numbers: row.add_error(*kind.duplicate_error(row, numbers)))
            valid = [row for row in parsed if row.ok]
            _resolve_lookups(kind, ctx, valid)
            kind.resolve(ctx, [row for row in valid if row.ok])
            kind.clean_rows(ctx, [row for row in valid if row.ok])
            valid = [row for row in valid if row.ok]
            lap("resolve")
            ctx.progress("compare")
            plan = _plan(kind, ctx, valid, present)
            plan.rows = [row for row in plan.rows if row.ok]
            lap("compare")
            for name, value in {**plan.counts(), **kind.extra_counts(plan)}.items():
                counts[name] += value
            rejected = [row for row in parsed if not row.ok]
            if rejected:
                counts["rejected"] += len(rejected)
                batch_errors = [error for row in rejected for error in row.errors]
                _mask_personal_values(kind, header, batch_errors)
                errors.extend(batch_errors)
                rejected_rows.extend((row.number, row.cells, [e["message"] for e in row.errors]) for row in rejected)
                if not skip:
                    writing = False  # all or nothing: this pass will not be kept
            if writing:
                ctx.progress("write")
                kind.write(ctx, plan)
                lap("write")
            del parsed, valid, plan, rejected, batch
            if settings.DEBUG and not connection.force_debug_cursor:
                # DEBUG keeps every statement's text (9,000 of them; each lookup names thousands of
                # codes): the memory would grow with the rows. A query count being pinned
                # (force_debug_cursor) keeps its log.
                connection.queries_log.clear()
        known_after = ctx.duplicates.finish()
        if known_after is None:
            kind.finish_pass(ctx, counts, writing)
            if writing:
                lap("write")
        counts.setdefault("rejected", 0)
        for name in ("new", "updated", "unchanged"):
            counts.setdefault(name, 0)
        return _PassResult(dict(counts), errors, rejected_rows, data_rows, known_after)

    def finish(outcome: _PassResult, written: bool) -> ImportResult:
        ordered = sorted(range(len(outcome.rejected_rows)), key=lambda i: outcome.rejected_rows[i][0])
        rejected_rows = [outcome.rejected_rows[i] for i in ordered]
        errors = sorted(outcome.errors, key=lambda error: error["row"] or 0)  # stable: a row's own order kept
        counts = {name: outcome.counts[name] for name in ("new", "updated", "unchanged", "rejected")}
        counts.update({name: value for name, value in outcome.counts.items() if name not in counts})
        return ImportResult(
            kind=kind.name, file_name=file_name, dry_run=dry_run, skip_invalid=skip_invalid, counts=counts,
            errors=errors, ignored_columns=header.ignored, header_row=header.excel_row, header_cells=head,
            rejected_rows=rejected_rows, written=written, timings=timings)

    write = not dry_run
    result: ImportResult | None = None
    try:
        with transaction.atomic():
            outcome = one_pass(write, None, skip_invalid)
            if not outcome.data_rows:
                raise SpreadsheetError(
                    _("The file has a header row but no data rows below it."), row=header.excel_row)
            if outcome.known is not None:
                # A key came back in a later batch: again, knowing every duplicate row.
                if write:
                    raise _Rollback
                source.restart(best_sheet_stream(kind, sheet.data, file_name)[0].rows())
                outcome = one_pass(False, outcome.known, skip_invalid)
            keep = write and (outcome.counts["rejected"] == 0 or skip_invalid)
            result = finish(outcome, keep)
            if keep:
                if on_write is not None:
                    on_write(result)
            else:
                raise _Rollback
    except _Rollback:
        pass
    if result is not None:
        return result
    # Rolled back: either nothing is to be written, or a second pass must run.
    if outcome.known is not None:
        source.restart(best_sheet_stream(kind, sheet.data, file_name)[0].rows())
        if write:
            try:
                with transaction.atomic():
                    second = one_pass(True, outcome.known, skip_invalid)
                    keep = second.counts["rejected"] == 0 or skip_invalid
                    result = finish(second, keep)
                    if keep:
                        if on_write is not None:
                            on_write(result)
                    else:
                        raise _Rollback
            except _Rollback:
                pass
            return result
    return finish(outcome, False)


class _RowSource:
    """The data rows of a sheet (from `start`, the first row after the header) in batches of
    (row number, cells), blank and total rows included: the parse skips them as before."""

    def __init__(self, rows: Iterator[list[Any]], start: int):
        self.rows = rows
        self.start = start

    def restart(self, rows: Iterator[list[Any]]) -> None:
        self.rows = rows

    def batches(self, size: int) -> Iterator[list[tuple[int, list[Any]]]]:
        batch: list[tuple[int, list[Any]]] = []
        for index, cells in enumerate(self.rows):
            if index < self.start:
                continue
            batch.append((index + 1, cells))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def _mask_personal_values(kind: ImportKind, header: HeaderMatch, errors: list[dict[str, Any]]) -> None:
    """An error names its cell's value; for a personal column (ID, phone) the masked form:
    the errors are kept with the import job, in the database, where no number may be
    in plaintext. The file itself and the error workbook rebuilt from it keep the cells."""
    columns = {header.written[key]: key for key in kind.personal_columns if key in header.written}
    if not columns:
        return
    for error in errors:
        key = columns.get(error["column"])
        if key is not None and error["value"]:
            error["value"] = kind.mask_value(key, error["value"])


def best_sheet(kind: ImportKind, data: bytes, file_name: str) -> tuple[list[list[Any]], HeaderMatch | None]:
    """The first sheet whose header has every required column; failing that, the sheet
    whose header matches the most columns (a cover or notes sheet often comes first)."""
    sheet, header = best_sheet_stream(kind, data, file_name)
    return list(sheet.rows()), header


def best_sheet_stream(kind: ImportKind, data: bytes, file_name: str) -> tuple[SheetStream, HeaderMatch | None]:
    """best_sheet's choice as a SheetStream: the header is looked for in the first rows of
    each sheet (`head`); the chosen sheet's other rows are read as the import goes.
    Another sheet than the first with every required column is only a fallback for the
    messages: it is never imported (its header lacks a required column), so its rows
    are not kept."""
    lookup = kind.header_lookup()
    required = {c.key for c in kind.columns if c.required}
    best: tuple[SheetStream, HeaderMatch | None] | None = None
    for sheet in iter_sheet_streams(data, file_name):
        header = find_header(sheet.head, lookup)
        sheet.data = data
        if header is not None and required <= set(header.columns):
            return sheet, header
        if best is None or (header is not None and (best[1] is None or len(header.columns) > len(best[1].columns))):
            best = (sheet, header)
    assert best is not None  # iter_sheet_streams yields at least one sheet or raises
    return best


def header_cells(rows: list[list[Any]], header: HeaderMatch) -> list[Any]:
    """The header as one line: the main header row, with the cells that a second header
    line adds (for the error workbook, whose rows keep the file's columns)."""
    cells = list(rows[header.row_index])
    for key, position in header.columns.items():
        if position >= len(cells):
            cells.extend([""] * (position + 1 - len(cells)))
        if cells[position] in (None, ""):
            cells[position] = header.written[key]
    return cells


def other_kind_hint(kind: ImportKind, rows: list[list[Any]]) -> str:
    """A message naming the registered kind whose header this file has, or "" if none.

    Clerks pick the wrong kind or the wrong file ("this looks like a load file"): a header
    that has every required column of another kind says which kind it is."""
    from zhoukou_grid.core.importing.spec import all_kinds

    best: tuple[int, ImportKind, HeaderMatch] | None = None
    for other in all_kinds():
        if other.name == kind.name or not (any(c.required for c in other.columns) or other.required_any):
            continue  # export-only kinds have no required column: any two headers would match them
        match = find_header(rows, other.header_lookup())
        if match is None or len(match.columns) < 2:
            continue
        if not all(c.key in match.columns for c in other.columns if c.required):
            continue
        if not all(any(key in match.columns for key in group) for group in other.required_any):
            continue
        if best is None or len(match.columns) > best[0]:
            best = (len(match.columns), other, match)
    if best is None:
        return ""
    _score, other, match = best
    return _("This looks like a file of %(other)s (its header has %(columns)s), not of %(kind)s. Choose "
             "“%(other)s” as the kind of data, or upload the file of %(kind)s.") % {
        "other": other.verbose_name or other.name, "kind": kind.verbose_name or kind.name,
        "columns": "、".join(list(match.written.values())[:4])}


def _check_header(kind: ImportKind, header: HeaderMatch | None, rows: list[list[Any]] | None = None) -> HeaderMatch:
    required = [c for c in kind.columns if c.required]
    missing = header is None or any(c.key not in header.columns for c in required) or any(
        not any(key in header.columns for key in group) for group in kind.required_any)
    if missing and rows is not None:
        hint = other_kind_hint(kind, rows)
        if hint:
            raise SpreadsheetError(hint, row=header.excel_row if header else None)
    if header is None:
        examples = "、".join(c.header for c in required[:3]) or "、".join(c.header for c in kind.columns[:3])
        raise SpreadsheetError(
            _("No header row found in the first 20 rows. The header row must name the columns, for example: "
              "%(examples)s. Download the template to see all columns.") % {"examples": examples}
        )
    for column in required:
        if column.key not in header.columns:
            raise SpreadsheetError(
                _("The required column %(column)s is missing from the header row. Add it (its English name "
                  "%(key)s is accepted too) or use the template.") % {"column": column.header, "key": column.key},
                row=header.excel_row,
                column=column.header,
            )
    for group in kind.required_any:
        if not any(key in header.columns for key in group):
            names = " / ".join(kind.column(key).header for key in group)
            raise SpreadsheetError(
                _("The header row needs one of these columns: %(columns)s.") % {"columns": names},
                row=header.excel_row,
                column=kind.column(group[0]).header,
            )
    return header


PROGRESS_EVERY = 5000  # rows between two progress reports while parsing


def _parse_rows(kind: ImportKind, rows: list[list[Any]], header: HeaderMatch,
                ctx: ImportContext | None = None) -> list[ParsedRow]:
    start = header.data_start
    return _parse_rows_from(kind, [(index + 1, rows[index]) for index in range(start, len(rows))], header, ctx)


def _parse_rows_from(kind: ImportKind, rows: Sequence[tuple[int, list[Any]]], header: HeaderMatch,
                     ctx: ImportContext | None = None) -> list[ParsedRow]:
    """The data rows among `rows` ((Excel row number, cells) pairs), parsed and checked cell by cell."""
    ctx = ctx or ImportContext()
    parsers = kind.column_parsers(ctx)
    columns = [(kind.column(key), parsers.get(key, kind.column(key).parser), index)
               for key, index in header.columns.items()]
    groups = [group for group in kind.required_any]
    parsed: list[ParsedRow] = []
    written = header.written
    total = len(rows)
    for at, (number, cells) in enumerate(rows):
        if at % PROGRESS_EVERY == PROGRESS_EVERY - 1:
            ctx.progress("parse", at / max(total, 1))
        if row_is_blank(cells) or is_total_row(cells):
            continue
        row = ParsedRow(number=number, cells=cells, values={}, positions=header.columns, written=written)
        values = row.values
        width = len(cells)
        for column, parser, position in columns:
            cell = cells[position] if position < width else None
            if cell is None or (type(cell) is str and not cell.strip()):
                values[column.key] = None
                if column.required:
                    row.add_error(column.key, _("This column is required: fill in %(column)s.") % {
                        "column": written[column.key]})
                continue
            try:
                values[column.key] = parser(cell)
            except CellError as error:
                row.values[column.key] = None
                row.add_error(column.key, error.message)
        for group in groups:
            if all(row.values.get(key) in (None, "") for key in group) and not any(
                    e["column"] in {written.get(k) for k in group} for e in row.errors):
                present = [key for key in group if key in written]
                row.add_error(present[0], _("Fill in one of: %(columns)s.") % {
                    "columns": " / ".join(written[key] for key in present)})
        parsed.append(row)
    return parsed


def _check_duplicates(kind: ImportKind, rows: list[ParsedRow]) -> None:
    by_key: dict[Any, list[ParsedRow]] = defaultdict(list)
    for row in rows:
        key = kind.row_key(row)
        if key not in (None, ""):
            by_key[key].append(row)
    for same in by_key.values():
        if len(same) > 1:
            numbers = ", ".join(str(row.number) for row in same)
            for row in same:
                column_key, message = kind.duplicate_error(row, numbers)
                row.add_error(column_key, message)


def resolve_codes(ctx: ImportContext, model: type[Model], field_name: str, values: Iterable[Any],
                  extra: Sequence[str] = ()) -> dict[Any, tuple]:
    """code -> (pk, *extra) for the codes inside the user's writable territory, one query per batch."""
    wanted = sorted({value for value in values if value not in (None, "")})
    found: dict[Any, tuple] = {}
    for batch in batched(wanted):
        for code, *rest in ctx.writable(model).filter(**{f"{field_name}__any_of": batch}).values_list(
                field_name, "pk", *extra).order_by():
            found[code] = tuple(rest)
    return found


def _resolve_lookups(kind: ImportKind, ctx: ImportContext, rows: list[ParsedRow]) -> None:
    for lookup in kind.lookups:
        found = resolve_codes(ctx, lookup.model, lookup.field, (row.values.get(lookup.column) for row in rows),
                              lookup.extra)
        for row in rows:
            code = row.values.get(lookup.column)
            if code in (None, ""):
                if lookup.column in row.values:
                    row.resolved[lookup.target] = None
                continue
            hit = found.get(code)
            if hit is None:
                row.add_error(lookup.column, str(lookup.message) if lookup.message else _(
                    "Unknown code: it is not in your territory. Check the code, or download the template for the "
                    "codes you may use."))
                continue
            row.resolved[lookup.target] = hit[0]
            for name, value in zip(lookup.extra, hit[1:], strict=True):
                row.resolved[f"{lookup.target}:{name}"] = value


def _plan(kind: ImportKind, ctx: ImportContext, rows: list[ParsedRow], present: set[str]) -> ImportPlan:
    update_fields = kind.compare_fields(present)
    plan = ImportPlan(kind=kind, rows=rows, present=present, update_fields=update_fields)
    key_fields = kind.unique_fields()
    keys = list(dict.fromkeys(plan.db_key(row) for row in rows))
    model = kind.model
    # Existing rows by key, each with whether the user may write it: one query per batch.
    # A composite key is matched field by field (IN per field), then exactly in Python.
    territory = territory_q(model, territory_of(ctx.scope_user), include_context=False)
    writable = Value(True) if territory is None else ExpressionWrapper(territory, output_field=BooleanField())
    names = plan.existing_names = ("pk", *key_fields, *update_fields, "_writable")
    key_slice = slice(1, 1 + len(key_fields))
    positions = [(name, names.index(name)) for name in update_fields]
    writable_at = len(names) - 1
    # The first row of each key (a list per key cost 7 MB on 100,000 rows; only the first is used).
    first_row_of_key: dict[tuple, ParsedRow] = {}
    for row in rows:
        plan.fields[row.number] = kind.row_fields(row)
        first_row_of_key.setdefault(plan.db_key(row), row)
    # Compared batch by batch; an unchanged record keeps the row's own values (equal ones),
    # so that the copies read from the database are dropped as the batches go.
    for batch in batched(keys):
        lookup = {f"{name}__any_of": sorted({key[i] for key in batch}, key=str) for i, name in enumerate(key_fields)}
        for values in model._default_manager.filter(**lookup).annotate(_writable=writable).values_list(
                *names).order_by():
            same_key = first_row_of_key.get(values[key_slice])
            if same_key is None:
                continue
            # The row's own key tuple and strings: the database's copies are dropped.
            key = plan.db_key(same_key)
            fields = plan.fields[same_key.number]
            if values[writable_at] and all(values[index] == fields.get(name) for name, index in positions):
                values = (values[0], *key, *[fields.get(name) for name in update_fields], True)
            else:
                values = (values[0], *key, *values[key_slice.stop:])
            plan.existing[key] = values
    for row in rows:
        fields = plan.fields[row.number]
        current = plan.existing.get(plan.db_key(row))
        if current is None:
            plan.states[row.number] = "new"
        elif not current[writable_at]:
            row.add_error(*kind.outside_error(row))
        elif any(current[index] != fields.get(name) for name, index in positions):
            plan.states[row.number] = "updated"
        else:
            plan.states[row.number] = "unchanged"
    plan.rows = [row for row in rows if row.ok]
    kind.refine_plan(ctx, plan)
    plan.states = {row.number: plan.states[row.number] for row in plan.rows}
    return plan


_PLAIN_TYPES = frozenset({
    "CharField", "TextField", "IntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField",
    "BigIntegerField", "PositiveBigIntegerField", "BooleanField", "ForeignKey", "OneToOneField",
})


def upsert(model: type[Model], rows: list[dict[str, Any]], *, unique_fields: list[str],
           update_fields: list[str], common: dict[str, Any] | None = None) -> None:
    """Insert new rows and update existing ones by key, in batches of multi-row
    `INSERT ... ON CONFLICT (key) DO UPDATE`. `rows` are dicts by attname; `common` holds
    values shared by every row (a stamp), kept out of the rows so that each row's dict
    stays small (100,000 of them); fields neither has take the model's defaults on insert
    and are left alone on update."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _pg_upsert(model, rows, unique_fields=unique_fields, update_fields=update_fields, common=common or {})
        return
    objects = [model(**{**common, **values}) if common else model(**values) for values in rows]
    for batch in batched(objects, BATCH_SIZE):
        if update_fields:
            model._default_manager.bulk_create(
                batch, update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
            )
        else:
            model._default_manager.bulk_create(batch, ignore_conflicts=True)


# Field types whose Python values COPY's text format takes as str(value).
_COPY_TYPES = _PLAIN_TYPES | {"DateField", "DateTimeField", "DecimalField", "FloatField", "UUIDField"}
# Above this many rows, COPY into a temporary table beats multi-row INSERTs.
COPY_THRESHOLD = 2000
COPY_CHUNK = 10000  # rows per COPY into the staging table


def _pg_upsert(model: type[Model], rows: list[dict[str, Any]], *, unique_fields: list[str],
               update_fields: list[str], common: dict[str, Any]) -> None:
    """PostgreSQL, without building a model instance per row (Django's bulk_create spends
    most of its time there on 100,000 rows): large writes COPY into a temporary table and
    upsert from it in one statement; small ones send multi-row VALUES."""
    opts = model._meta
    auto = (opts.pk.get_internal_type() in {"AutoField", "BigAutoField", "SmallAutoField"}
            and opts.pk.attname not in rows[0] and opts.pk.attname not in common)
    fields = [f for f in opts.concrete_fields if not (auto and f is opts.pk)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    conflict = ", ".join(quote(opts.get_field(name).column) for name in unique_fields)
    updates = [opts.get_field(name).column for name in update_fields]
    if updates:
        action = "DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates)
    else:
        action = "DO NOTHING"
    plain = [f.get_internal_type() in _PLAIN_TYPES for f in fields]
    absent = object()

    def values(row: dict[str, Any], prepare: bool = True) -> tuple:
        out = []
        for model_field, is_plain in zip(fields, plain, strict=True):
            value = row.get(model_field.attname, absent)
            if value is absent:
                value = common.get(model_field.attname, absent)
            if value is absent:
                value = model_field.get_default()  # per row: a callable default (uuid4) differs per row
            out.append(value if is_plain or not prepare else model_field.get_db_prep_save(value, connection))
        return tuple(out)

    table = quote(opts.db_table)
    with connection.cursor() as cursor:
        if len(rows) > COPY_THRESHOLD and all(f.get_internal_type() in _COPY_TYPES for f in fields):
            staging = quote(f"import_staging_{opts.db_table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA")
            # COPY's text format takes dates, aware datetimes, decimals and UUIDs as str(): no
            # per-value preparation (on 100,000 rows it cost more than the COPY). Sent in chunks
            # of UTF-8 bytes, so that the text of all rows is never in memory at once.
            for batch in batched(rows, COPY_CHUNK):
                text = "".join(["\t".join(map(_copy_text, values(row, prepare=False))) + "\n" for row in batch])
                cursor.cursor.copy_expert(f"COPY {staging} ({columns}) FROM STDIN", io.BytesIO(text.encode()))
                del text
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
                           f"ON CONFLICT ({conflict}) {action}")
            cursor.execute(f"DROP TABLE {staging}")
            return
        template = "(" + ", ".join(["%s"] * len(fields)) + ")"
        raw = cursor.cursor
        for batch in batched(rows, BATCH_SIZE):
            # Rows rendered by psycopg2 itself (as execute_values does), run through Django's
            # cursor so that query logging and test query counts see the statement.
            rendered = b",".join(raw.mogrify(template, values(row)) for row in batch).decode("utf-8")
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {rendered} ON CONFLICT ({conflict}) {action}")


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
