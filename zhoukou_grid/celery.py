"""Celery application. The beat schedule lives here, in code, not in the database."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhoukou_grid.settings")

app = Celery("zhoukou_grid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The framework's tasks live below the wiring app, where app discovery does not look: the
# beat's watches and purges (zhoukou_grid/core/tasks.py) and the import jobs
# (zhoukou_grid/core/importing/tasks.py). Without them a worker discards their messages.
app.autodiscover_tasks(["zhoukou_grid.core", "zhoukou_grid.core.importing"])


# deploy: celery-redbeat (the beat lock, see settings) reads its options without the CELERY_
# namespace and warns when it has to guess them: hand them over under their own names.
@app.on_after_configure.connect
def _redbeat_options(sender, **kwargs):
    for key in [key for key in sender.conf.keys() if key.startswith("CELERY_REDBEAT_")]:
        sender.conf[key.removeprefix("CELERY_").lower()] = sender.conf[key]


# Every periodic task of the project, in one place.
app.conf.beat_schedule = {
    "purge-expired-import-files": {
        "task": "zhoukou_grid.core.tasks.purge_import_files",
        "schedule": crontab(hour=3, minute=30),
    },
    "nightly-load-projection": {
        "task": "loadforecast.tasks.nightly_projection",
        "schedule": crontab(hour=2, minute=0),
    },
    # Expired sessions and their login records.
    "purge-stale-sessions": {
        "task": "zhoukou_grid.core.tasks.purge_stale_sessions",
        "schedule": crontab(hour=4, minute=15),
    },
    "daily-visit-reminders": {
        "task": "visits.tasks.send_daily_reminders",
        "schedule": crontab(hour=18, minute=0),  # CELERY_TIMEZONE is Asia/Shanghai
    },
    # Work that waited for the queue while Redis was down is sent once it
    # is back (beat reconnects by itself); jobs and runs whose worker was killed are failed.
    "import-jobs-watch": {"task": "zhoukou_grid.core.tasks.import_jobs_watch", "schedule": 60.0},
    "projection-runs-watch": {"task": "loadforecast.tasks.runs_watch", "schedule": 60.0},
    # Webhook deliveries (group chats) due for a retry, or left waiting while Redis was down.
    "webhooks-retry-due": {"task": "zhoukou_grid.core.tasks.webhooks_retry_due", "schedule": 60.0},
    # Personal data of returning residents, erased months after their festival (docs/personal-data.md).
    "village-list-reminders": {
        "task": "customers.tasks.remind_stale_village_lists",
        "schedule": crontab(hour=9, minute=0),
    },
    "resident-personal-data-retention": {
        "task": "customers.tasks.erase_expired_resident_data",
        "schedule": crontab(hour=3, minute=45),
    },
}
