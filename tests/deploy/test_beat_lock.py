"""Beat runs exactly once: two real `celery beat` processes, one lock in Redis (celery-redbeat).

Both beats use the portal's settings (scheduler, lock) with a one-second schedule, a short
lock timeout and a Redis key prefix of this test's own (tests/deploy/beat_probe_app.py).
Each message in the test's queue names the process that sent it (its `origin` header):
while both run, every message comes from the lock holder; once the holder is killed
(SIGKILL: no chance to release the lock), the other takes over when the lock expires.
Only this test's keys are deleted afterwards; the database is never flushed. A second test
stops and restarts a private redis-server under a running beat (zhoukou_grid/beat.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.deploy.keys import PERSONAL_DATA_ENV

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (set in CI)")

ROOT = Path(__file__).resolve().parents[2]
LOCK_TIMEOUT = 3


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def beat_env(tmp_path, redis_client):
    tag = uuid.uuid4().hex[:12]
    prefix, queue = f"zg-test-beat-{tag}:", f"zg-test-beat-queue-{tag}"
    env = {key: value for key, value in os.environ.items()
           if key not in {"ZG_TESTING", "DATABASE_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE"}}
    env.update({
        "SECRET_KEY": "beat-lock-test-only",
        **PERSONAL_DATA_ENV,
        "REDIS_URL": REDIS_URL,
        "REDBEAT_KEY_PREFIX": prefix,
        "REDBEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "BEAT_MAX_LOOP_INTERVAL": "1",
        "ZG_BEAT_PROBE_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
    })
    yield env, prefix, queue
    keys = [key for pattern in (f"{prefix}*", f"*{queue}*") for key in redis_client.scan_iter(match=pattern)]
    if keys:
        redis_client.delete(*keys)
    for binding in redis_client.scan_iter(match="_kombu.binding.*"):
        members = [m for m in redis_client.smembers(binding) if queue.encode() in m]
        if members:
            redis_client.srem(binding, *members)


def _start_beat(env, tmp_path, name):
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "tests.deploy.beat_probe_app", "beat",
         "--loglevel", "INFO", "--schedule", str(tmp_path / f"{name}-schedule")],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    return process, log


def _senders(redis_client, queue) -> list[int]:
    """The pid of the process that sent each message in the queue, oldest first."""
    pids = []
    for raw in reversed(redis_client.lrange(queue, 0, -1)):  # kombu LPUSHes: newest first
        origin = json.loads(raw)["headers"]["origin"]  # "gen<pid>@<host>"
        pids.append(int(origin.split("@")[0].removeprefix("gen")))
    return pids


@needs_redis
def test_two_beats_send_each_task_once_and_the_second_takes_over_when_the_first_dies(
        beat_env, tmp_path, redis_client):
    env, prefix, queue = beat_env
    first, first_log = _start_beat(env, tmp_path, "first")
    second, second_log = _start_beat(env, tmp_path, "second")
    processes = {first.pid: (first, first_log), second.pid: (second, second_log)}
    try:
        # Both are up and one holds the lock: the lock key exists and messages arrive.
        _wait_for(lambda: len(_senders(redis_client, queue)) >= 4, 40, "four probe messages")
        assert redis_client.exists(f"{prefix}:lock")
        for process, _log in processes.values():
            assert process.poll() is None, "both beats keep running (one waits for the lock)"
        senders = set(_senders(redis_client, queue))
        assert len(senders) == 1, f"more than one beat sent tasks: {senders}"
        holder_pid = senders.pop()
        assert holder_pid in processes
        waiter_pid = next(pid for pid in processes if pid != holder_pid)
        holder_log, waiter_log = processes[holder_pid][1], processes[waiter_pid][1]
        assert "Acquired lock" in holder_log.read_text()
        assert "Acquired lock" not in waiter_log.read_text()
        assert "Sending due task" not in waiter_log.read_text()

        # The holder dies without releasing the lock: the waiter takes over once it expires.
        os.killpg(holder_pid, signal.SIGKILL)
        processes[holder_pid][0].wait(10)
        sent_before = len(_senders(redis_client, queue))
        _wait_for(lambda: _senders(redis_client, queue)[sent_before:].count(waiter_pid) >= 2, 30,
                  "the second beat to take over")
        assert "Acquired lock" in waiter_log.read_text()
        assert set(_senders(redis_client, queue)[sent_before:]) == {waiter_pid}
    finally:
        for process, _log in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_beat_rides_out_a_redis_restart_without_being_restarted(tmp_path):
    """A private redis-server (never the shared one) is stopped and started again, empty:
    beat logs the outage, takes its lock again, rewrites its schedule and sends again."""
    import redis

    port = _free_port()
    server_command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(server_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    _wait_for(lambda: _ping(client), 10, "the private redis-server")
    queue = "zg-test-beat-outage"
    env = {key: value for key, value in os.environ.items()
           if key not in {"ZG_TESTING", "DATABASE_URL", "PYTEST_XDIST_WORKER", "DJANGO_SETTINGS_MODULE"}}
    env.update({"SECRET_KEY": "beat-lock-test-only", **PERSONAL_DATA_ENV, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "REDBEAT_LOCK_TIMEOUT": str(LOCK_TIMEOUT), "BEAT_MAX_LOOP_INTERVAL": "1",
                "ZG_BEAT_PROBE_QUEUE": queue, "PYTHONPATH": str(ROOT)})
    beat, log = _start_beat(env, tmp_path, "beat")
    try:
        _wait_for(lambda: len(_senders(client, queue)) >= 2, 40, "probe messages before the outage")
        server.terminate()
        server.wait(10)
        _wait_for(lambda: "Redis is unavailable" in log.read_text(), 30, "beat to notice the outage")
        time.sleep(2)
        server = subprocess.Popen(server_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: _ping(client), 10, "the private redis-server again")
        # Redis came back empty: lock, schedule and queue are gone. Beat sends again by itself.
        _wait_for(lambda: len(_senders(client, queue)) >= 2, 60, "probe messages after the outage")
        assert beat.poll() is None, "beat kept running"
        assert set(_senders(client, queue)) == {beat.pid}
        assert client.exists("zg-redbeat::lock")
        assert "taking it again" in log.read_text()
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGTERM)
            beat.wait(10)
        server.terminate()
        server.wait(10)
        client.close()


def _ping(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
