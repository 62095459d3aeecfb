"""django-import-export resources generated from the same column spec as the fast
engine, for the Django admin's import/export buttons.

One spec, two paths: `resource_for(kind)` builds a `ModelResource` whose fields carry
the Chinese headers, parse cells with the spec's parsers, escape formulas on export
and resolve codes only within the importing user's writable territory. The admin path
is django-import-export's row-by-row import: fine for the small corrections an admin
makes there; large files go through /imports/ (the set-based engine).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from import_export import fields, resources, widgets

from zhoukou_grid.core.importing.headers import normalise_header
from zhoukou_grid.core.importing.parsers import CellError, escape_formula, is_empty
from zhoukou_grid.core.importing.spec import Column, ImportKind
from zhoukou_grid.core.scoping import writable_for_user


class SpecWidget(widgets.Widget):
    """Cleans with the column's parser; renders with formula escaping."""

    def __init__(self, column: Column, **kwargs):
        self.column = column
        super().__init__(**kwargs)

    def clean(self, value, row=None, **kwargs):
        if is_empty(value):
            return None
        try:
            return self.column.parser(value)
        except CellError as error:
            raise ValueError(error.message) from None

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return escape_formula(value) if isinstance(value, str) else value


class ScopedForeignKeyWidget(widgets.ForeignKeyWidget):
    """A code resolved among the rows the importing user may write (others are unknown)."""

    user: Any = None

    def get_queryset(self, value, row, *args, **kwargs):
        user = kwargs.get("user") or self.user
        if user is None or not hasattr(self.model, "territory_paths"):
            return super().get_queryset(value, row, *args, **kwargs)
        return writable_for_user(user, self.model)


class ScopedManyToManyWidget(widgets.ManyToManyWidget):
    user: Any = None

    def clean(self, value, row=None, **kwargs):
        queryset = super().clean(value, row, **kwargs)
        if self.user is not None:
            queryset = queryset & writable_for_user(self.user, self.model)
        return queryset


class SpecModelResource(resources.ModelResource):
    """Base of the generated resources: takes `user` to scope lookups, and accepts the
    headers the fast engine accepts (normalised, English, synonyms)."""

    kind: ImportKind

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        for field in self.fields.values():
            if isinstance(field.widget, ScopedForeignKeyWidget | ScopedManyToManyWidget):
                field.widget.user = user

    def before_import(self, dataset, **kwargs):
        lookup = self.kind.header_lookup()
        headers = {column.key: column.header for column in self.kind.columns}
        dataset.headers = [headers.get(lookup.get(normalise_header(h)), h) for h in dataset.headers or []]
        super().before_import(dataset, **kwargs)


def _field_for(kind: ImportKind, column: Column) -> fields.Field:
    lookups = {lookup.column: lookup for lookup in kind.lookups}
    if column.key in lookups:
        lookup = lookups[column.key]
        return fields.Field(attribute=lookup.target.removesuffix("_id"), column_name=column.header,
                            widget=ScopedForeignKeyWidget(lookup.model, field=lookup.field))
    if column.field:
        return fields.Field(attribute=column.field, column_name=column.header, widget=SpecWidget(column))
    related = _RELATED.get((kind.name, column.key))
    if related is not None:
        attribute, widget = related()
        return fields.Field(attribute=attribute, column_name=column.header, widget=widget)
    # Context columns such as the county name of a station: exported, not imported.
    return fields.Field(attribute=column.export or None, column_name=column.header, readonly=True,
                        widget=SpecWidget(column))


def _county_widget():
    from zhoukou_grid.territory.models import County

    return "county", ScopedForeignKeyWidget(County, field="code")


def _village_widget():
    from zhoukou_grid.territory.models import Village

    return "village", ScopedForeignKeyWidget(Village, field="code")


def _manager_widget():
    return "manager", widgets.ForeignKeyWidget(get_user_model(), field="username")


def _ties_widget():
    from zhoukou_grid.territory.models import Transformer

    return "ties", ScopedManyToManyWidget(Transformer, field="code", separator=",")


_RELATED = {
    ("stations", "county_code"): _county_widget,
    ("households", "village_code"): _village_widget,
    ("grids", "manager"): _manager_widget,
    ("transformers", "tie_codes"): _ties_widget,
}


@cache
def resource_for(kind: ImportKind) -> type[SpecModelResource]:
    """The django-import-export resource of a kind, generated from its column spec."""
    attrs: dict[str, Any] = {column.key: _field_for(kind, column) for column in kind.columns}
    keys = [column.key for column in kind.columns]
    meta = type("Meta", (), {
        "model": kind.model,
        "fields": keys,
        "export_order": keys,
        "import_id_fields": [kind.key_column],
        "skip_unchanged": True,
        "report_skipped": True,
        "clean_model_instances": True,
        "name": str(kind.verbose_name),
    })
    attrs.update({"Meta": meta, "kind": kind, "__module__": __name__})
    return type(f"{kind.model.__name__}SpecResource", (SpecModelResource,), attrs)
