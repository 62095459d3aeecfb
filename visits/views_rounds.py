"""The round planner and the visit calendar.

- Round list, "new round" (the round and its first target list in one transaction:
  an error anywhere leaves nothing behind), round detail (targets, more targets, the
  scheduler's result: visits per grid manager per day and what did not fit, with why).
- Visit detail with its changes (move, reassign, cancel, missed) through `visits.services`.
- Calendar: a grid manager's day or week; station staff and admins pick a grid manager.

Every read starts from `for_user` (rounds: `rounds_for_user`); another territory's
round or visit is a 404 like a missing one.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from zhoukou_grid.core.scoping import for_user, roles_of, territory_of
from zhoukou_grid.core.views import display_name
from zhoukou_grid.territory.models import Grid, Role

from . import services
from .forms_rounds import (
    RoundCloseForm,
    RoundCreateForm,
    RoundTargetsForm,
    VisitCancelForm,
    VisitMissedForm,
    VisitMoveForm,
    VisitReassignForm,
)
from .models import Round, RoundTarget, Visit
from .views_field import agendas_for

VISIT_ROWS = 200
VISIT_SELECT = ("household__village", "key_customer", "village", "grid", "grid_manager", "round")


def rounds_for_user(user):
    """Rounds the user may see: those of their territory, and for a grid manager the
    rounds over their station or their whole county (the rounds they work in)."""
    territory = territory_of(user)
    own = for_user(user, Round)
    # Station staff and grid managers also work in the rounds over their whole county.
    if territory.everything or not (territory.grid_ids or territory.station_ids):
        return own
    context = Q(station_id__in=territory.context_station_ids) | Q(
        station__isnull=True, county_id__in=territory.context_county_ids)
    return Round.objects.filter(Q(pk__in=own.values("pk")) | context)


def get_round_or_404(user, pk) -> Round:
    try:
        return rounds_for_user(user).select_related("county", "station").get(pk=pk)
    except Round.DoesNotExist:
        raise Http404 from None


def _put_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: per field where the field exists."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def target_label(obj) -> str:
    if obj.household_id:
        return f"{obj.household.name} ({obj.household.account_no})"
    if obj.key_customer_id:
        return f"{obj.key_customer.name} ({obj.key_customer.account_no})"
    return obj.village.name if obj.village_id else ""


def village_of(obj):
    if obj.household_id:
        return obj.household.village
    return obj.village if obj.village_id else None


def _count_of(queryset) -> Subquery:
    """The number of rows of a correlated queryset, as a subquery (0 when none)."""
    return Coalesce(Subquery(queryset.order_by().values("round_id").annotate(n=Count("pk")).values("n")[:1]),
                    Value(0))


class RoundPermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    permission_required = "visits.view_round"


class RoundListView(RoundPermissionMixin, ListView):
    model = Round
    template_name = "visits/rounds/list.html"
    paginate_by = 50

    def get_queryset(self):
        # One subquery per figure: joining targets and visits in one query multiplies the rows
        # (every visit counted once per target). Visits are those the user sees, as on the round page.
        visits = for_user(self.request.user, Visit).filter(round=OuterRef("pk"))
        counts = {f"{status}_count": _count_of(visits.filter(status=status)) for status in Visit.Status.values}
        targets = RoundTarget.objects.filter(round=OuterRef("pk"))
        return (rounds_for_user(self.request.user).select_related("county", "station")
                .order_by("-period_start", "name", "pk")
                .annotate(target_count=_count_of(targets), **counts))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = _("Visit rounds")
        context["can_plan"] = self.request.user.has_perm("visits.add_round")
        return context


class RoundCreateView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = "visits.add_round"
    template_name = "visits/rounds/form.html"

    def get(self, request):
        return self.render(RoundCreateForm(user=request.user))

    def render(self, form, status=200):
        return render(self.request, self.template_name, {"form": form, "title": _("New visit round")}, status=status)

    def post(self, request):
        form = RoundCreateForm(request.POST, request.FILES, user=request.user)
        if not form.is_valid():
            return self.render(form, status=400)
        data = form.cleaned_data
        station = data.get("station")
        try:
            with transaction.atomic():
                rnd = services.round_create(
                    user=request.user, name=data["name"], period_start=data["period_start"],
                    period_end=data["period_end"], daily_capacity=data["daily_capacity"], holidays=data["holidays"],
                    station_id=station.pk if station else None,
                    county_id=None if station else form.counties[0].pk,
                )
                added = services.round_targets_build(
                    user=request.user, round_id=rnd.pk, source=data["source"],
                    village_ids=[v.pk for v in data.get("villages") or []],
                    household_ids=data["household_ids"], key_customer_ids=data["key_customer_ids"],
                )
                if not added:
                    raise ValidationError({"source": _("The target list is empty: nothing of this kind lies in "
                                                       "the round's territory and period.")})
        except ValidationError as exc:
            _put_errors(form, exc)
            return self.render(form, status=400)
        messages.success(request, _("Round opened with %(count)d targets.") % {"count": added})
        return redirect("visits:round_detail", pk=rnd.pk)


def unplaced_targets(rnd: Round):
    """The round's targets the last scheduling found no day for, by grid."""
    return (rnd.targets.exclude(unplaced_reason="")
            .select_related("household__village", "key_customer", "village", "grid")
            .order_by("grid__code", "pk"))


