"""Service cards by village: a grid manager records the cards handed out at the village
committee or posted on meter boxes along a street, outside any visit, for a round or none.
The progress report counts them with the cards of visits (`selectors.progress_counts`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from zhoukou_grid.core.scoping import for_user, roles_of, writable_for_user
from zhoukou_grid.territory.models import Grid, Role, Village

from . import services
from .forms_field import ServiceCardsForm
from .models import Round, ServiceCardRecord
from .views_rounds import rounds_for_user

RECENT_ROWS = 30


class ServiceCardsView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """GET: the form and the latest village records; POST records the grid manager's own cards."""

    permission_required = "visits.add_servicecardrecord"
    template_name = "visits/field/cards.html"

    def form(self, data=None):
        user = self.request.user
        managers = None
        if Role.GRID_MANAGER not in roles_of(user):
            # Station staff and admins record on behalf of a grid manager of their grids.
            grid_ids = writable_for_user(user, Grid).values_list("pk", flat=True)
            manager_ids = set().union(*services.grid_manager_ids(grid_ids).values())
            managers = get_user_model().objects.filter(pk__in=manager_ids).order_by("last_name", "first_name",
                                                                                    "username")
        return ServiceCardsForm(
            data,
            villages=writable_for_user(user, Village).select_related("grid").order_by("grid__code", "code"),
            rounds=rounds_for_user(user).exclude(status=Round.Status.CLOSED).order_by("-period_start", "name"),
            managers=managers,
        )

    def render(self, form, status=200):
        records = list(for_user(self.request.user, ServiceCardRecord).filter(village__isnull=False, visit__isnull=True)
                       .select_related("village", "round", "grid_manager").order_by("-date", "-pk")[:RECENT_ROWS])
        return render(self.request, self.template_name, {"form": form, "records": records}, status=status)

    def get(self, request):
        return self.render(self.form())

    def post(self, request):
        form = self.form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                manager = data.get("grid_manager") or request.user
                services.service_cards_record(
                    user=request.user, grid_manager_id=manager.pk, village_id=data["village"].pk,
                    date=data["date"], handed_out=data["handed_out"], posted=data["posted"],
                    round_id=data["round"].pk if data["round"] else None)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, _("%(count)d cards recorded in %(village)s.") % {
                    "count": data["handed_out"] + data["posted"], "village": data["village"].name})
                return redirect("visits:service_cards_record")
        return self.render(form, status=400)
