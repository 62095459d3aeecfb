"""The public pages a service card's QR code opens: no account, Chinese, made for a phone.

`/c/<token>/` shows the grid manager's name and work phone, the station and the 95598
line, and takes a request (category, village of the card's grid, text, callback phone, one
photo). `/c/status/` answers a request's status for its reference and the last 4 digits of
the callback phone. Every request is counted per address (and the requests left per card)
in the cache; over the limit a friendly 429 page answers. A tampered or unknown token
answers a friendly 404 page, an expired one a 410 page with the 95598 line.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from zhoukou_grid.core.proxy import client_ip
from zhoukou_grid.core.throttle import throttle_hit
from zhoukou_grid.core.views import display_name
from zhoukou_grid.territory.cards import TokenState, card_token_resolve
from zhoukou_grid.territory.models import Village, work_phones

from .card_requests import DESCRIPTION_MAX_CHARS, card_request_create, card_request_find
from .models import CardRequest, CustomerIssue
from .photos import photo_max_bytes, photo_prepare

SERVICE_LINE = "95598"
RECEIVED_SALT = "visits.card.received"
RECEIVED_MAX_AGE = 3600
# The whole POST (fields and photo) may not pass the photo's limit by more than this.
FORM_OVERHEAD_BYTES = 64 * 1024


def _render(request, template: str, context: dict, status: int = 200):
    """A public page: the portal's frame without its menu, for a signed-in reader too."""
    return render(request, template, {**context, "public_page": True}, status=status)


def _limit(scope: str) -> tuple[int, int]:
    return settings.CARD_THROTTLE[scope]


def _throttled(request, scope: str, ident: str) -> bool:
    limit, window = _limit(scope)
    return throttle_hit(f"card-{scope}", ident, limit=limit, window=window)


def _too_many(request):
    response = _render(request, "visits/card/too_many.html", {"service_line": SERVICE_LINE}, status=429)
    response["Retry-After"] = str(_limit("address")[1])
    return response


class CardRequestForm(forms.Form):
    category = forms.ChoiceField(label=gettext_lazy("What is it about?"), choices=CustomerIssue.Category.choices)
    village = forms.ModelChoiceField(label=gettext_lazy("Village"), queryset=Village.objects.none(), required=False,
                                     empty_label=gettext_lazy("Choose your village"))
    description = forms.CharField(label=gettext_lazy("Your request"), max_length=DESCRIPTION_MAX_CHARS,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    phone = forms.CharField(label=gettext_lazy("Phone to call you back"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    photo = forms.FileField(label=gettext_lazy("Photo (optional)"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
    # The honeypot: hidden from people by CSS, filled in by form-filling robots.
    website = forms.CharField(required=False, label=gettext_lazy("Leave this empty"))

    def __init__(self, *args, grid, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = Village.objects.filter(grid_id=grid.pk).order_by("code")


def _public_context(token):
    grid = token.grid
    manager = grid.manager
    return {
        "grid": grid,
        "station": grid.station.name,
        "manager_name": display_name(manager) if manager else "",
        "manager_phone": work_phones([manager.pk]).get(manager.pk, "") if manager else "",
        "service_line": SERVICE_LINE,
    }


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def card_public(request, token):
    if _throttled(request, "address", client_ip(request) or ""):
        return _too_many(request)
    resolved = card_token_resolve(token)
    if resolved.state is TokenState.UNKNOWN:
        return _render(request, "visits/card/unknown.html", {"service_line": SERVICE_LINE}, status=404)
    if resolved.state is TokenState.EXPIRED:
        return _render(request, "visits/card/expired.html", {"service_line": SERVICE_LINE}, status=410)
    card_token = resolved.token
    context = _public_context(card_token)
    if request.method == "GET":
        return _render(request, "visits/card/public.html", {**context, "form": CardRequestForm(grid=card_token.grid)})
    if (_throttled(request, "address_posts", client_ip(request) or "")
            or _throttled(request, "token_posts", card_token.key)):
        return _too_many(request)
    if int(request.META.get("CONTENT_LENGTH") or 0) > photo_max_bytes() + FORM_OVERHEAD_BYTES:
        return _render(request, "visits/card/public.html",
                      {**context, "form": CardRequestForm(grid=card_token.grid),
                       "too_large": photo_max_bytes() // 2**20}, status=413)
    form = CardRequestForm(request.POST, request.FILES, grid=card_token.grid)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        if data["website"]:
            # A robot: nothing is recorded, and it is not told why.
            form.add_error(None, _("The request could not be sent. Call %(line)s.") % {"line": SERVICE_LINE})
        else:
            try:
                photo = photo_prepare(data["photo"].read()) if data["photo"] else None
                created = card_request_create(
                    card_token=card_token, category=data["category"],
                    village_id=data["village"].pk if data["village"] else None,
                    description=data["description"], phone=data["phone"], photo=photo)
            except ValidationError as error:
                # photo_prepare raises a plain list (about the photo), the service a dict by field.
                errors = error.error_dict if hasattr(error, "error_dict") else {"photo": error.error_list}
                for field, messages in errors.items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            except OSError:
                form.add_error("photo", _("The photo could not be stored. Send the request without it."))
            else:
                signed = signing.dumps(created.reference, salt=RECEIVED_SALT, compress=False)
                return redirect("card:received", signed=signed)
    return _render(request, "visits/card/public.html", {**context, "form": form}, status=status)


@login_not_required
@never_cache
@require_http_methods(["GET"])
def card_received(request, signed):
    """After a request is left: its reference (the link is signed and lasts an hour)."""
    if _throttled(request, "address", client_ip(request) or ""):
        return _too_many(request)
    try:
        reference = signing.loads(signed, salt=RECEIVED_SALT, max_age=RECEIVED_MAX_AGE)
    except signing.BadSignature:
        return _render(request, "visits/card/unknown.html", {"service_line": SERVICE_LINE}, status=404)
    return _render(request, "visits/card/received.html", {"reference": reference, "service_line": SERVICE_LINE})


class StatusForm(forms.Form):
    reference = forms.CharField(label=gettext_lazy("Reference"), max_length=32)
    last4 = forms.CharField(label=gettext_lazy("Last 4 digits of the callback phone"), min_length=4, max_length=4,
                            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def card_status(request):
    """A request's status for its reference plus the callback phone's last 4 digits. A wrong
    pair and an unknown reference get the same answer; look-ups are throttled per address."""
    ip = client_ip(request) or ""
    if _throttled(request, "address", ip):
        return _too_many(request)
    context = {"service_line": SERVICE_LINE, "form": StatusForm(initial={"reference": request.GET.get("r", "")[:32]})}
    if request.method == "POST":
        if _throttled(request, "status", ip):
            return _too_many(request)
        form = StatusForm(request.POST)
        context["form"] = form
        found: CardRequest | None = None
        if form.is_valid():
            found = card_request_find(reference=form.cleaned_data["reference"], last4=form.cleaned_data["last4"])
        if found is None:
            context["not_found"] = True
        else:
            issue = found.issue
            context["found"] = {
                "reference": found.reference,
                "category": issue.get_category_display(),
                "village": issue.village.name if issue.village else "",
                "status": issue.get_status_display(),
                "status_code": issue.status,
                "raised_at": issue.raised_at,
                "due_at": issue.due_at,
                "resolved_at": issue.resolved_at,
                "description": issue.description,
            }
    return _render(request, "visits/card/status.html", context)
