"""The column spec of a kind of import, and the registry of kinds.

One spec serves the fast import engine, the exports, the XLSX templates and the
django-import-export resources of the admin (`resource_for`), so what is exported can
be imported back. An app adds a kind by subclassing `ImportKind` in its
`resources.py` and calling `register()` (the registry imports every app's `resources`
module); it can add row checks (`clean_rows`), its own lookups (`resolve`), a composite
key (`key_fields` with `row_key` and `key_values`) and its own writes (`write`,
`after_write`). tests/imports/test_extension.py shows a small one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from zhoukou_grid.core.importing import parsers
from zhoukou_grid.core.importing.headers import build_lookup

if TYPE_CHECKING:
    from django_filters import FilterSet

    from zhoukou_grid.core.importing.engine import ImportContext, ImportPlan, ParsedRow


@dataclass(frozen=True)
class Column:
    """One column of a kind's spreadsheet."""

    key: str  # English header, and the key in parsed rows
    header: str  # Chinese header, written in templates and exports
    synonyms: tuple[str, ...] = ()
    required: bool = False
    parser: Callable[[Any], Any] = field(default_factory=lambda: parsers.text())
    text: bool = False  # a code or identifier: templates format the column as text
    date: bool = False  # templates format the column as dates, exports write date cells
    choices: tuple[str, ...] = ()
    help: Any = ""  # lazy translatable explanation, shown as a comment in templates
    example: Any = ""
    export: str | None = None  # values() path for exports; "" = the kind fills it
    field: str | None = None  # model field that takes the parsed value as is

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header, self.key, *self.synonyms)


@dataclass(frozen=True)
class Lookup:
    """A code column resolved to a primary key with one query per batch, within the
    user's writable territory (a code outside it is "unknown", never "forbidden")."""

    column: str  # column key holding the code
    model: type[Model]
    target: str  # name of the resolved pk in row.resolved (usually the model field, e.g. grid_id)
    field: str = "code"
    extra: tuple[str, ...] = ()  # more values fetched with the pk, kept in row.resolved[f"{target}:{name}"]
    message: Any = ""  # lazy message for an unknown code


