"""The hazard and issue boards, their detail pages with the next step, raising an issue,
and the printable service-card sheet.

Every read starts from `for_user`; a detail page gets its object through
`get_for_user_or_404`, so another territory's hazard is a 404 like a missing one. Steps
go through `visits.services`, which refuse a step that skips one with a clear message.
A board costs a fixed number of queries: one count per status, one page per column.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import DetailView, FormView, ListView

from customers.models import ServicePlan
from customers.personal_data import can_reveal
from zhoukou_grid.core import crypto
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.media import protected_file_response
from zhoukou_grid.core.scoping import for_user, get_for_user_or_404
from zhoukou_grid.core.views import ScopedPermissionMixin, display_name
from zhoukou_grid.territory import cards
from zhoukou_grid.territory.models import Grid, Village, work_phones

from . import services
from .card_requests import callback_phone
from .filters import HazardFilterSet, IssueFilterSet
from .forms_boards import HazardPhotoForm, IssueRaiseForm, StepForm
from .models import CardRequest, CustomerIssue, Hazard, Photo
from .photos import photo_prepare
from .selectors import OPEN_ISSUE_STATUSES

COLUMN_ROWS = 50
SERVICE_LINE = "95598"

# The next step from each status: (step name, service, button label).
HAZARD_STEPS = {
    Hazard.Status.FOUND: ("notify", services.hazard_notify, gettext_lazy("Customer notified")),
    Hazard.Status.NOTIFIED: ("rectify", services.hazard_rectify, gettext_lazy("Rectification started")),
    Hazard.Status.RECTIFYING: ("recheck", services.hazard_recheck, gettext_lazy("Re-checked on site: close")),
}
ISSUE_STEPS = {
    CustomerIssue.Status.OPEN: ("start", services.issue_start, gettext_lazy("Start working on it")),
    CustomerIssue.Status.IN_PROGRESS: ("resolve", services.issue_resolve, gettext_lazy("Resolved")),
    CustomerIssue.Status.RESOLVED: ("confirm", services.issue_confirm, gettext_lazy("Confirmed by the customer")),
}
HAZARD_SERVICES = {name: service for name, service, _label in HAZARD_STEPS.values()}
ISSUE_SERVICES = {name: service for name, service, _label in ISSUE_STEPS.values()}


def _messages_of(error: ValidationError) -> list[str]:
    return [str(message) for message in error.messages]


class BoardView(ScopedPermissionMixin, ListView):
    """A kanban of one model: a column per status, filters above, overdue rows flagged.

    On a phone the columns stack; the status filter shows one column only.
    """

    template_name = "visits/boards/board.html"
    filterset_class = None
    statuses: type = None
    select_related: tuple[str, ...] = ("grid__station", "owner")

    def base_queryset(self):
        return for_user(self.request.user, self.model).select_related(*self.select_related)

    def get_queryset(self):
        self.filterset = self.filterset_class(self.request.GET or None, queryset=self.base_queryset(),
                                              request=self.request)
        return self.filterset.qs

    def decorate(self, queryset):
        return queryset

    def is_overdue(self, obj) -> bool:
        raise NotImplementedError

    detail_url_name = ""

    def card_facts(self, row) -> list[tuple[str, str]]:
        """The card's first line: (CSS class, text) pairs."""
        raise NotImplementedError

    def decorate_cards(self, rows: list) -> None:
        """Each card's words, made here once rather than by template tags per card (a board
        shows up to 200 cards: the tags cost more than the queries)."""
        if not rows:
            return
        # One reverse for all the cards: the detail URL with the pk's place kept.
        url = reverse(self.detail_url_name, args=[0]).rsplit("0/", 1)
        for row in rows:
            row.overdue = self.is_overdue(row)
            row.owner_name = display_name(row.owner) if row.owner else ""
            row.url = f"{url[0]}{row.pk}/{url[1]}"
            row.title = Truncator(row.description).chars(60)
            row.facts = self.card_facts(row)

    def get_context_data(self, **kwargs):
        queryset = self.object_list
        counts = dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))
        chosen = self.filterset.form.cleaned_data.get("status") if self.filterset.is_bound and \
            self.filterset.form.is_valid() else None
        columns = []
        for status in self.statuses:
            if chosen and status != chosen:
                continue
            rows = list(self.decorate(queryset.filter(status=status))[:COLUMN_ROWS]) if counts.get(status) else []
            self.decorate_cards(rows)
            columns.append({"status": status, "label": status.label, "total": counts.get(status, 0), "rows": rows})
        filters_active = any(value for key, value in self.request.GET.items() if key in self.filterset.filters)
        return {
            **kwargs,
            "view": self,
            "columns": columns,
            "filterset": self.filterset,
            "filters_active": filters_active,
            "total": sum(counts.values()),
            "shown_limit": COLUMN_ROWS,
            # Translated once for all the cards.
            "responsible_label": _("Responsible"),
            "overdue_label": _("Overdue"),
        }


