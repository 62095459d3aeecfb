"""Generic page views: scoped lists and details, their fields and sections, the
login lock-out page.

Every queryset starts from `for_user`; a detail page fetches its object through
`get_for_user_or_404`, so another territory's object is a 404 exactly like a missing one.
Each list/detail view declares `model`, which the outsider test uses to find the model
behind a URL.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import DetailView, ListView

from zhoukou_grid.core.scoping import for_user, get_for_user_or_404
from zhoukou_grid.core.tables import Column, build_table, resolve_sort

CHILD_ROWS = 50
MAX_FILTER_CHOICES = 500


def url_of(name: str, attr: str = "pk"):
    """A link builder for a column: the detail page `name` of the object at `attr`."""

    def link(obj):
        target = obj
        for part in attr.split(".")[:-1]:
            target = getattr(target, part, None)
            if target is None:
                return None
        pk = getattr(target, attr.split(".")[-1], None)
        return reverse(name, args=[pk]) if pk is not None else None

    return link

def display_name(user) -> str:
    """The name to greet a user with: Chinese names family name first and unspaced (王建国)."""
    first, last = user.first_name.strip(), user.last_name.strip()
    if first and last and all(ord(char) > 0x2E7F for char in first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part) or user.get_username()


@dataclass(frozen=True)
class Field:
    label: Any
    value: Any
    url: str | None = None


@dataclass
class Section:
    """A child table on a detail page, with a link to the full, filtered list."""

    title: Any
    table: Any
    total: int
    more_url: str | None = None


# --- Lists and details -----------------------------------------------------------------


class ScopedPermissionMixin(PermissionRequiredMixin):
    """Viewing a kind of object needs its Django view permission; the rows come from `for_user`."""

    def get_permission_required(self):
        opts = self.model._meta
        return [f"{opts.app_label}.view_{opts.model_name}"]


class ScopedListView(ScopedPermissionMixin, ListView):
    """A filtered, searchable, sortable, paged list of the rows the user may see."""

    template_name = "portal/object_list.html"
    paginate_by = 50
    filterset_class = None
    columns: list[Column] = []
    default_sort = "code"
    select_related: tuple[str, ...] = ()
    import_kind: str | None = None  # the import/export kind of this list, if any
    search_hint = _("Search by code or name")

    def annotate(self, queryset):
        return queryset

    def base_queryset(self):
        return for_user(self.request.user, self.model)

    def get_queryset(self):
        queryset = self.annotate(self.base_queryset().select_related(*self.select_related))
        self.filterset = self.filterset_class(self.get_filterset_data() or None, queryset=queryset,
                                              request=self.request)
        self.limit_choice_widgets(self.filterset.form)
        self.active_sort, order_by = resolve_sort(self.get_columns(), self.request.GET.get("sort"), self.default_sort)
        return self.filterset.qs.order_by(*order_by)

    def get_columns(self) -> list[Column]:
        return self.columns

    def get_filterset_data(self):
        """The filters' values: the query string (a list may add its defaults)."""
        return self.request.GET

    def limit_choice_widgets(self, form) -> None:
        """Drop a drop-down that would list thousands of rows (a county has ~6,000 transformers).

        The filter still works when a link sets it (e.g. "all households of this
        transformer"); the form then carries the value as a hidden field.
        """
        for field in form.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and queryset.count() > MAX_FILTER_CHOICES:
                field.widget = forms.HiddenInput()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        opts = self.model._meta
        filters_active = any(
            value for key, value in self.request.GET.items() if key in self.filterset.filters and key != "q"
        )
        context.update(
            title=opts.verbose_name_plural,
            table=build_table(self.get_columns(), context["object_list"], self.active_sort),
            filterset=self.filterset,
            filters_active=filters_active,
            search_value=self.request.GET.get("q", ""),
            search_hint=self.search_hint,
            # Phones show rows as cards without headers: sorting is also offered as a choice.
            sort_options=[
                (f"{prefix}{column.key}", f"{column.header} {arrow}")
                for column in self.get_columns() if column.sort
                for prefix, arrow in (("", "↑"), ("-", "↓"))
            ],
            active_sort=self.active_sort,
            import_kind=self.import_kind,
            can_import=self._can_import(user),
            can_export=bool(self.import_kind) and user.has_perm(f"{opts.app_label}.view_{opts.model_name}"),
        )
        return context


    def _can_import(self, user) -> bool:
        """The kind's own verbs decide (a grid manager imports their villages' residents)."""
        if not self.import_kind:
            return False
        from zhoukou_grid.core.importing.spec import get_kind  # the importing package builds on these views

        try:
            return get_kind(self.import_kind).may_import(user)
        except LookupError:
            return False


class ScopedDetailView(ScopedPermissionMixin, DetailView):
    """One object of the user's territory and its children, themselves scoped."""

    template_name = "portal/object_detail.html"
    select_related: tuple[str, ...] = ()
    list_url_name: str = ""

    def get_object(self, queryset=None):
        queryset = self.model._default_manager.select_related(*self.select_related)
        return get_for_user_or_404(self.request.user, queryset, pk=self.kwargs["pk"])

    def get_fields(self, obj) -> list[Field]:
        return []

    def get_sections(self, obj) -> list[Section]:
        return []

    def get_lineage(self, obj) -> list[tuple[str, str]]:
        """Where the object sits in the territory, top down: (name, url) of each ancestor."""
        return []

    def section(self, title, columns, queryset, more_url=None) -> Section:
        """A child table: the first CHILD_ROWS rows and the total."""
        rows = list(queryset[: CHILD_ROWS + 1])
        total = len(rows) if len(rows) <= CHILD_ROWS else queryset.count()
        return Section(title=title, table=build_table(columns, rows[:CHILD_ROWS]), total=total, more_url=more_url)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = context["object"]
        context.update(
            title=str(obj),
            kind=self.model._meta.verbose_name,
            list_url=reverse(self.list_url_name),
            list_title=self.model._meta.verbose_name_plural,
            fields=self.get_fields(obj),
            sections=self.get_sections(obj),
            lineage=self.get_lineage(obj),
        )
        return context


def without(columns: list[Column], *keys: str) -> list[Column]:
    """Columns minus those a child table would repeat from its parent page."""
    return [column for column in columns if column.key not in keys]


def list_url(name: str, **params) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


# Column sets reused by list pages and child tables.
# --- Login throttling ----------------------------------------------------------------------


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login: a page in the user's language, HTTP 429."""
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
