"""A Redis cache that degrades to misses when Redis is down, and the circuit breaker it uses.

Django's RedisCache raises on a connection error, so a Redis outage would turn every page
that touches the cache (the unread-notification count in the header, import progress,
DRF throttles) into a 500. Nothing the portal caches is the only copy of anything: a miss
only costs the query that fills it. So here a Redis error is answered as a miss (`get`
returns the default, `set` stores nothing, `add` answers "not added", so a lock taken with
`add` is never wrongly granted), with one warning in the log per outage (no key, no value:
keys can carry user ids).

A Redis that hangs instead of refusing would cost the socket timeout on every call; after
one connection error the breaker stays open for `RETRY_AFTER` seconds and every call is an
instant miss, then one call tries Redis again.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Errors that say "Redis is not there" (as opposed to a bad command): they open the breaker.
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class CircuitBreaker:
    """Open for `retry_after` seconds after a failure; thread-safe, per process.

    `allow()` is False while open; once the time is up one caller is let through (the
    others still get False until it reports) and its `success()` closes the breaker."""

    def __init__(self, name: str, retry_after: float):
        self.name = name
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._probing = False
        self.failures = 0  # outages seen by this process (for the log and the benchmarks)

    @property
    def is_open(self) -> bool:
        return self._open_until > 0.0

    def allow(self) -> bool:
        with self._lock:
            if not self._open_until:
                return True
            if time.monotonic() < self._open_until or self._probing:
                return False
            self._probing = True
            return True

    def success(self) -> None:
        if self._open_until:
            with self._lock:
                if self._open_until:
                    logger.warning("%s is back", self.name)
                self._open_until, self._probing = 0.0, False

    def failure(self, error: BaseException) -> None:
        with self._lock:
            first = not self._open_until
            self._open_until = time.monotonic() + self.retry_after
            self._probing = False
            if first:
                self.failures += 1
        if first:
            # The error's type only: its text may name the server, never personal data, but keep it short.
            logger.warning("%s unavailable (%s): answering without it for %.0f s at a time", self.name,
                           type(error).__name__, self.retry_after)

    def reset(self) -> None:
        with self._lock:
            self._open_until, self._probing = 0.0, False


# One breaker per Redis location, shared by every thread's cache instance of the process.
_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(location: str, retry_after: float) -> CircuitBreaker:
    with _breakers_lock:
        breaker = _breakers.get(location)
        if breaker is None:
            breaker = _breakers[location] = CircuitBreaker(f"Redis cache {_redacted(location)}", retry_after)
        return breaker


def reset_breakers() -> None:
    """Close every breaker (tests, after they bring Redis back)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.reset()


def _redacted(url: str) -> str:
    """host:port/db of a Redis URL, without a password."""
    return url.rsplit("@", 1)[-1].split("://", 1)[-1]


class ResilientRedisCache(RedisCache):
    """RedisCache that answers a miss instead of raising when Redis is unreachable.

    OPTIONS as for RedisCache, plus `RETRY_AFTER` (seconds the breaker stays open, 5 by
    default). Keep `socket_connect_timeout` and `socket_timeout` short (settings.py)."""

    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        retry_after = float(options.pop("RETRY_AFTER", 5))
        params["OPTIONS"] = options
        super().__init__(server, params)
        location = server if isinstance(server, str) else ",".join(server)
        self.breaker = breaker_for(location, retry_after)

    def _guard(self, call, fallback):
        if not self.breaker.allow():
            return fallback
        try:
            result = call()
        except OUTAGE_ERRORS as error:
            self.breaker.failure(error)
            return fallback
        except RedisError as error:  # e.g. out of memory, MISCONF (its disk is full): a miss, no breaker
            logger.warning("Redis cache error (%s): answered as a miss", type(error).__name__)
            self.breaker.success()
            return fallback
        self.breaker.success()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._guard(lambda: super(ResilientRedisCache, self).incr(key, delta, version), missing)
        if result is missing:  # as for a key that is not there
            raise ValueError("Key not found (cache unavailable).")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Nothing stored: every key "failed", as the cache API says.
        return self._guard(lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data))

    def delete_many(self, keys, version=None):
        return self._guard(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self):
        return self._guard(lambda: super(ResilientRedisCache, self).clear(), False)
