"""Requests left by customers on a service card's public page (issue 15, section 2).

No account stands behind them: the scanned card's token names the grid, and nothing else
the customer types can reach another grid's data. A request becomes a customer issue on
the grid's board (channel "service card scan", the category's target time), owned by the
grid manager and notified to the grid's managers in the app. The customer is given a
reference; the status page answers only for the reference together with the last 4 digits
of the callback phone, and answers a wrong pair exactly like an unknown reference.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from customers.parsing import ValueProblem, mask_phone, parse_mobile
from zhoukou_grid.core import crypto
from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.notifications import notification_send
from zhoukou_grid.territory.models import GridCardToken, Village

from .models import CardRequest, CustomerIssue, IssueEvent
from .photos import PreparedPhoto
from .services import grid_manager_ids, issue_due_at

PHONE_PURPOSE = "card_callback_phone"
# No 0/O, 1/I/L: read out over the phone without mistakes. 31**8 ≈ 8.5e11 references.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_PREFIX = "FW"
REFERENCE_LENGTH = 8
DESCRIPTION_MAX_CHARS = 1000
NOTIFICATION_KIND = "card_request"


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def normalize_reference(value: str) -> str:
    return "".join((value or "").split()).upper()[:32]


def clean_callback_phone(value: str) -> str:
    try:
        return parse_mobile((value or "").strip())
    except ValueProblem:
        raise ValidationError({"phone": _("Enter an 11-digit mobile number.")}) from None


@transaction.atomic
def card_request_create(*, card_token: GridCardToken, category: str, village_id: int | None, description: str,
                        phone: str, photo: PreparedPhoto | None = None) -> CardRequest:
    """Record a customer's request for the grid of the scanned card. The caller has checked
    the token (live or in its grace period); the village must be one of that grid's."""
    grid = card_token.grid
    if category not in CustomerIssue.Category.values:
        raise ValidationError({"category": _("Choose a category.")})
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": _("Describe your request.")})
    if len(description) > DESCRIPTION_MAX_CHARS:
        raise ValidationError({"description": _("At most %(count)d characters.") % {"count": DESCRIPTION_MAX_CHARS}})
    village = None
    if village_id is not None:
        # Only the card's grid's villages: an id of another grid answers like a missing one.
        village = Village.objects.filter(grid_id=grid.pk, pk=village_id).first()
        if village is None:
            raise ValidationError({"village": _("Choose a village of this card.")})
    phone = clean_callback_phone(phone)
    now = timezone.now()
    issue = CustomerIssue(grid=grid, channel=CustomerIssue.Channel.SERVICE_CARD, category=category,
                          description=description, raised_at=now, raised_by=None,
                          due_at=issue_due_at(category, now), owner_id=grid.manager_id, village=village)
    issue.full_clean()
    issue.save()
    IssueEvent.objects.create(issue=issue, to_status=CustomerIssue.Status.OPEN, by=None)
    request = CardRequest(issue=issue, grid=grid, card_token=card_token,
                          phone_enc=crypto.encrypt(phone, purpose=PHONE_PURPOSE), phone_masked=mask_phone(phone))
    if photo is not None:
        request.photo.save(f"request.{photo.extension}", photo.as_file(), save=False)
        request.photo_content_type = photo.content_type
    for _attempt in range(3):
        request.reference = new_reference()
        try:
            with transaction.atomic():
                request.save()
            break
        except IntegrityError:
            request.pk = None
    else:  # pragma: no cover - three collisions in 8.5e11
        raise IntegrityError("no free reference")
    audit_record(user=None, action="card_request.created", object_type="customerissue", object_id=issue.pk,
                 detail={"grid": grid.pk, "category": category, "photo": bool(photo), "token": card_token.pk})
    managers = set(grid_manager_ids([grid.pk]).get(grid.pk, set()))
    if grid.manager_id:
        managers.add(grid.manager_id)
    with translation.override(settings.LANGUAGE_CODE):
        title = _("New request from a service card: %(category)s") % {"category": issue.get_category_display()}
        body = _("%(grid)s · %(village)s · resolve by %(due)s") % {
            "grid": grid.name, "village": village.name if village else "—",
            "due": timezone.localtime(issue.due_at).strftime("%Y-%m-%d %H:%M")}
    notification_send(recipients=sorted(managers), kind=NOTIFICATION_KIND, title=title, body=body,
                      url=reverse("visits:issue_detail", args=[issue.pk]))
    return request


def card_request_find(*, reference: str, last4: str) -> CardRequest | None:
    """The request of `reference` if `last4` are the last 4 digits of its callback phone;
    None otherwise: a wrong pair answers exactly like an unknown reference."""
    reference = normalize_reference(reference)
    last4 = (last4 or "").strip()
    if not reference or len(last4) != 4 or not last4.isdigit():
        return None
    found = (CardRequest.objects.select_related("issue", "grid", "issue__village")
             .filter(reference=reference).first())
    if found is None:
        # Spend about the same work as a found one (a decryption), so timing tells nothing.
        constant_time_compare(last4, "0000")
        return None
    phone = crypto.decrypt(found.phone_enc, purpose=PHONE_PURPOSE)
    return found if constant_time_compare(phone[-4:], last4) else None


def callback_phone(request: CardRequest) -> str:
    """The full callback phone, for a staff reveal (the caller audits it)."""
    return crypto.decrypt(request.phone_enc, purpose=PHONE_PURPOSE)
