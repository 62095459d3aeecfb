"""Settings of the worker processes started by test_run_robustness.py: the project's
settings with a station time limit of seconds, so a lost station is called lost quickly,
and tasks sent from the worker (retries) really queued, not run in-process."""

import os

from zhoukou_grid.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_TIME_LIMIT = 4
CELERY_TASK_SOFT_TIME_LIMIT = 3
CELERY_TASK_DEFAULT_QUEUE = os.environ["ZG_TEST_QUEUE"]
LOADFORECAST_FINISH_GRACE_SECONDS = 1
