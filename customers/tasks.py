"""Periodic tasks of the customers app (the beat schedule is in zhoukou_grid/celery.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="customers.tasks.erase_expired_resident_data")
def erase_expired_resident_data() -> dict:
    """Nightly: erase returning residents' personal data past its retention (idempotent)."""
    from .retention import residents_erase_expired_personal_data

    return residents_erase_expired_personal_data()
