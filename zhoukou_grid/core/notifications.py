"""In-app notifications and their email copy: the ground every feature that tells people
something (overload alerts, visits) stands on.

`notification_send` writes one row per recipient in one INSERT and mails each recipient
who has an address, through one connection of Django's email backend, once the
transaction commits. A mail that cannot be sent is logged (counts and ids only, never an
address) and never breaks the caller: the in-app row is the record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from zhoukou_grid.core.models import Notification

logger = logging.getLogger(__name__)


def notifications_for(user) -> QuerySet[Notification]:
    """The notifications addressed to `user` (none for an anonymous user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user_id=user.pk)


def notification_get_or_404(user, pk) -> Notification:
    """One of the user's own notifications; another user's answers like a missing one."""
    try:
        return notifications_for(user).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


UNREAD_CACHE_SECONDS = 60


def _unread_key(user_id: int) -> str:
    return f"notifications:unread:{user_id}"


def unread_count(user) -> int:
    """The top bar's badge on every page: one COUNT on the (user, read_at) index, kept in
    the cache for a minute and dropped whenever this module changes the user's rows, so
    most pages cost no query at all."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    key = _unread_key(user.pk)
    count = cache.get(key)
    if count is None:
        count = notifications_for(user).filter(read_at__isnull=True).count()
        cache.set(key, count, UNREAD_CACHE_SECONDS)
    return count


def _forget_unread(user_ids: Iterable[int]) -> None:
    cache.delete_many([_unread_key(pk) for pk in user_ids])


def _recipient_ids(recipients: Iterable) -> list[int]:
    ids = []
    for recipient in recipients:
        pk = getattr(recipient, "pk", recipient)
        if pk is not None and pk not in ids:
            ids.append(int(pk))
    return ids


def notification_send(*, recipients: Iterable, kind: str, title: str, body: str = "", url: str = "",
                      email: bool = True) -> list[Notification]:
    """Notify each recipient (users or user ids; inactive users are left out) once.

    The rows are written in one bulk INSERT in the caller's transaction; the emails go
    after it commits (nothing is mailed for a rolled-back change), one per recipient with
    an address, the link made absolute with `PORTAL_BASE_URL` when that is set. `title`
    and `body` are already translated by the caller (in the language of the recipients).
    """
    ids = _recipient_ids(recipients)
    if not ids:
        return []
    users = list(get_user_model().objects.filter(pk__in=ids, is_active=True).values_list("pk", "email"))
    rows = Notification.objects.bulk_create([
        Notification(user_id=pk, kind=kind[:32], title=title[:200], body=body, url=url[:500]) for pk, _email in users])
    recipient_ids = [pk for pk, _email in users]
    # Now and again at the commit: a page served in between may have cached the old count.
    _forget_unread(recipient_ids)
    transaction.on_commit(lambda: _forget_unread(recipient_ids))
    addresses = [address for _pk, address in users if address]
    if email and addresses:
        transaction.on_commit(lambda: _send_emails(addresses, kind=kind, title=title, body=body, url=url))
    return rows


def _send_emails(addresses: list[str], *, kind: str, title: str, body: str, url: str) -> int:
    """One message per address through one backend connection; returns how many were sent."""
    base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
    link = f"{base}{url}" if url.startswith("/") and base else url
    with translation.override(settings.LANGUAGE_CODE):
        footer = _("Open the portal: %(link)s") % {"link": link} if link else ""
        subject = _("[Zhoukou Grid Service] %(title)s") % {"title": title}
    text = "\n\n".join(part for part in (body, footer) if part)
    try:
        connection = get_connection(fail_silently=False)
        messages = [EmailMessage(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[address],
                                 connection=connection) for address in addresses]
        sent = connection.send_messages(messages) or 0
    except Exception as exc:  # noqa: BLE001 - the in-app notification stands; the caller must not fail
        logger.warning("notification emails not sent: kind=%s recipients=%d error=%s", kind, len(addresses),
                       type(exc).__name__)
        return 0
    return sent


@transaction.atomic
def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read: those of `ids`, or all of them. Another
    user's ids are ignored. Returns how many changed."""
    queryset = notifications_for(user).filter(read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=[int(pk) for pk in ids])
    changed = queryset.update(read_at=timezone.now())
    _forget_unread([user.pk])
    transaction.on_commit(lambda: _forget_unread([user.pk]))
    return changed