def _round_context(request, rnd: Round, *, targets_form=None, result=None, close_form=None) -> dict:
    """The round page: targets per source, visits per grid manager per day, the visit list."""
    user = request.user
    target_counts = dict(rnd.targets.values_list("source").annotate(n=Count("pk")).order_by())
    sources = [(label, target_counts.get(value, 0)) for value, label in RoundTarget.Source.choices]
    visits = for_user(user, Visit).filter(round=rnd)
    loads = list(visits.filter(status__in=services.LOADING_STATUSES)
                 .values_list("grid_manager_id", "planned_date").annotate(n=Count("pk")).order_by())
    days = sorted({day for _m, day, _n in loads})
    managers = {u.pk: u for u in get_user_model().objects.filter(pk__in={m for m, _d, _n in loads})}
    per_manager: dict[int, dict[date, int]] = defaultdict(dict)
    for manager_id, day, n in loads:
        per_manager[manager_id][day] = n
    matrix = [
        {"name": display_name(managers[m]), "cells": [per_manager[m].get(day, 0) for day in days],
         "total": sum(per_manager[m].values())}
        for m in sorted(per_manager, key=lambda m: display_name(managers[m]))
    ]
    status_counts = dict(visits.values_list("status").annotate(n=Count("pk")).order_by())
    visit_rows = list(visits.select_related(*VISIT_SELECT).order_by("planned_date", "grid_manager_id", "pk")
                      [:VISIT_ROWS])
    for visit in visit_rows:
        visit.target_label = target_label(visit)
        visit.manager_name = display_name(visit.grid_manager)
    # What the last scheduling could not place: kept with the round until it is placed.
    unplaced = [
        {"target": target_label(target), "grid": target.grid.name, "reason": target.get_unplaced_reason_display(),
         "window_start": target.unplaced_window_start, "window_end": target.unplaced_window_end}
        for target in unplaced_targets(rnd)[:VISIT_ROWS]
    ]
    can_plan = user.has_perm("visits.change_round") and rnd.status != Round.Status.CLOSED and (
        Role.GRID_MANAGER not in roles_of(user) or len(roles_of(user)) > 1)
    return {
        "round": rnd, "title": rnd.name, "sources": sources, "target_total": sum(target_counts.values()),
        "days": days, "matrix": matrix, "status_counts": [
            (label, status_counts.get(value, 0)) for value, label in Visit.Status.choices],
        "visits": visit_rows, "visit_total": sum(status_counts.values()), "visit_rows": VISIT_ROWS,
        "can_plan": can_plan, "targets_form": targets_form or RoundTargetsForm(user=user),
        "result": result, "unplaced": unplaced,
        "can_close": can_plan, "close_form": close_form or RoundCloseForm(user=user, round_obj=rnd),
        "next_round": Round.objects.filter(pk=(rnd.summary or {}).get("next_round")).first()
        if (rnd.summary or {}).get("next_round") else None,
    }


