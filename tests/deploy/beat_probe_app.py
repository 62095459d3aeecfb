"""The portal's Celery app with a one-second schedule, for tests/deploy/test_beat_lock.py.

Started as `celery -A tests.deploy.beat_probe_app beat` by the test. The probe task is not
registered anywhere, so beat sends it by name (never runs it in-process) to a queue of the
test's own; the scheduler, the lock and their settings are the portal's (settings.py).
"""

import os

from zhoukou_grid.celery import app

app.conf.beat_schedule = {
    "deploy-beat-probe": {
        "task": "tests.deploy.beat_probe",
        "schedule": 1.0,
        "options": {"queue": os.environ["ZG_BEAT_PROBE_QUEUE"]},
    },
}
