"""The beat scheduler: celery-redbeat (schedule and a lock in Redis, so one beat sends),
made to ride out a Redis outage instead of exiting.

redbeat alone exits at its first tick without Redis, and after Redis comes back empty (a
restart) it would have lost its lock and its schedule. Here a tick without Redis logs a
warning and tries again a few seconds later; a lock that is no longer ours is taken again
(waiting, like at start, if another beat took it meanwhile) and the schedule rewritten
before anything is sent. So beat resumes by itself, and still never sends twice.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import redis.exceptions
from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock

logger = logging.getLogger("celery.beat")

RETRY_SECONDS = 5
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class PortalBeatScheduler(RedBeatScheduler):
    def tick(self, *args, **kwargs):
        try:
            if self.lock_key and self.lock is None:
                # Lost the lock (see below), or Redis was down when beat started: wait for it.
                acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=self))
                self.setup_schedule()
            return super().tick(*args, **kwargs)
        except REDIS_DOWN as exc:
            logger.warning("beat: Redis is unavailable (%s); trying again in %s s", exc.__class__.__name__,
                           RETRY_SECONDS)
            return RETRY_SECONDS
        except redis.exceptions.LockNotOwnedError:
            logger.warning("beat: the lock is no longer ours (Redis restarted or unreachable too long); "
                           "taking it again before sending anything")
            self.lock = None
            return 0