class RoundDetailView(RoundPermissionMixin, View):
    """GET shows the round; POST `action=targets` adds targets, `action=schedule` runs the scheduler."""

    model = Round
    template_name = "visits/rounds/detail.html"

    def get(self, request, pk):
        rnd = get_round_or_404(request.user, pk)
        return render(request, self.template_name, _round_context(request, rnd))

    def post(self, request, pk):
        rnd = get_round_or_404(request.user, pk)
        if not request.user.has_perm("visits.change_round"):
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "targets":
            form = RoundTargetsForm(request.POST, request.FILES, user=request.user)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    added = services.round_targets_build(
                        user=request.user, round_id=rnd.pk, source=data["source"],
                        village_ids=[v.pk for v in data.get("villages") or []],
                        household_ids=data["household_ids"], key_customer_ids=data["key_customer_ids"])
                except ValidationError as exc:
                    _put_errors(form, exc)
                else:
                    messages.success(request, _("%(count)d targets added.") % {"count": added})
                    return redirect("visits:round_detail", pk=rnd.pk)
            return render(request, self.template_name, _round_context(request, rnd, targets_form=form), status=400)
        if action == "schedule":
            try:
                result = services.round_schedule(user=request.user, round_id=rnd.pk)
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
                return render(request, self.template_name, _round_context(request, rnd), status=400)
            rnd.refresh_from_db()
            messages.success(request, _("%(created)d visits planned, %(unplaced)d targets did not fit, "
                                        "%(already)d were already planned.") % {
                "created": len(result.created), "unplaced": len(result.unplaced),
                "already": result.already_planned})
            return render(request, self.template_name, _round_context(request, rnd, result=result))
        if action == "close":
            form = RoundCloseForm(request.POST, user=request.user, round_obj=rnd)
            if form.is_valid():
                next_round = form.cleaned_data.get("next_round")
                try:
                    services.round_close(user=request.user, round_id=rnd.pk,
                                         next_round_id=next_round.pk if next_round else None)
                except ValidationError as exc:
                    _put_errors(form, exc)
                else:
                    messages.success(request, _("The round is closed."))
                    return redirect("visits:round_detail", pk=rnd.pk)
            return render(request, self.template_name, _round_context(request, rnd, close_form=form), status=400)
        raise Http404


class RoundUnplacedExportView(RoundPermissionMixin, View):
    """The targets that did not fit, as a spreadsheet to act on (CSV with a BOM: Excel opens it in Chinese)."""

    model = Round

    def get(self, request, pk):
        rnd = get_round_or_404(request.user, pk)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_("Target"), _("Grid"), _("Reason"), _("Window from"), _("Window to")])
        for target in unplaced_targets(rnd):
            writer.writerow([target_label(target), target.grid.name, target.get_unplaced_reason_display(),
                             target.unplaced_window_start or "", target.unplaced_window_end or ""])
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="round-{rnd.pk}-unplaced.csv"'
        return response


# --- One visit ------------------------------------------------------------------------

def _manager_choices(visit: Visit) -> list[tuple[int, str]]:
    ids = services.grid_manager_ids([visit.grid_id]).get(visit.grid_id, set())
    return [(u.pk, display_name(u)) for u in get_user_model().objects.filter(pk__in=ids).order_by("username")]


