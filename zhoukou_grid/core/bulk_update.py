"""Set a few columns of many rows by primary key, fast, on PostgreSQL and SQLite.

Django's `bulk_update` builds a CASE per column per row (docs/library-notes.md: slower than saving
row by row on 100,000 rows). On PostgreSQL this sends one
`UPDATE … FROM (VALUES …)` per batch; elsewhere an `executemany`. Raw SQL on table and
column names, so that migrations can use it on their historical models too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BATCH = 1000


def update_rows(connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                pk: str = "id") -> int:
    """`rows` are (pk, value of each column) tuples; returns how many were sent."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = ", ".join(["_pk", *(f"_c{i}" for i in range(len(columns)))])
            sets = ", ".join(f"{quote(column)} = v._c{i}" for i, column in enumerate(columns))
            template = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
            raw = cursor.cursor
            for start in range(0, len(rows), BATCH):
                batch = rows[start:start + BATCH]
                values = b",".join(raw.mogrify(template, tuple(row)) for row in batch).decode("utf-8")
                cursor.execute(f"UPDATE {quote(table)} AS t SET {sets} FROM (VALUES {values}) AS v({names}) "
                               f"WHERE t.{quote(pk)} = v._pk")
        else:
            sets = ", ".join(f"{quote(column)} = %s" for column in columns)
            cursor.executemany(f"UPDATE {quote(table)} SET {sets} WHERE {quote(pk)} = %s",
                               [(*row[1:], row[0]) for row in rows])
    return len(rows)