class HazardBoardView(BoardView):
    model = Hazard
    filterset_class = HazardFilterSet
    statuses = Hazard.Status
    kind = "hazard"
    detail_url_name = "visits:hazard_detail"

    def decorate(self, queryset):
        photos = Count("photos", filter=Q(photos__kind=Photo.Kind.BEFORE))
        after = Count("photos", filter=Q(photos__kind=Photo.Kind.AFTER))
        return queryset.annotate(before_photos=photos, after_photos=after).order_by("deadline", "pk")

    def card_facts(self, hazard) -> list[tuple[str, str]]:
        hazard.photos_text = _("Photos %(before)s before · %(after)s after") % {
            "before": hazard.before_photos, "after": hazard.after_photos}
        return [(f"vb-sev vb-sev-{hazard.severity}", hazard.get_severity_display()),
                ("", f"{_('Rectify by')} {hazard.deadline:%Y-%m-%d}")]

    def is_overdue(self, hazard) -> bool:
        return hazard.status != Hazard.Status.RECHECKED and hazard.deadline < self.today

    def get_context_data(self, **kwargs):
        self.today = timezone.localdate()
        context = super().get_context_data(**kwargs)
        context["title"] = _("Hazards")
        context["subtitle"] = _("Find → notify the customer → rectify → re-check, earliest deadline first")
        return context


class IssueBoardView(BoardView):
    model = CustomerIssue
    filterset_class = IssueFilterSet
    statuses = CustomerIssue.Status
    kind = "issue"
    detail_url_name = "visits:issue_detail"

    def decorate(self, queryset):
        return queryset.order_by("due_at", "pk")

    def card_facts(self, issue) -> list[tuple[str, str]]:
        return [("vb-cat", issue.get_category_display()), ("", issue.get_channel_display()),
                ("", f"{_('Resolve by')} {timezone.localtime(issue.due_at):%Y-%m-%d %H:%M}")]

    def is_overdue(self, issue) -> bool:
        return issue.status in OPEN_ISSUE_STATUSES and issue.due_at < self.now

    def get_context_data(self, **kwargs):
        self.now = timezone.now()
        context = super().get_context_data(**kwargs)
        context["title"] = _("Customer issues")
        context["subtitle"] = _("Open → in progress → resolved → confirmed by the customer, earliest target time first")
        context["can_raise"] = self.request.user.has_perm("visits.add_customerissue")
        return context


def _recorder_name(obj) -> str:
    recorder = getattr(obj, "found_by", None) or getattr(obj, "raised_by", None)
    return display_name(recorder) if recorder else _("The customer (service card)")


class StepDetailView(ScopedPermissionMixin, DetailView):
    """A detail page whose POST takes the next step (or adds a photo) through the services."""

    steps: dict = {}
    step_services: dict = {}
    change_perm = ""
    id_kwarg = ""

    def get_object(self, queryset=None):
        return get_for_user_or_404(self.request.user, self.get_queryset(), pk=self.kwargs["pk"])

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        try:
            self.handle_post(request, obj)
        except ValidationError as error:
            for message in _messages_of(error):
                messages.error(request, message)
        except PermissionDenied:
            messages.error(request, _("Your role may not change this."))
        return HttpResponseRedirect(request.path)

    def handle_post(self, request, obj) -> None:
        form = StepForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("Choose a step."))
        service = self.step_services.get(form.cleaned_data["step"])
        if service is None:
            raise ValidationError(_("There is no such step."))
        service(user=request.user, note=form.cleaned_data["note"], **{self.id_kwarg: obj.pk})
        messages.success(request, _("Saved."))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = self.object
        next_step = self.steps.get(obj.status)
        can_change = self.request.user.has_perm(self.change_perm)
        events = list(obj.events.select_related("by"))
        for event in events:
            event.by_name = display_name(event.by) if event.by else _("The customer (service card)")
        context.update(
            next_step={"name": next_step[0], "label": next_step[2]} if next_step and can_change else None,
            step_form=StepForm(),
            events=events,
            owner_name=display_name(obj.owner) if obj.owner else "",
            recorder_name=_recorder_name(obj),
        )
        return context


