"""Counting requests in the cache, for pages open without an account (the service card's
public page, issue 15): a sliding window per scope and identity.

`throttle_hit` adds one request and answers whether the limit is passed. The count is the
current fixed window's plus the previous window's, weighted by how much of it still lies
within the last `window` seconds, so a flood that straddles a window's boundary is not let
through twice (a plain fixed window would allow up to twice the limit there). Refused
requests count too: a client that keeps flooding stays refused.

The identity (an address, a token) is hashed before it becomes part of a key, so the cache
never holds it in clear. With the cache down (`core.cache` answers misses) the count cannot
be kept and requests go through: the portal's pages do not stop because Redis did.
"""

from __future__ import annotations

import hashlib
import time


def _now() -> float:
    return time.time()


def _key(scope: str, ident: str, bucket: int) -> str:
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    return f"throttle:{scope}:{digest}:{bucket}"


def throttle_hit(scope: str, ident: str, *, limit: int, window: int) -> bool:
    """Count one request of `ident` in `scope`; True when over `limit` in the last `window` seconds."""
    from django.core.cache import cache

    now = _now()
    bucket, elapsed = divmod(now, window)
    bucket = int(bucket)
    key = _key(scope, ident or "-", bucket)
    cache.add(key, 0, 2 * window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr, or the cache is down
        cache.add(key, 1, 2 * window + 5)
        count = 1
    previous = cache.get(_key(scope, ident or "-", bucket - 1)) or 0
    return count + previous * (window - elapsed) / window > limit
