"""The grid manager's phone pages: "today" with each visit's agenda, the visit log form,
"could not visit", and a submitted log.

Visits come through `for_user` (another grid's visit is a 404 like a missing one); the
writes go through `visits.services`. Photos are checked before the log is written and
stored after it (`visits.photos`), so a storage failure never loses the log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, TemplateView

from customers.models import ReturningResident, ServicePlan
from zhoukou_grid.core.scoping import for_user, get_for_user_or_404

from . import selectors, services
from .forms_field import GUIDANCE_CHOICES, HazardFormSet, IssueFormSet, MissedForm, VisitLogForm
from .models import CustomerIssue, Hazard, Visit, VisitLog
from .photos import PreparedPhoto, photos_attach
from .views_offline import offline_context, today_keep_pages

# Residents of a visited village count as "due" when they arrive within this many days.
ARRIVAL_HORIZON_DAYS = 7
OPEN_HAZARD_STATUSES = (Hazard.Status.FOUND, Hazard.Status.NOTIFIED, Hazard.Status.RECTIFYING)
VISIT_RELATED = ("household__village", "key_customer", "village", "grid")


@dataclass
class Agenda:
    """What a grid manager should look at during one visit."""

    visit: Visit
    plan_agenda: str = ""
    hazards: list = field(default_factory=list)
    issues: list = field(default_factory=list)
    residents: list = field(default_factory=list)


def _target_filter(visits, prefix: str = "") -> Q:
    """Rows about any of the visits' targets (household, key customer or village)."""
    condition = Q(pk__in=[])
    for name in ("household_id", "key_customer_id", "village_id"):
        ids = {getattr(visit, name) for visit in visits if getattr(visit, name)}
        if ids:
            condition |= Q(**{f"{prefix}{name}__in": ids})
    return condition


def residents_due(user, visits, *, today=None):
    """Expected returning residents of the visits' households, and of their villages due soon."""
    today = today or timezone.localdate()
    household_ids = {visit.household_id for visit in visits if visit.household_id}
    village_ids = {visit.village_id for visit in visits if visit.village_id}
    if not household_ids and not village_ids:
        return ReturningResident.objects.none()
    return (
        for_user(user, ReturningResident)
        .filter(status=ReturningResident.Status.EXPECTED)
        .filter(Q(household_id__in=household_ids)
                | Q(village_id__in=village_ids, arrival_date__lte=today + timedelta(days=ARRIVAL_HORIZON_DAYS)))
        .order_by("arrival_date", "name", "pk")
    )


def agendas_for(user, visits: list[Visit]) -> list[Agenda]:
    """Each visit's agenda in four queries whatever the number of visits."""
    agendas = [Agenda(visit, plan_agenda=visit.agenda) for visit in visits]
    if not visits:
        return agendas
    customer_ids = {visit.key_customer_id for visit in visits if visit.key_customer_id}
    plans = dict(
        ServicePlan.objects.filter(customer_id__in=customer_ids, status=ServicePlan.Status.APPROVED)
        .values_list("customer_id", "agenda")
    ) if customer_ids else {}
    by_target = defaultdict(lambda: {"hazards": [], "issues": [], "residents": []})
    hazards = for_user(user, Hazard).filter(_target_filter(visits), status__in=OPEN_HAZARD_STATUSES)
    for hazard in hazards.order_by("deadline", "pk"):
        by_target[hazard.target_key]["hazards"].append(hazard)
    issues = for_user(user, CustomerIssue).filter(_target_filter(visits), status__in=selectors.OPEN_ISSUE_STATUSES)
    for issue in issues.order_by("due_at", "pk"):
        by_target[issue.target_key]["issues"].append(issue)
    for resident in residents_due(user, visits):
        if resident.household_id:
            by_target[f"household:{resident.household_id}"]["residents"].append(resident)
        by_target[f"village:{resident.village_id}"]["residents"].append(resident)
    for agenda in agendas:
        visit = agenda.visit
        if visit.key_customer_id and plans.get(visit.key_customer_id):
            agenda.plan_agenda = plans[visit.key_customer_id]
        found = by_target.get(visit.target_key, {})
        agenda.hazards = found.get("hazards", [])
        agenda.issues = found.get("issues", [])
        agenda.residents = found.get("residents", [])
    return agendas


class TodayView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """A grid manager's visits of today, in order, each with its agenda."""

    model = Visit
    permission_required = "visits.view_visit"
    template_name = "visits/field/today.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        today = timezone.localdate()
        visits = list(
            for_user(user, Visit).filter(grid_manager=user, planned_date=today)
            .exclude(status=Visit.Status.CANCELLED).select_related(*VISIT_RELATED, "log").order_by("pk")
        )
        agendas = agendas_for(user, visits)
        return {
            **super().get_context_data(**kwargs),
            "today": today,
            "agendas": agendas,
            "planned_count": sum(1 for visit in visits if visit.status == Visit.Status.PLANNED),
            "overdue_hazards": selectors.overdue_hazards(user, today=today).count(),
            "overdue_issues": selectors.overdue_issues(user).count(),
            # Opened online, "today" keeps the day on the phone (static/js/offline.js).
            "offline": offline_context(today_keep_pages(visits)),
        }


