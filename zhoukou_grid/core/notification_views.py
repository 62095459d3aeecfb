"""The user's own notifications: a paged list (unread first), one notification, and
marking one or all read. Only the recipient's rows are ever read (`notifications_for`);
someone else's notification answers 404 like a missing one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import DetailView, ListView

from zhoukou_grid.core.models import Notification
from zhoukou_grid.core.notifications import notification_get_or_404, notifications_for, notifications_mark_read


def _safe_link(request, url: str) -> str | None:
    """The notification's link if it stays on this site (never an open redirect)."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


class NotificationListView(LoginRequiredMixin, ListView):
    model = Notification
    template_name = "portal/notifications.html"
    paginate_by = 20

    def get_queryset(self):
        unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
        return notifications_for(self.request.user).alias(unread=unread).order_by("-unread", "-created_at", "-pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = _("Notifications")
        context["unread_total"] = notifications_for(self.request.user).filter(read_at__isnull=True).count()
        return context


class NotificationDetailView(LoginRequiredMixin, DetailView):
    model = Notification
    template_name = "portal/notifications.html"

    def get_object(self, queryset=None):
        return notification_get_or_404(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.object.title
        context["link"] = _safe_link(self.request, self.object.url)
        return context


@require_POST
@login_required
def notification_mark_read(request):
    """POST `id` to mark one notification read (with `open` to follow its link), or
    nothing to mark all of them read."""
    raw_id = request.POST.get("id")
    if raw_id:
        notification = notification_get_or_404(request.user, raw_id)
        notifications_mark_read(user=request.user, ids=[notification.pk])
        link = _safe_link(request, notification.url)
        if request.POST.get("open") and link:
            return redirect(link)
        return redirect("portal:notification_list")
    changed = notifications_mark_read(user=request.user)
    if changed:
        messages.success(request, _("All notifications marked read."))
    return redirect("portal:notification_list")
