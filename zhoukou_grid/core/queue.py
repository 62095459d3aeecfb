"""Sending work to the Celery workers from a request, when the queue (Redis) may be down.

`queue_send` publishes one task message or raises `QueueUnavailable` quickly: a PING of the
broker with a 1 s timeout first (kombu would otherwise retry a dead broker for seconds), a
short publish retry, and a circuit breaker so that while Redis is down each click costs
nothing. The caller keeps its work in the database in a "waiting for the queue" state
(`queue_waiting_mark` on the row's `timings`) and tells the user; a beat task every minute
(`import_jobs_watch`, `runs_watch`) and the next look at the work send it once the queue is
back, each behind an idempotent claim (`queue_waiting_q` with the mark's time).

In eager mode (no Redis configured, and the test suite) the task runs in-process.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from zhoukou_grid.core.cache import CircuitBreaker

# What the user reads when work could not be queued (the work itself is kept).
QUEUE_UNAVAILABLE_MESSAGE = _lazy(
    "The task queue is unavailable at the moment. Nothing is lost: the work is saved and starts by itself as "
    "soon as the queue is back.")
# kombu: give up after one reconnection (the PING before already found the broker).
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
BROKER_TIMEOUT_SECONDS = 1.0

breaker = CircuitBreaker("Task queue (Redis broker)", retry_after=5)
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


class QueueUnavailable(Exception):
    """The broker did not take the message: nothing was queued."""


# --- "Waiting for the queue": a mark in the JSON `timings` of the row that holds the work ---
QUEUE_WAITING = "queue_waiting_since"


def queue_waiting_since(timings: dict[str, Any] | None) -> str | None:
    """When the work started waiting for the queue (ISO time), or None when it does not wait."""
    return (timings or {}).get(QUEUE_WAITING) or None


def queue_waiting_mark(timings: dict[str, Any] | None = None) -> dict[str, Any]:
    """`timings` marked as waiting for the queue; an earlier mark keeps its time (the work
    has waited since then)."""
    return {**(timings or {}), QUEUE_WAITING: queue_waiting_since(timings) or timezone.now().isoformat()}


def queue_waiting_clear(timings: dict[str, Any] | None) -> dict[str, Any]:
    """`timings` without the mark (the work was sent, or reached a worker)."""
    return {key: value for key, value in (timings or {}).items() if key != QUEUE_WAITING}


def queue_waiting_q(since: str | None = None, *, field: str = "timings") -> Q:
    """The rows marked as waiting; with `since`, only those still marked at that time (the
    claim of a re-dispatcher: of two, one only finds the row still marked)."""
    if since is None:
        return Q(**{f"{field}__has_key": QUEUE_WAITING})
    return Q(**{f"{field}__{QUEUE_WAITING}": since})


def queue_task(name: str):
    """The registered Celery task of that name. A module that enqueues by name need not
    import the tasks module (which imports it back); the apps' task modules are imported
    here on first use, as a worker does at start."""
    app = _app()
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def _app():
    # The project's Celery app (zhoukou_grid/celery.py, loaded with the project package)
    # is the current one; the framework does not import the wiring to reach it.
    from celery import current_app

    return current_app._get_current_object()


def queue_is_eager() -> bool:
    return bool(_app().conf.task_always_eager)


def _broker_client(url: str):
    import redis

    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS)
        return client


def broker_ping() -> None:
    """Raise when a Redis broker does not answer (other brokers: nothing to check here)."""
    url = str(_app().conf.broker_url or "")
    if url.startswith(("redis://", "rediss://", "unix://")):
        _broker_client(url).ping()


def queue_send(task, args: tuple = (), *, check: bool = True, **options):
    """Publish `task(*args)` now (results are not kept: callers read the database); `task`
    is a task or its registered name.

    Raises QueueUnavailable when the broker is down or refuses the message; in eager mode
    runs the task in-process. `check=False` skips the PING (a batch checks once)."""
    if isinstance(task, str):
        task = queue_task(task)
    if queue_is_eager():
        return task.apply_async(args, **options)
    if not breaker.allow():
        raise QueueUnavailable("the task queue was unavailable moments ago")
    try:
        if check:
            broker_ping()
        result = task.apply_async(args, ignore_result=True, retry=True, retry_policy=PUBLISH_RETRY_POLICY,
                                  **options)
    except (KombuOperationalError, RedisError, OSError) as error:
        breaker.failure(error)
        raise QueueUnavailable(type(error).__name__) from error
    breaker.success()
    return result
