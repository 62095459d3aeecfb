"""Counting requests in the cache, for pages open without an account (the service card's
public page, issue 15): a fixed window per scope and identity.

`throttle_hit` adds one request and answers whether the limit is passed. The identity
(an address, a token) is hashed before it becomes part of a key, so the cache never holds
it in clear. With the cache down (`core.cache` answers misses) the count cannot be kept
and requests go through: the portal's pages do not stop because Redis did.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache


def _key(scope: str, ident: str, window: int) -> str:
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    return f"throttle:{scope}:{digest}:{int(time.time() // window)}"


def throttle_hit(scope: str, ident: str, *, limit: int, window: int) -> bool:
    """Count one request of `ident` in `scope`; True when it is over `limit` per `window` seconds."""
    key = _key(scope, ident or "-", window)
    cache.add(key, 0, window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr, or the cache is down
        cache.add(key, 1, window + 5)
        count = 1
    return count > limit