def _visit(user, pk: int) -> Visit:
    return get_for_user_or_404(user, Visit.objects.select_related(*VISIT_RELATED), pk=pk)


class VisitLogFormView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """The whole visit on one form; submitting it calls `services.visit_log_submit` once."""

    model = Visit
    permission_required = "visits.add_visitlog"
    template_name = "visits/field/log_form.html"

    def get(self, request, pk: int):
        visit = _visit(request.user, pk)
        return self._render(visit, *self._forms(visit))

    def post(self, request, pk: int):
        user = request.user
        visit = _visit(user, pk)
        key = request.POST.get("client_key", "").strip()
        # A retried submit (the answer to the first was lost): the log exists, say so.
        previous = VisitLog.objects.filter(client_key=key, visit=visit).first() if key else None
        if previous is not None:
            messages.info(request, _("This visit log was already saved."))
            return redirect("visits:field_today")
        form, hazard_forms, issue_forms = self._forms(visit, data=request.POST, files=request.FILES)
        if not (form.is_valid() and hazard_forms.is_valid() and issue_forms.is_valid()):
            return self._render(visit, form, hazard_forms, issue_forms, status=400)
        data = form.cleaned_data
        hazards, photos = [], [data["photo"]] if data["photo"] else []
        for hazard_form in hazard_forms:
            if not hazard_form.cleaned_data:
                continue  # an empty slot
            item = hazard_form.cleaned_data
            if item["photo"]:
                photos.append(PreparedPhoto(item["photo"].content, item["photo"].content_type,
                                            item["photo"].extension, hazard_index=len(hazards)))
            hazards.append({"severity": item["severity"], "deadline": item["deadline"],
                            "description": item["description"]})
        issues = [{"category": f.cleaned_data["category"], "description": f.cleaned_data["description"]}
                  for f in issue_forms if f.cleaned_data]
        try:
            log = services.visit_log_submit(
                user=user, visit_id=visit.pk, client_key=data["client_key"], met_person=data["met_person"],
                needs=data["needs"], concerns=data["concerns"], recommendations=data["recommendation_text"],
                guidance=data["guidance"], checklist=data["checklist"], hazards=hazards, issues=issues,
                cards_handed_out=data["cards_handed_out"], cards_posted=data["cards_posted"],
                resident_ids=[resident.pk for resident in data["residents"]],
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
            return self._render(visit, form, hazard_forms, issue_forms, status=400)
        for message in photos_attach(user=user, log=log, photos=photos):
            messages.warning(request, message)
        messages.success(request, _("Visit logged: %(target)s.") % {"target": visit.target})
        return redirect("visits:field_today")

    def _forms(self, visit, data=None, files=None):
        residents = residents_due(self.request.user, [visit])
        return (VisitLogForm(data, files, residents=residents),
                HazardFormSet(data, files, prefix="hazard"),
                IssueFormSet(data, prefix="issue"))

    def _render(self, visit, form, hazard_forms, issue_forms, status=200):
        log = VisitLog.objects.filter(visit=visit).first() if visit.status == Visit.Status.DONE else None
        return render(self.request, self.template_name, {
            "visit": visit, "log": log, "form": form, "hazard_forms": hazard_forms, "issue_forms": issue_forms,
            "agenda": agendas_for(self.request.user, [visit])[0], "offline": offline_context(),
        }, status=status)


class VisitMissedView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """A visit that could not take place: its reason, and the visit proposed again."""

    model = Visit
    permission_required = "visits.change_visit"
    template_name = "visits/field/missed.html"

    def get(self, request, pk: int):
        return render(request, self.template_name, {"visit": _visit(request.user, pk), "form": MissedForm()})

    def post(self, request, pk: int):
        visit = _visit(request.user, pk)
        form = MissedForm(request.POST)
        if form.is_valid():
            try:
                _missed, proposed = services.visit_mark_missed(user=request.user, visit_id=visit.pk,
                                                               reason=form.cleaned_data["reason"])
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                if proposed is not None:
                    messages.success(request, _("Marked as missed; proposed again for %(day)s.")
                                     % {"day": proposed.planned_date.isoformat()})
                else:
                    messages.warning(request, _("Marked as missed; no free day was left to propose it again."))
                return redirect("visits:field_today")
        return render(request, self.template_name, {"visit": visit, "form": form}, status=400)


class VisitLogDetailView(LoginRequiredMixin, PermissionRequiredMixin, DetailView):
    """A submitted visit log, as it was recorded."""

    model = VisitLog
    permission_required = "visits.view_visitlog"
    template_name = "visits/field/log_detail.html"
    context_object_name = "log"

    def get_object(self, queryset=None):
        return get_for_user_or_404(
            self.request.user,
            VisitLog.objects.select_related("visit__household", "visit__key_customer", "visit__village",
                                            "submitted_by")
            .prefetch_related("checklist", "hazards", "issues", "photos", "residents_confirmed"),
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs):
        log = self.object
        return {
            **super().get_context_data(**kwargs),
            "guidance": [label for name, label in GUIDANCE_CHOICES if getattr(log, name)],
            # No card record when none were handed out (the reverse one-to-one raises AttributeError).
            "cards": getattr(log.visit, "cards", None),
            "today_url": reverse("visits:field_today"),
        }
