"""Column specs for the HTML list pages and the child tables of detail pages.

A view declares its columns once; the same spec gives the table headers, the sort
links (only declared columns can be sorted on) and, on phones, the label shown in
front of each value when a row collapses into a card.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce


@dataclass(frozen=True)
class Column:
    """One column: what it shows, how it sorts, where it links."""

    key: str
    header: Any  # a lazy translation
    accessor: str | Callable[[Any], Any] | None = None  # dotted attribute path; defaults to key
    sort: str | None = None  # the order_by field; None: not sortable
    link: Callable[[Any], str | None] | None = None
    numeric: bool = False
    primary: bool = False  # the card title on a phone

    def value(self, obj: Any) -> Any:
        accessor = self.accessor or self.key
        if callable(accessor):
            return accessor(obj)
        value = obj
        for part in accessor.split("."):
            if value is None:
                return None
            value = getattr(value, part)
            if callable(value) and not hasattr(value, "all"):
                value = value()
        return value


@dataclass(frozen=True)
class Cell:
    column: Column
    value: Any
    url: str | None


@dataclass(frozen=True)
class Header:
    column: Column
    next_sort: str | None  # the `sort` parameter a click on the header sets
    state: str | None  # "asc", "desc" or None


@dataclass
class Table:
    headers: list[Header]
    rows: list[list[Cell]]

    @property
    def columns(self) -> list[Column]:
        return [header.column for header in self.headers]


def resolve_sort(columns: Sequence[Column], requested: str | None, default: str) -> tuple[str, list[str]]:
    """The active sort key (e.g. "-rated_kva") and the order_by fields for it.

    Only keys of sortable columns are accepted; anything else falls back to `default`.
    The primary key is always the last tie-breaker so paging is stable.
    """
    by_key = {column.key: column for column in columns if column.sort}
    key = requested or default
    name = key.removeprefix("-")
    if name not in by_key:
        key, name = default, default.removeprefix("-")
    descending = key.startswith("-")
    field = by_key[name].sort if name in by_key else name
    return key, [f"-{field}" if descending else field, "pk"]


def build_table(columns: Sequence[Column], objects: Iterable[Any], active_sort: str | None = None) -> Table:
    headers = []
    for column in columns:
        if not column.sort:
            headers.append(Header(column, None, None))
            continue
        if active_sort == column.key:
            headers.append(Header(column, f"-{column.key}", "asc"))
        elif active_sort == f"-{column.key}":
            headers.append(Header(column, column.key, "desc"))
        else:
            headers.append(Header(column, f"-{column.key}" if column.numeric else column.key, None))
    rows = [
        [Cell(column, column.value(obj), column.link(obj) if column.link else None) for column in columns]
        for obj in objects
    ]
    return Table(headers=headers, rows=rows)


def count_of(queryset: QuerySet, outer_path: str) -> Coalesce:
    """A correlated COUNT of `queryset` rows whose `outer_path` is the outer row: one query, no join fan-out."""
    subquery = (
        queryset.filter(**{outer_path: OuterRef("pk")})
        .order_by()
        .values(outer_path)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(subquery, output_field=IntegerField()), Value(0))


def sum_of(queryset: QuerySet, outer_path: str, field: str) -> Coalesce:
    """A correlated SUM of `field` over `queryset` rows belonging to the outer row."""
    subquery = (
        queryset.filter(**{outer_path: OuterRef("pk")})
        .order_by()
        .values(outer_path)
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(subquery, output_field=IntegerField()), Value(0))