class VisitDetailView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """A visit, and for a planned one the forms that move, reassign, cancel or miss it."""

    model = Visit
    permission_required = "visits.view_visit"
    template_name = "visits/rounds/visit.html"
    ACTIONS = {"move": VisitMoveForm, "reassign": VisitReassignForm, "cancel": VisitCancelForm,
               "missed": VisitMissedForm}

    def get_visit(self, pk) -> Visit:
        try:
            return for_user(self.request.user, Visit).select_related(*VISIT_SELECT).get(pk=pk)
        except Visit.DoesNotExist:
            raise Http404 from None

    def forms_for(self, visit, bound=None):
        forms = {}
        for name, form_class in self.ACTIONS.items():
            kwargs = {"prefix": name}
            if form_class is VisitReassignForm:
                kwargs["managers"] = _manager_choices(visit)
            forms[name] = bound if bound is not None and bound.prefix == name else form_class(**kwargs)
        return forms

    def render(self, visit, bound=None, status=200):
        visit.target_label = target_label(visit)
        visit.manager_name = display_name(visit.grid_manager)
        can_change = (visit.status == Visit.Status.PLANNED and self.request.user.has_perm("visits.change_visit")
                      and visit.grid_id in set(for_user(self.request.user, Grid, include_context=False)
                                                .filter(pk=visit.grid_id).values_list("pk", flat=True)))
        return render(self.request, self.template_name, {
            "visit": visit, "title": _("Visit"), "village": village_of(visit), "can_change": can_change,
            "forms": self.forms_for(visit, bound) if can_change else {},
            # Shown above the forms too: a visit no longer planned has no forms to show them on.
            "action_errors": list(bound.non_field_errors()) if bound is not None else [],
            "calendar_url": reverse("visits:calendar") + f"?manager={visit.grid_manager_id}&day={visit.planned_date}",
        }, status=status)

    def get(self, request, pk):
        return self.render(self.get_visit(pk))

    def post(self, request, pk):
        visit = self.get_visit(pk)
        action = request.POST.get("action")
        form_class = self.ACTIONS.get(action)
        if form_class is None:
            raise Http404
        kwargs = {"prefix": action}
        if form_class is VisitReassignForm:
            kwargs["managers"] = _manager_choices(visit)
        form = form_class(request.POST, **kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "move":
                    services.visit_move(user=request.user, visit_id=visit.pk, planned_date=data["planned_date"])
                    messages.success(request, _("Visit moved."))
                elif action == "reassign":
                    services.visit_reassign(user=request.user, visit_id=visit.pk,
                                            grid_manager_id=data["grid_manager"])
                    messages.success(request, _("Visit reassigned."))
                elif action == "cancel":
                    services.visit_cancel(user=request.user, visit_id=visit.pk, reason=data["reason"])
                    messages.success(request, _("Visit cancelled."))
                else:
                    _missed, proposed = services.visit_mark_missed(user=request.user, visit_id=visit.pk,
                                                                   reason=data["reason"])
                    if proposed:
                        messages.success(request, _("Visit marked missed and planned again on %(day)s.")
                                         % {"day": proposed.planned_date.isoformat()})
                    else:
                        messages.warning(request, _("Visit marked missed; no free day is left to plan it again."))
                return redirect("visits:visit_detail", pk=visit.pk)
            except ValidationError as exc:
                _put_errors(form, exc)
        return self.render(self.get_visit(pk), bound=form, status=400)


# --- Calendar -------------------------------------------------------------------------

def _calendar_managers(user) -> list:
    """Grid managers the user may pick: those of the grids in their territory."""
    grid_ids = list(for_user(user, Grid, include_context=False).values_list("pk", flat=True))
    ids = set()
    for managers in services.grid_manager_ids(grid_ids).values():
        ids |= managers
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


class CalendarView(LoginRequiredMixin, PermissionRequiredMixin, ListView):
    """A grid manager's visits for a day or a week: their own, or one picked by station staff."""

    model = Visit
    permission_required = "visits.view_visit"
    template_name = "visits/rounds/calendar.html"

    def setup_calendar(self):
        request = self.request
        self.managers = _calendar_managers(request.user)
        by_id = {m.pk: m for m in self.managers}
        try:
            picked = int(request.GET.get("manager", ""))
        except ValueError:
            picked = None
        if picked in by_id:
            self.manager = by_id[picked]
        elif request.user.pk in by_id:
            self.manager = request.user
        else:
            self.manager = self.managers[0] if self.managers else None
        try:
            self.day = date.fromisoformat(request.GET.get("day", ""))
        except ValueError:
            self.day = timezone.localdate()
        self.mode = "day" if request.GET.get("view") == "day" else "week"
        if self.mode == "week":
            self.start = self.day - timedelta(days=self.day.weekday())
            self.end = self.start + timedelta(days=6)
        else:
            self.start = self.end = self.day

    def get_queryset(self):
        self.setup_calendar()
        if self.manager is None:
            return Visit.objects.none()
        return (for_user(self.request.user, Visit)
                .filter(grid_manager=self.manager, planned_date__range=(self.start, self.end))
                .select_related(*VISIT_SELECT).order_by("planned_date", "status", "pk"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        by_day: dict[date, list] = {self.start + timedelta(days=i): [] for i in range((self.end - self.start).days + 1)}
        visits = list(context["object_list"])
        # Per visit what to look at: the plan's agenda, open hazards and issues, residents due (four queries).
        for agenda in agendas_for(self.request.user, visits):
            visit = agenda.visit
            visit.plan_agenda, visit.open_hazards, visit.open_issues, visit.residents_due = (
                agenda.plan_agenda, agenda.hazards, agenda.issues, agenda.residents)
        for visit in visits:
            visit.target_label = target_label(visit)
            visit.village_obj = village_of(visit)
            by_day[visit.planned_date].append(visit)
        step = timedelta(days=7 if self.mode == "week" else 1)
        base = {"manager": self.manager.pk} if self.manager else {}

        def link(**params):
            return "?" + "&".join(f"{k}={v}" for k, v in {**base, "view": self.mode, **params}.items())

        context.update({
            "title": _("Visit calendar"), "days": list(by_day.items()), "mode": self.mode,
            "manager": self.manager, "manager_name": display_name(self.manager) if self.manager else "",
            "managers": [(m.pk, display_name(m)) for m in self.managers] if len(self.managers) > 1 else [],
            "day": self.day, "start": self.start, "end": self.end, "today": timezone.localdate(),
            "prev_url": link(day=(self.day - step).isoformat()), "next_url": link(day=(self.day + step).isoformat()),
            "day_url": link(view="day", day=self.day.isoformat()),
            "week_url": link(view="week", day=self.day.isoformat()),
        })
        return context