class HazardDetailView(StepDetailView):
    model = Hazard
    template_name = "visits/boards/hazard_detail.html"
    steps = HAZARD_STEPS
    step_services = HAZARD_SERVICES
    change_perm = "visits.change_hazard"
    id_kwarg = "hazard_id"

    def get_queryset(self):
        return Hazard.objects.select_related("grid__station", "owner", "found_by", "household", "key_customer",
                                             "village")

    def handle_post(self, request, hazard) -> None:
        if "image" not in request.FILES:
            return super().handle_post(request, hazard)
        form = HazardPhotoForm(request.POST, request.FILES)
        if not form.is_valid():
            raise ValidationError([message for errors in form.errors.values() for message in errors])
        # Checked and re-encoded by its pixels like a visit log's photo: no EXIF (GPS) kept, and
        # a file that only starts like an image (a polyglot) is refused.
        prepared = photo_prepare(form.cleaned_data["image"].read())
        try:
            services.photo_add(user=request.user, file=prepared.as_file(), kind=form.cleaned_data["kind"],
                               hazard_id=hazard.pk)
        except OSError:  # the file is written before any row: nothing else changed
            raise ValidationError(_("The photo could not be stored (the server's storage is full or not "
                                    "writable). Nothing was changed: try again later.")) from None
        messages.success(request, _("Photo added."))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        hazard = self.object
        photos = list(hazard.photos.all())
        context.update(
            title=str(hazard),
            overdue=hazard.status != Hazard.Status.RECHECKED and hazard.deadline < timezone.localdate(),
            before_photos=[photo for photo in photos if photo.kind == Photo.Kind.BEFORE],
            after_photos=[photo for photo in photos if photo.kind == Photo.Kind.AFTER],
            photo_form=HazardPhotoForm() if self.request.user.has_perm("visits.add_photo") else None,
            board_url=reverse("visits:hazard_board"),
            kind="hazard",
        )
        return context


class IssueDetailView(StepDetailView):
    model = CustomerIssue
    template_name = "visits/boards/issue_detail.html"
    steps = ISSUE_STEPS
    step_services = ISSUE_SERVICES
    change_perm = "visits.change_customerissue"
    id_kwarg = "issue_id"

    def get_queryset(self):
        return CustomerIssue.objects.select_related("grid__station", "owner", "raised_by", "household",
                                                    "key_customer", "village", "card_request")

    def post(self, request, *args, **kwargs):
        if "reveal_phone" not in request.POST:
            return super().post(request, *args, **kwargs)
        # The customer's callback phone, in full, once: personal data, so audited and not cached.
        self.object = self.get_object()
        card_request = getattr(self.object, "card_request", None)
        if card_request is None or not can_reveal(request.user):
            raise PermissionDenied
        audit_record(user=request.user, action="card_request.phone_revealed", object_type="customerissue",
                     object_id=self.object.pk)
        context = self.get_context_data(object=self.object, revealed_phone=callback_phone(card_request))
        response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        issue = self.object
        card_request = getattr(issue, "card_request", None)
        if card_request is not None:
            context.update(card_request=card_request, can_reveal_phone=can_reveal(self.request.user),
                           card_photo_url=reverse("visits:card_request_photo", args=[card_request.pk])
                           if card_request.photo else "")
        context.update(
            title=str(issue),
            overdue=issue.status in OPEN_ISSUE_STATUSES and issue.due_at < timezone.now(),
            board_url=reverse("visits:issue_board"),
            kind="issue",
        )
        return context


class IssueRaiseView(PermissionRequiredMixin, FormView):
    """Record an issue that came by phone or the hotline."""

    permission_required = "visits.add_customerissue"
    form_class = IssueRaiseForm
    template_name = "visits/boards/issue_raise.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            issue = services.issue_open(
                user=self.request.user, grid_id=data["grid"].pk, channel=data["channel"], category=data["category"],
                description=data["description"], village_id=data["village"].pk if data["village"] else None)
        except ValidationError as error:
            for field, errors in getattr(error, "error_dict", {"__all__": error.error_list}).items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
            return self.form_invalid(form)
        messages.success(self.request, _("The issue is recorded; resolve it by %(due)s.")
                         % {"due": timezone.localtime(issue.due_at).strftime("%Y-%m-%d %H:%M")})
        return HttpResponseRedirect(reverse("visits:issue_detail", args=[issue.pk]))


# --- Service cards ---------------------------------------------------------------------

