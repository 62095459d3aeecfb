"""Security plumbing: the Permissions-Policy header, session limits and "sign out everywhere".

Threat model and the tests that prove each measure: docs/security.md.
"""

from __future__ import annotations

import time
from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.models import LoginSession
from zhoukou_grid.core.scoping import roles_of
from zhoukou_grid.territory.models import Role

LOGIN_AT = "zg_login_at"
SEEN_AT = "zg_seen_at"
# The last-seen time is written at most this often, not on every request (a session save).
SEEN_RESOLUTION = 60


class PermissionsPolicyMiddleware:
    """Adds `Permissions-Policy` (settings.PERMISSIONS_POLICY) to every answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        return response


def idle_timeout_for(user) -> int:
    """Seconds of inactivity a session of `user` survives: longer for field users only."""
    roles = roles_of(user)
    if roles and roles <= {Role.GRID_MANAGER}:
        return settings.SESSION_IDLE_TIMEOUT_FIELD
    return settings.SESSION_IDLE_TIMEOUT


class SessionLimitsMiddleware:
    """Ends a web session after the idle limit or the absolute limit since login.

    Only sessions are limited here; an API call with a token carries no session. The
    visitor is logged out and the request goes on anonymous: pages redirect to the login
    (LoginRequiredMiddleware), the API answers 401/403.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    # Answers that must not touch the session (and so the database): health checks, files.
    SKIP_PREFIXES = ("/healthz", "/static/")

    def __call__(self, request):
        if request.path.startswith(self.SKIP_PREFIXES):
            return self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = int(time.time())
            login_at = session.get(LOGIN_AT)
            seen_at = session.get(SEEN_AT)
            if login_at is None:  # a session from before these limits: they start now
                session[LOGIN_AT] = login_at = now
            expired_idle = seen_at is not None and now - seen_at > idle_timeout_for(user)
            expired_absolute = now - login_at > settings.SESSION_ABSOLUTE_TIMEOUT
            if expired_idle or expired_absolute:
                logout(request)
                messages.info(request, _("You were signed out after a period without activity. Please log in again.")
                              if expired_idle else _("Your session has reached its maximum length. Please log in again."))
            elif seen_at is None or now - seen_at >= SEEN_RESOLUTION:
                session[SEEN_AT] = now
        return self.get_response(request)


@receiver(user_logged_in)
def _remember_login_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    now = int(time.time())
    session[LOGIN_AT] = now
    session[SEEN_AT] = now
    LoginSession.objects.update_or_create(session_key=session.session_key, defaults={"user": user})


@receiver(user_logged_out)
def _forget_login_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        LoginSession.objects.filter(session_key=session.session_key).delete()


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


@transaction.atomic
def user_sessions_end(*, user, actor, keep_session_key: str | None = None, reason: str = "sign_out_everywhere") -> int:
    """End every session of `user` (but `keep_session_key`) and delete their API token.

    For a lost phone (an admin acting on the user), "sign out on all devices", and after a
    password change. Returns the number of sessions ended; writes one audit row.
    """
    store = _session_store()
    rows = LoginSession.objects.select_for_update().filter(user=user)
    if keep_session_key:
        rows = rows.exclude(session_key=keep_session_key)
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    rows.delete()
    if keep_session_key:
        # A password change cycles the session key: the session that stays is recorded under its new key.
        LoginSession.objects.update_or_create(session_key=keep_session_key, defaults={"user": user})
    tokens, _deleted = Token.objects.filter(user=user).delete()
    audit_record(user=actor, action="sessions.ended", object_type="user", object_id=user.pk,
                 detail={"sessions": len(keys), "tokens": tokens, "reason": reason})
    return len(keys)
