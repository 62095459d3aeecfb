"""Celery tasks of visits: thin, idempotent, taking no personal data."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="visits.tasks.send_daily_reminders")
def send_daily_reminders() -> int:
    """The 18:00 reminders (beat schedule in zhoukou_grid/celery.py): tomorrow's visits and
    the overdue lists. Running it twice the same day sends nothing more."""
    from .reminders import reminders_send

    return reminders_send()