class ImportKind:
    """Base class of a kind of import. Subclasses set the class attributes and may
    override the hooks; the engine (`engine.run_import`) does the rest."""

    name: str = ""
    model: type[Model]
    verbose_name: Any = ""
    columns: tuple[Column, ...] = ()
    key_column: str = "code"  # the column whose value identifies a record (named in key errors)
    key_field: str = "code"  # the model field holding it (unique in the database)
    # A composite key (model attnames under one unique constraint), e.g. ("transformer_id", "date")
    # for load data; then override `row_key` and `key_values` too.
    key_fields: tuple[str, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()  # at least one column of each group must be given
    permissions: tuple[str, ...] = ()  # Django permissions needed to import (default: add + change)
    # The template: a title above everything, and a line of notes (each column's help) above
    # the header instead of comments on it; without a note line, an example row below it.
    template_title: Any = ""
    template_note_row: bool = False
    # Columns holding personal data (ID, phone numbers): the values quoted in error messages,
    # which import jobs keep, are masked (`mask_value`).
    personal_columns: tuple[str, ...] = ()
    # The FilterSet of the kind's list page: an export (/imports/export/<kind>/?grid=…) keeps
    # the rows the list shows with the same filters. None: exports take no filters.
    filterset_class: type[FilterSet] | None = None
    # The page listing the kind's records, linked from a finished import ("" for none).
    list_url_name: str = ""
    # The model has an `import_job` foreign key, set on every row an import adds or changes:
    # the finished job links to the list filtered to them (`job_rows_query`, `?import_job=`).
    records_job: bool = False

    # --- seasons and the rows of a job ---------------------------------------------------
    def job_season(self, season: int | None) -> int | None:
        """The season an import job of this kind is for (None: the kind has no seasons)."""
        return None

    def job_rows_query(self, job) -> dict[str, str] | None:
        """The filters of the list page (`list_url_name`) that show the rows `job` wrote or
        changed last; None when the kind does not record its job on its rows."""
        return {"import_job": str(job.pk)} if self.records_job else None

    def job_stamp(self, ctx: ImportContext) -> dict[str, Any]:
        """What every written row records of the import (`records_job`): its job."""
        return {"import_job_id": getattr(ctx.job, "pk", None)} if self.records_job else {}

    # --- spec helpers -----------------------------------------------------------------
    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def header_lookup(self) -> dict[str, str]:
        return build_lookup((column.key, column.headers) for column in self.columns)

    def required_permissions(self) -> tuple[str, ...]:
        if self.permissions:
            return self.permissions
        opts = self.model._meta
        return (f"{opts.app_label}.add_{opts.model_name}", f"{opts.app_label}.change_{opts.model_name}")

    def may_import(self, user) -> bool:
        return bool(user and user.is_authenticated and all(user.has_perm(p) for p in self.required_permissions()))

    def may_export(self, user) -> bool:
        opts = self.model._meta
        return bool(user and user.is_authenticated and user.has_perm(f"{opts.app_label}.view_{opts.model_name}"))

    def mask_value(self, column_key: str, text: str) -> str:
        """The masked form of a personal cell quoted in an error: its ends only."""
        return f"{text[:3]}****{text[-4:]}" if len(text) > 8 else "****"

    # --- keys -------------------------------------------------------------------------
    def unique_fields(self) -> list[str]:
        return list(self.key_fields) or [self.key_field]

    def row_key(self, row: ParsedRow) -> Any:
        """The key as written in the file, to find duplicate rows (None: no key, an error is already noted)."""
        return row.values.get(self.key_column)

    def key_values(self, row: ParsedRow) -> dict[str, Any]:
        """The key's model values (after lookups), by attname, in `unique_fields()` order."""
        return {self.key_field: row.values.get(self.key_column)}

    # --- hooks of the import ----------------------------------------------------------
    def column_parsers(self, ctx: ImportContext) -> dict[str, Callable[[Any], Any]]:
        """Parsers that depend on the import (the import day, say), by column key; the
        other columns use `Column.parser`."""
        return {}

    def duplicate_error(self, row: ParsedRow, numbers: str) -> tuple[str, str]:
        """(column key, message) for a row whose key appears again in the file."""
        return self.key_column, _(
            "The same key appears in rows %(rows)s of the file. Keep one of these rows and delete the others."
        ) % {"rows": numbers}

    def outside_error(self, row: ParsedRow) -> tuple[str, str]:
        """(column key, message) for a row whose key belongs to a record outside the user's territory."""
        return self.key_column, _(
            "This code is already used by a record outside your territory; it cannot be changed from your "
            "account. Check the code, or ask the company administrator.")

    def resolve(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        """Extra set-based lookups beyond `lookups` (one query per batch)."""

    def clean_rows(self, ctx: ImportContext, rows: list[ParsedRow]) -> None:
        """Checks across columns after lookups; call `row.add_error(column_key, message)`."""

    def row_fields(self, row: ParsedRow) -> dict[str, Any]:
        """The model field values a row determines (only for the columns present in the file)."""
        values: dict[str, Any] = {}
        row_values = row.values
        for key, field_name, blankable in self._field_columns():
            if key in row_values:
                value = row_values[key]
                values[field_name] = "" if value is None and blankable else value
        for lookup in self.lookups:
            if lookup.column in row.values:
                values[lookup.target] = row.resolved.get(lookup.target)
        return values

    def _field_columns(self) -> list[tuple[str, str, bool]]:
        """(column key, model field, blankable) of the columns that hold a field, computed once
        per kind (row_fields runs for every row of a 100,000-row file)."""
        cached = self.__dict__.get("_field_columns_cache")
        if cached is None:
            cached = [(column.key, column.field, self._is_blankable(column.field))
                      for column in self.columns if column.field]
            self.__dict__["_field_columns_cache"] = cached
        return cached

    def _is_blankable(self, field_name: str) -> bool:
        model_field = self.model._meta.get_field(field_name)
        return not model_field.null and model_field.get_internal_type() in {"CharField", "TextField"}

    def compare_fields(self, present: set[str]) -> list[str]:
        """Model fields to compare and update, for the columns present in the file."""
        keys = set(self.unique_fields())
        fields = [c.field for c in self.columns if c.field and c.key in present and c.field not in keys]
        fields += [lookup.target for lookup in self.lookups if lookup.column in present]
        return list(dict.fromkeys(fields))

    def refine_plan(self, ctx: ImportContext, plan: ImportPlan) -> None:
        """Adjust new/updated/unchanged for what fields cannot show (M2M, say)."""

    def extra_counts(self, plan: ImportPlan) -> dict[str, int]:
        """Counts beyond new/updated/unchanged/rejected for the summary (e.g. unlinked residents)."""
        return {}

    def stream_batch_rows(self) -> int | None:
        """Rows per batch when the kind's imports stream (engine.run_import: parse, resolve,
        compare and write a batch at a time, memory flat in the row count); None: the whole
        file is one batch."""
        return None

    def finish_pass(self, ctx: ImportContext, counts: dict[str, int], write: bool) -> None:
        """After the last batch of a streamed import (inside its transaction when `write`):
        what a kind kept back from its batches (`ctx.shared`), with the counts to adjust."""

    def export_has_personal_data(self, user) -> bool:
        """Whether `user`'s export of this kind holds personal data (then its audit row counts the rows)."""
        return False

    def write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        """Write new and changed rows; the default is a batched upsert on the key."""
        from zhoukou_grid.core.importing.engine import upsert

        stamp = self.job_stamp(ctx)
        upsert(self.model, plan.to_write(), unique_fields=self.unique_fields(),
               update_fields=[*plan.update_fields, *stamp], common=stamp)
        self.after_write(ctx, plan)

    def after_write(self, ctx: ImportContext, plan: ImportPlan) -> None:
        """Writes beyond the model's own row (M2M), inside the same transaction."""

    # --- exports ----------------------------------------------------------------------
    def export_queryset(self, user) -> QuerySet:
        from zhoukou_grid.core.scoping import for_user

        return for_user(user, self.model, include_context=False).order_by(*self.unique_fields())

    def export_rows(self, queryset: QuerySet, *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
        """Dicts of column key -> value, streamed in chunks."""
        paths = {c.key: c.export for c in self.columns if c.export}
        for values in queryset.values(*paths.values()).iterator(chunk_size=chunk_size):
            yield {key: values[path] for key, path in paths.items()}

    # --- templates ----------------------------------------------------------------------
    def template_lists(self, user) -> dict[str, list[str]]:
        """Column key -> values offered as a drop-down in the template (codes of the territory)."""
        return {}


_REGISTRY: dict[str, ImportKind] = {}
_DISCOVERED = False


def register(kind: ImportKind) -> ImportKind:
    _REGISTRY[kind.name] = kind
    return kind


def _discover() -> None:
    global _DISCOVERED
    if not _DISCOVERED:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("resources")
        _DISCOVERED = True


def get_kind(name: str) -> ImportKind:
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(_("Unknown kind of data: %(kind)s. Known kinds: %(kinds)s.") % {
            "kind": name, "kinds": ", ".join(sorted(_REGISTRY))}) from None


def all_kinds() -> list[ImportKind]:
    _discover()
    return list(_REGISTRY.values())


def kinds_for(user, *, export: bool = False) -> list[ImportKind]:
    return [kind for kind in all_kinds() if (kind.may_export(user) if export else kind.may_import(user))]


def unique_in_order(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v not in (None, "")))
