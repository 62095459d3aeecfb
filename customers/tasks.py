"""Periodic tasks of the customers app (the beat schedule is in zhoukou_grid/celery.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="customers.tasks.erase_expired_resident_data")
def erase_expired_resident_data() -> dict:
    """Nightly: erase returning residents' personal data past its retention (idempotent)."""
    from .retention import residents_erase_expired_personal_data

    return residents_erase_expired_personal_data()


@shared_task(name="customers.tasks.remind_stale_village_lists")
def remind_stale_village_lists() -> int:
    """Daily: remind the clerks of villages whose returning list went stale (idempotent per day)."""
    from .village_reminders import village_lists_remind

    return village_lists_remind()
