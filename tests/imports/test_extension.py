"""A later issue adds its kind to the same machinery: a composite key, its own lookups
and its own checks. Exercised here with a small kind over transformer tie pairs."""

from __future__ import annotations

import pytest

from tests.imports.conftest import xlsx_bytes
from zhoukou_grid.core.importing import parsers
from zhoukou_grid.core.importing.engine import ImportContext, run_import
from zhoukou_grid.core.importing.spec import Column, ImportKind, Lookup
from zhoukou_grid.territory.models import Transformer

pytestmark = pytest.mark.django_db
Tie = Transformer.ties.through


class TiePairKind(ImportKind):
    name = "tie_pairs"
    model = Tie
    key_column = "from_code"
    key_fields = ("from_transformer_id", "to_transformer_id")
    columns = (
        Column("from_code", "台区A", required=True, parser=parsers.code(32)),
        Column("to_code", "台区B", required=True, parser=parsers.code(32)),
    )
    lookups = (
        Lookup("from_code", Transformer, "from_transformer_id"),
        Lookup("to_code", Transformer, "to_transformer_id"),
    )

    def row_key(self, row):
        return (row.values.get("from_code"), row.values.get("to_code"))

    def key_values(self, row):
        return {name: row.resolved[name] for name in self.key_fields}

    def clean_rows(self, ctx, rows):
        for row in rows:
            if row.values["from_code"] == row.values["to_code"]:
                row.add_error("to_code", "A transformer cannot be tied to itself.")


def test_a_kind_with_a_composite_key_and_its_own_checks(world):
    a1, a2, a3 = (world.grids[g].transformer for g in ("a1", "a2", "a3"))
    kind = TiePairKind()
    rows = [["台区A", "台区B"], [a1.code, a2.code], [a2.code, a3.code], [a3.code, a3.code], [a1.code, a2.code]]
    result = run_import(kind, xlsx_bytes(rows), ctx=ImportContext())
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "台区A"), (4, "台区B"), (5, "台区A")]
    assert "rows 2, 5" in result.errors[0]["message"]
    result = run_import(kind, xlsx_bytes(rows[:3]), ctx=ImportContext())
    assert result.written and result.counts == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert set(Tie.objects.values_list("from_transformer_id", "to_transformer_id")) == {(a1.pk, a2.pk), (a2.pk, a3.pk)}
    again = run_import(kind, xlsx_bytes([rows[0], rows[1], [a3.code, a1.code]]), ctx=ImportContext())
    assert again.counts == {"new": 1, "updated": 0, "unchanged": 1, "rejected": 0}
    assert Tie.objects.count() == 3
