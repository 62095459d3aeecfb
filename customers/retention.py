"""Retention of returning residents' personal data (docs/personal-data.md).

A resident's list entry is kept for the festival's planning and its aftermath; its
personal data is erased RESIDENT_RETENTION_MONTHS months after the Spring Festival the
resident came home for. That festival is the one the import would have read the arrival
date for: the first Lunar New Year on or after 45 days before the arrival
(`lunar_calendar.season_of`), so a late arrival is never assigned to an earlier festival
(erasing late is the safe side).

Erasing keeps the row and everything the counts are made of (village, group, household
and account, persons, dates, status, heating, extra load): the per-village and
per-transformer arrival counts, the load projection and the progress figures do not
change. It removes the name, the head of household's name, the ID and phone numbers
(token, HMAC and masked form), the place of work and the note, and frees the match key.
One audit row per run, counts only. Running it twice erases nothing more.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.lunar_calendar import SEASON_LEAD_DAYS, lunar_new_year, season_of

from .models import ReturningResident


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def erasable_until(today: date, months: int) -> tuple[date, date] | None:
    """(festival, last arrival date) of the latest festival whose retention has run out
    by `today`: residents arriving up to that date are erased. None before any."""
    season = season_of(today) + 1
    while season > 1900:
        festival = lunar_new_year(season)
        if add_months(festival, months) <= today:
            return festival, festival + timedelta(days=SEASON_LEAD_DAYS)
        season -= 1
    return None


ERASED_FIELDS = {
    "name": "", "head_name": "", "workplace": "", "note": "",
    "id_number_enc": "", "id_number_hmac": "", "id_number_masked": "",
    "phone_enc": "", "phone_hmac": "", "phone_masked": "",
}


@transaction.atomic
def residents_erase_expired_personal_data(*, today: date | None = None, months: int | None = None) -> dict:
    """Erase the personal data of residents whose festival is more than `months` months
    (default RESIDENT_RETENTION_MONTHS) before `today` (default: today in Asia/Shanghai).
    Returns the audit detail: {"erased", "months", "festival", "arrived_until"}."""
    today = today or timezone.localdate()
    months = settings.RESIDENT_RETENTION_MONTHS if months is None else months
    bound = erasable_until(today, months)
    erased = 0
    if bound is not None:
        now = timezone.now()
        erased = ReturningResident.objects.filter(erased_at__isnull=True, arrival_date__lte=bound[1]).update(
            **ERASED_FIELDS,
            match_key=Concat(Value("erased:"), Cast("pk", output_field=CharField())),
            erased_at=now, updated_at=now)
    detail = {"erased": erased, "months": months, "today": today.isoformat(),
              "festival": bound[0].isoformat() if bound else None,
              "arrived_until": bound[1].isoformat() if bound else None}
    audit_record(user=None, action="resident.personal_data_erased", object_type="returningresident", detail=detail)
    return detail
