"""Fault injection helpers: a Redis server of the test's own on a private port, that the
test stops and starts again (never the shared one on 6379), with the portal's cache,
REDIS_URL and Celery broker pointed at it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from zhoukou_grid.core import cache as resilient_cache
from zhoukou_grid.core import queue


def free_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, seconds=30.0, what="", step=0.05):
    from django.db import OperationalError

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OperationalError:  # SQLite's shared in-memory test database: a table locked by the worker thread
            pass
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class PrivateRedis:
    """`redis-server` on a free port, no persistence; `stop()` kills it, `start()` brings it back
    on the same port (an empty Redis, as after a restart without persistence)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, what="the private redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        # A reset by the server (not a refused connect) is what clients see first: both are outages.

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def portal_on(private_redis, settings):
    """The portal's cache, REDIS_URL and Celery broker on the private Redis; tasks queued for
    real (not eager). Restores the app's configuration afterwards."""
    from zhoukou_grid.celery import app

    settings.REDIS_URL = private_redis.url
    settings.CACHES = {"default": {
        "BACKEND": "zhoukou_grid.core.cache.ResilientRedisCache", "LOCATION": private_redis.url, "KEY_PREFIX": "faults",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    previous = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, private_redis.url
    _fresh_broker_pools(app)
    resilient_cache.reset_breakers()
    queue.breaker.reset()
    try:
        yield private_redis
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        _fresh_broker_pools(app)
        resilient_cache.reset_breakers()
        queue.breaker.reset()


def _fresh_broker_pools(app) -> None:
    """Forget the app's broker pools (made for the previous URL). Not closed: kombu keeps one
    pool per connection in a process-wide registry, and the app takes it back from there."""
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)


def redis_is_back(server: PrivateRedis) -> None:
    """Start the server again and let the breakers try at once (instead of within 5 s)."""
    server.start()
    resilient_cache.reset_breakers()
    queue.breaker.reset()


# The 太康县 territory of the shared import samples and the pinned import day.
from tests.imports.residents_world import import_day, taikang  # noqa: E402, F401