def manager_phones(manager_ids, *, reveal: bool) -> dict[int, str]:
    """Each grid manager's phone as printed on their latest customer plan, for a manager
    without a work phone on their profile: one query for all of them. That phone is personal
    data (docs/personal-data.md): in full only when `reveal` (the caller audits it), else masked."""
    latest: dict[int, tuple[str, str]] = {}
    rows = (ServicePlan.objects.filter(responsible_id__in=list(manager_ids)).exclude(responsible_phone_enc="")
            .order_by("responsible_id", "-created_at", "-pk")
            .values_list("responsible_id", "responsible_phone_enc", "responsible_phone_masked"))
    for manager_id, token, masked in rows:
        latest.setdefault(manager_id, (token, masked))
    return {manager_id: crypto.decrypt(token, purpose="responsible_phone") if reveal else masked
            for manager_id, (token, masked) in latest.items()}


class ServiceCardSheetView(ScopedPermissionMixin, ListView):
    """An A4 sheet of cut-out service cards per grid manager of the user's grids (print CSS).

    `?grid=<id>` prints one grid's sheet only.
    """

    model = Grid
    template_name = "visits/boards/cards_sheet.html"
    cards_per_sheet = 8

    def get_queryset(self):
        grids = (for_user(self.request.user, Grid, include_context=False).filter(manager__isnull=False)
                 .select_related("station", "manager").order_by("station__code", "code")
                 .prefetch_related(Prefetch("villages", queryset=Village.objects.order_by("code"),
                                            to_attr="village_list")))
        grid_id = self.request.GET.get("grid", "")
        if grid_id.isdigit():
            grids = grids.filter(pk=int(grid_id))
        return grids

    def post(self, request):
        """"Reprint with a new QR code": the grid's cards get a new token; the old one keeps
        working for CARD_TOKEN_GRACE_DAYS, then answers "card expired". County admins and
        station staff; a grid outside their territory answers 404."""
        grid_id = request.POST.get("grid", "")
        if not cards.can_rotate(request.user):
            raise PermissionDenied
        if not grid_id.isdigit():
            raise Http404
        cards.card_token_rotate(user=request.user, grid_id=int(grid_id))
        messages.success(request, _("A new QR code is issued: print the cards again. The old cards keep working "
                                    "for %(days)d days.") % {"days": cards.grace_period().days})
        return HttpResponseRedirect(reverse("visits:service_cards") + f"?grid={int(grid_id)}")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        grids = list(context["object_list"])
        user = self.request.user
        reveal = can_reveal(user)
        # The work phone on the manager's profile is the one number customers are given (the plan
        # sheet and page print the same); a number typed on a plan stands in only without one.
        phones = work_phones({grid.manager_id for grid in grids})
        typed = manager_phones({grid.manager_id for grid in grids} - set(phones), reveal=reveal)
        # The QR code of each grid's cards: its live token (issued at the first print), drawn
        # inline as SVG so the sheet prints offline (zhoukou_grid/territory/cards.py).
        tokens = cards.card_tokens_current(grid.pk for grid in grids)
        if grids:
            # Cards handed to villagers carry the managers' phones: each print is audited.
            audit_record(user=user, action="service_cards.printed", object_type="grid",
                         detail={"grids": [grid.pk for grid in grids][:200], "personal_data": reveal and bool(typed)})
        sheets = []
        for grid in grids:
            card = {
                "grid": grid,
                "manager_name": display_name(grid.manager),
                "phone": phones.get(grid.manager_id) or typed.get(grid.manager_id, ""),
                "station": grid.station.name,
                "villages": [village.name for village in grid.village_list],
            }
            token = tokens[grid.pk]
            sheets.append({"card": card, "slots": range(self.cards_per_sheet),
                           "qr_svg": mark_safe(cards.qr_svg(cards.card_url(token, self.request))),  # noqa: S308 - segno's own SVG
                           "token_since": token.created_at})
        context.update(sheets=sheets, service_line=SERVICE_LINE, title=_("Service cards"),
                       can_rotate=cards.can_rotate(user))
        return context



class CardRequestPhotoView(ScopedPermissionMixin, DetailView):
    """GET the photo a customer left with a service card request (re-encoded, no EXIF), for
    the users who see the issue; outside their territory a 404 like a missing one."""

    model = CardRequest
    http_method_names = ["get", "head"]

    def get(self, request, pk):
        card_request = get_for_user_or_404(request.user, CardRequest, pk=pk)
        if not card_request.photo:
            raise Http404
        return protected_file_response(card_request.photo, content_type=card_request.photo_content_type)
