"""The QR code of a grid's service cards: its token, rotation and the SVG printed offline.

A card's URL is `<CARD_PUBLIC_BASE_URL>/c/<key>.<mac>/`: `key` is random and stored in
`GridCardToken`; `mac` is a keyed HMAC of it (Django's `salted_hmac`, from SECRET_KEY), so
a typed or altered token is refused before the database is asked, and a copy of the
database alone cannot make a working card. The QR code is drawn by segno as inline SVG:
no network, no image file, printed with the page.

Lives in the ground floor because two rooms print it: the service card sheet (visits) and
the key customer's plan sheet (customers). The public page that the code opens is in
visits (`visits/views_card.py`), since it records a customer issue.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import segno
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import get_writable_or_404, roles_of

from .models import Grid, GridCardToken, Role

MAC_SALT = "zhoukou_grid.territory.cards.token"
MAC_CHARS = 16  # 96 bits of HMAC-SHA256, base64url
KEY_BYTES = 12  # 16 base64url characters
# Who may reprint cards with a new code (the old one then runs out after the grace period).
ROTATING_ROLES = {Role.COMPANY_ADMIN, Role.COUNTY_ADMIN, Role.STATION_STAFF}
DEFAULT_GRACE_DAYS = 30


class TokenState(Enum):
    LIVE = "live"
    GRACE = "grace"  # retired, still answered until the grace period ends
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # malformed, tampered or never issued


@dataclass(frozen=True)
class Resolved:
    state: TokenState
    token: GridCardToken | None = None

    @property
    def usable(self) -> bool:
        return self.state in (TokenState.LIVE, TokenState.GRACE)


def grace_period() -> timedelta:
    return timedelta(days=int(getattr(settings, "CARD_TOKEN_GRACE_DAYS", DEFAULT_GRACE_DAYS)))


def _mac(key: str) -> str:
    digest = salted_hmac(MAC_SALT, key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def token_string(card_token: GridCardToken) -> str:
    """What the card's URL carries."""
    return f"{card_token.key}.{_mac(card_token.key)}"


def _new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def card_tokens_current(grid_ids) -> dict[int, GridCardToken]:
    """The live token of each grid; a grid printed for the first time gets one (two queries,
    three for new grids). A concurrent first print is settled by the one-live-token rule."""
    grid_ids = set(grid_ids)
    live = {token.grid_id: token for token in GridCardToken.objects.filter(grid_id__in=grid_ids,
                                                                           retired_at__isnull=True)}
    missing = grid_ids - set(live)
    if missing:
        now = timezone.now()
        GridCardToken.objects.bulk_create(
            [GridCardToken(grid_id=grid_id, key=_new_key(), created_at=now) for grid_id in sorted(missing)],
            ignore_conflicts=True)
        live.update({token.grid_id: token for token in GridCardToken.objects.filter(grid_id__in=missing,
                                                                                   retired_at__isnull=True)})
    return live


def can_rotate(user) -> bool:
    return bool(ROTATING_ROLES & set(roles_of(user))) or getattr(user, "is_superuser", False)


@transaction.atomic
def card_token_rotate(*, user, grid_id: int) -> GridCardToken:
    """Cards are reprinted: a new token for the grid; the old one is retired and keeps working
    for the grace period (CARD_TOKEN_GRACE_DAYS), then answers "card expired"."""
    grid = get_writable_or_404(user, Grid, pk=grid_id, lock=True)
    if not can_rotate(user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    now = timezone.now()
    retired = GridCardToken.objects.filter(grid=grid, retired_at__isnull=True).update(retired_at=now)
    try:
        with transaction.atomic():
            token = GridCardToken.objects.create(grid=grid, key=_new_key(), created_at=now, created_by=user)
    except IntegrityError:  # a key collision (2**-96): try once more
        token = GridCardToken.objects.create(grid=grid, key=_new_key(), created_at=now, created_by=user)
    audit_record(user=user, action="card_token.rotated", object_type="grid", object_id=grid.pk,
                 detail={"retired": retired, "grace_days": grace_period().days})
    return token


def card_token_resolve(value: str) -> Resolved:
    """What a scanned token is: live, in its grace period, expired or unknown (tampered,
    malformed, never issued). The MAC is checked before any query."""
    key, dot, mac = (value or "").partition(".")
    if not dot or not key or len(key) > 32 or not constant_time_compare(mac, _mac(key)):
        return Resolved(TokenState.UNKNOWN)
    token = GridCardToken.objects.select_related("grid__station", "grid__manager").filter(key=key).first()
    if token is None:
        return Resolved(TokenState.UNKNOWN)
    if token.retired_at is None:
        return Resolved(TokenState.LIVE, token)
    if timezone.now() < token.retired_at + grace_period():
        return Resolved(TokenState.GRACE, token)
    return Resolved(TokenState.EXPIRED, token)


def card_url(token: GridCardToken, request=None) -> str:
    """The absolute URL printed in the code: CARD_PUBLIC_BASE_URL (the address customers'
    phones reach from outside) or, without it, the address of the page being printed."""
    path = reverse("card:public", args=[token_string(token)])
    base = (getattr(settings, "CARD_PUBLIC_BASE_URL", "") or "").rstrip("/")
    if base:
        return base + path
    return request.build_absolute_uri(path) if request is not None else path


def qr_svg(url: str) -> str:
    """The QR code of `url` as inline SVG (no XML declaration, sized by CSS through its viewBox).
    Error correction M: a card creased or smudged in a meter box still scans."""
    return segno.make(url, error="m", micro=False).svg_inline(
        scale=4, border=4, omitsize=True, svgclass="card-qr", lineclass="card-qr-line", dark="#000",
        light="#fff")
