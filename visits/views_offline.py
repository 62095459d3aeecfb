"""The field pages without signal: the service worker, the outbox page, and the page a
phone shows for a page it did not keep.

The service worker is our own static file (static/js/field_sw.js), served from
/visits/field/sw.js so that its scope covers the field pages. Its URL carries the static
version (`zhoukou_grid.core.webapp.static_version`): a deployment with changed static
files registers a new URL and the phone replaces the worker on its next online page.
What the phone keeps and for how long: docs/security.md, "The phone's copy".
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from zhoukou_grid.core.webapp import static_version

from .models import Visit
from .photos import DEFAULT_MAX_BYTES, MAX_LONG_SIDE

SERVICE_WORKER = "js/field_sw.js"
# What every kept page needs to open offline (the pages link them through base.html).
KEPT_ASSETS = ("css/portal.css", "css/visits_field.css", "js/portal.js", "js/visit_log.js",
               "vendor/idb/idb-8.0.4.umd.js", "js/outbox.js", "js/offline.js", "img/favicon.svg")


def day_max_age() -> int:
    """Seconds the phone keeps a day: the longest a session lasts (a field day)."""
    return settings.SESSION_ABSOLUTE_TIMEOUT


def service_worker_url() -> str:
    query = urlencode({"v": static_version(), "idb": static("vendor/idb/idb-8.0.4.umd.js"),
                       "outbox": static("js/outbox.js"), "offline": reverse("visits:field_offline"),
                       "max_age": day_max_age()})
    return f"{reverse('visits:field_sw')}?{query}"


def offline_context(keep_pages: list[str] | None = None) -> dict:
    """What a field page tells offline.js: the worker to register, and on "today" what to keep."""
    keep = None
    if keep_pages is not None:
        keep = [*keep_pages, reverse("visits:field_outbox"), reverse("visits:field_offline"),
                *(static(name) for name in KEPT_ASSETS)]
    return {
        "sw_url": service_worker_url(),
        "sw_scope": reverse("visits:field_today").rsplit("/", 2)[0] + "/",
        "keep_urls": keep,
        "budget_bytes": settings.OFFLINE_STORAGE_BUDGET_BYTES,
        "photo_max_side": MAX_LONG_SIDE,
        "photo_max_bytes": DEFAULT_MAX_BYTES,
    }


def today_keep_pages(visits: list[Visit]) -> list[str]:
    """Only what the day's visits need: "today" and the log form of each visit still to do."""
    return [reverse("visits:field_today"),
            *(reverse("visits:field_visit_log", args=[visit.pk]) for visit in visits
              if visit.status == Visit.Status.PLANNED)]


@login_not_required  # the browser checks for a new worker even after the session ended
@never_cache
def service_worker(request):
    path = finders.find(SERVICE_WORKER)
    if not path:
        raise Http404
    with open(path, "rb") as handle:
        body = handle.read()
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")


class OutboxView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """Visit logs kept on this phone: waiting, sent and refused, with times (filled in by offline.js)."""

    permission_required = "visits.add_visitlog"
    template_name = "visits/field/outbox.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "offline": offline_context(),
                "login_url": f"{reverse('login')}?{urlencode({'next': self.request.path})}"}


class OfflinePageView(LoginRequiredMixin, TemplateView):
    """Shown by the phone, without signal, for a page it did not keep."""

    template_name = "visits/field/offline.html"
