"""The after-festival back-test page (docs/domain.md 6.6): projected against metered peaks of
the user's transformers over a period, per station and for the whole territory, with
the suggested p_hh per station. Reads only through `backtest.backtest_report` (for_user)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from zhoukou_grid.core.lunar_calendar import lunar_new_year

from . import outlook_engine
from .backtest import LEVEL_NAMES, backtest_report
from .models import Level

MAX_PERIOD_DAYS = 62


class BacktestForm(forms.Form):
    first_date = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    last_date = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    run_date = forms.DateField(label=_("Projection of"), required=False,
                               help_text=_("Empty: the latest run on or before the first day."),
                               widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self):
        data = super().clean()
        first, last = data.get("first_date"), data.get("last_date")
        if first and last:
            if last < first:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (last - first).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("Choose a period of at most %(days)s days.") % {"days": MAX_PERIOD_DAYS})
        return data


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The festival window (N − 15 … N + 14, docs/domain.md §6.7) of the last festival whose
    window has closed: the season before the one the outlook looks at on `today`."""
    settings = outlook_engine.OutlookSettings()
    new_year = lunar_new_year(outlook_engine.season_window(today, settings).season - 1)
    return (new_year - dt.timedelta(days=settings.window_days_before),
            new_year + dt.timedelta(days=settings.window_days_after))


class BacktestView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    """Back-test of the user's transformers; by default the window of the last festival."""

    permission_required = "loadforecast.view_assetprojection"
    template_name = "loadforecast/backtest.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        first, last = default_period(today)
        initial = {"first_date": first, "last_date": last}
        form = BacktestForm(self.request.GET if "first_date" in self.request.GET else {
            k: v.isoformat() for k, v in initial.items()})
        report = None
        if form.is_valid():
            report = backtest_report(user=self.request.user, first_date=form.cleaned_data["first_date"],
                                     last_date=form.cleaned_data["last_date"],
                                     run_date=form.cleaned_data.get("run_date"))
        level_labels = [(LEVEL_NAMES[level], Level(int(level)).label) for level in LEVEL_NAMES]
        context.update(title=_("After-festival back-test"), form=form, report=report, level_labels=level_labels,
                       level_display={int(v): label for v, label in Level.choices})
        return context
