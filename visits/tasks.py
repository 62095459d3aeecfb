"""Celery tasks of visits: thin, idempotent, taking no personal data."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="visits.tasks.send_daily_reminders")
def send_daily_reminders() -> int:
    """The 18:00 reminders (beat schedule in zhoukou_grid/celery.py): tomorrow's visits and
    the overdue lists, and the same day's messages to the stations' and grids' group chats.
    Running it twice the same day sends nothing more."""
    from .reminders import reminders_send
    from .webhooks import reminder_webhooks

    sent = reminders_send()
    reminder_webhooks()  # the group chats; never raises, sends after this task's work
    return sent
