"""Scoped reads of the season outlook (docs/domain.md §6.7): the latest outlook run of a
station, its items the user may see, and a county's stations with their headlines."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery

from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.territory.models import County, Station

from .models import Alert, Measure, OutlookItem, OutlookRun


def latest_outlook(station: Station) -> OutlookRun | None:
    """The station's latest outlook run (the newest run date)."""
    return OutlookRun.objects.filter(station=station).order_by("-run_date", "-created_at").first()


def latest_outlook_ids() -> QuerySet:
    """Ids of the latest outlook run of every station, as a subquery."""
    newest = OutlookRun.objects.filter(station_id=OuterRef("station_id")).order_by("-run_date", "-created_at")
    return OutlookRun.objects.filter(pk=Subquery(newest.values("pk")[:1])).values("pk")


def outlook_items(user: AbstractBaseUser, run: OutlookRun) -> QuerySet[OutlookItem]:
    """The run's items on assets of the user's territory, worst first."""
    return (for_user(user, OutlookItem, include_context=False).filter(run=run)
            .select_related("transformer", "line", "grid").order_by("-level", "-peak_load_rate", "pk"))


def latest_outlook_items(user: AbstractBaseUser) -> QuerySet[OutlookItem]:
    """Items of the latest outlook run of each station, scoped (the `outlook` export)."""
    return for_user(user, OutlookItem, include_context=False).filter(run_id__in=latest_outlook_ids())


def outlook_items_for_home(user: AbstractBaseUser, *, limit: int) -> list[OutlookItem]:
    """The worst items (heavy load and above) of the latest outlooks in the user's own
    territory, for the grid manager's home."""
    from .models import Level

    return list(latest_outlook_items(user).filter(level__gte=Level.HEAVY)
                .select_related("transformer", "line").order_by("-level", "-peak_load_rate", "pk")[:limit])


def county_outlook(user: AbstractBaseUser, county: County) -> list[dict[str, Any]]:
    """Each station of the county the user may see, with its latest outlook run."""
    stations = list(for_user(user, Station).filter(county=county).order_by("code"))
    runs = {run.station_id: run for run in OutlookRun.objects.filter(
        pk__in=latest_outlook_ids(), station__in=stations)}
    return [{"station": station, "run": runs.get(station.pk)} for station in stations]


def county_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The county's headline: the stations' counts, temporary kVA and villages summed; the
    estimated share weighted by each station's villages; the busiest peak day."""
    totals: dict[str, Any] = {"transformers": {}, "lines": {}, "temporary_kva": 0.0, "villages": 0,
                              "villages_reported": 0, "peak_days": {}}
    for row in rows:
        headline = row["run"].headline if row["run"] else {}
        for kind in ("transformers", "lines"):
            for level, n in headline.get(kind, {}).items():
                totals[kind][level] = totals[kind].get(level, 0) + n
        totals["temporary_kva"] += headline.get("temporary_kva", 0.0)
        totals["villages"] += headline.get("villages", 0)
        totals["villages_reported"] += headline.get("villages_reported", 0)
        if headline.get("peak_day"):
            totals["peak_days"][headline["peak_day"]] = totals["peak_days"].get(headline["peak_day"], 0) + 1
    totals["peak_day"] = max(totals["peak_days"], key=totals["peak_days"].get) if totals["peak_days"] else None
    return totals


def asset_measures(item: OutlookItem) -> list[Measure]:
    """The measures planned or done on the item's asset (on its alerts that are not
    dismissed) from the item's window's first day on, the latest first. The item's page is
    already scoped: the asset is the user's."""
    asset = {"alert__transformer_id": item.transformer_id} if item.transformer_id else {"alert__line_id": item.line_id}
    return list(Measure.objects.filter(**asset, alert__last_date__gte=item.run.first_day).exclude(
        alert__status=Alert.Status.DISMISSED).select_related("alert", "neighbour").order_by("-created_at", "-pk"))
