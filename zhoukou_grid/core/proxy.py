"""The client's address behind the local reverse proxy (deploy/nginx-portal.conf).

gunicorn sees every request come from nginx on 127.0.0.1, so REMOTE_ADDR alone would put
every user behind one address and login throttling (django-axes, username + address)
would lock a username for everyone. nginx sends the address it trusts in X-Forwarded-For;
that header is believed only when the request comes from this host (a client elsewhere
cannot reach gunicorn, which listens on loopback), and only its last entry, the one
added by the nearest proxy.
"""

from __future__ import annotations

import ipaddress


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not remote or not forwarded:
        return remote
    try:
        if not ipaddress.ip_address(remote).is_loopback:
            return remote
        nearest = forwarded.split(",")[-1].strip()
        return str(ipaddress.ip_address(nearest))
    except ValueError:
        return remote
