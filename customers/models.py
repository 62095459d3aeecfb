"""Households (electricity accounts). Returning residents and key customers come later."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zhoukou_grid.models import LVLine, Transformer, Village


class Phase(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    ABC = "ABC", "ABC"


class Household(models.Model):
    account_no = models.CharField(_("account number"), max_length=13, unique=True)
    name = models.CharField(_("account name"), max_length=64)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="households", verbose_name=_("village"))
    transformer = models.ForeignKey(
        Transformer, on_delete=models.PROTECT, related_name="households", verbose_name=_("transformer")
    )
    line = models.ForeignKey(
        LVLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="households", verbose_name=_("LV line")
    )
    phase = models.CharField(_("phase"), max_length=3, choices=Phase.choices, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)

    # A household belongs to the grid of its village.
    territory_paths = {
        "county": "village__grid__station__county_id",
        "station": "village__grid__station_id",
        "grid": "village__grid_id",
    }

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("household")
        verbose_name_plural = _("households")
        indexes = [models.Index(fields=["village", "name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_no__regex=r"^[0-9]{10,13}$"), name="household_account_no_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_no})"
