"""The webhooks page of county admins (管理 › 群机器人): list, add, change, disable, test.
Rules, checks and audit live in zhoukou_grid/core/webhooks.py."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from zhoukou_grid.core import webhooks
from zhoukou_grid.core.models import Webhook, WebhookDelivery
from zhoukou_grid.core.scoping import for_user, get_for_user_or_404
from zhoukou_grid.territory.models import Grid, Station

RECENT_DELIVERIES = 20


class WebhookForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=100,
                           help_text=_lazy("E.g. the name of the group chat."))
    station = forms.ModelChoiceField(label=_lazy("Station"), queryset=Station.objects.none(), required=False,
                                     help_text=_lazy("A station's group, or …"))
    grid = forms.ModelChoiceField(label=_lazy("Grid"), queryset=Grid.objects.none(), required=False,
                                  help_text=_lazy("… a grid's group (choose one of the two)."))
    kind = forms.ChoiceField(label=_lazy("Format"), choices=Webhook.Kind.choices)
    url = forms.CharField(label=_lazy("Webhook address"), max_length=webhooks.MAX_URL_LENGTH,
                          widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                        "inputmode": "url"}),
                          help_text=_lazy("The group robot's address (https://qyapi.weixin.qq.com/cgi-bin/webhook/"
                                          "send?key=…). It is a secret: shown masked after saving."))

    def __init__(self, *args, actor, webhook: Webhook | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if webhook is not None:
            # The place of a webhook does not change; its address is only replaced, never shown.
            del self.fields["station"], self.fields["grid"]
            self.fields["url"].required = False
            self.fields["url"].help_text = _("Now %(masked)s. Leave empty to keep it.") % {
                "masked": webhook.url_masked}
        else:
            self.fields["station"].queryset = for_user(actor, Station, include_context=False).order_by("code")
            self.fields["grid"].queryset = (for_user(actor, Grid, include_context=False)
                                            .select_related("station").order_by("code"))


def _put_errors(form, error: ValidationError) -> None:
    by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, messages_ in by_field.items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


class WebhooksMixin(LoginRequiredMixin):
    model = Webhook

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.has_perm("zhoukou_grid.view_webhook"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class WebhookListView(WebhooksMixin, View):
    """Every webhook of the admin's county, with its health, and the form to add one."""

    def get(self, request, form=None, status=200):
        rows = (for_user(request.user, Webhook).select_related("station", "grid", "grid__station")
                .order_by("-is_active", "name", "pk")[:500])
        return render(request, "portal/webhooks/list.html", {
            "title": _("Group chats"), "webhooks": rows,
            "form": form or WebhookForm(actor=request.user),
            "can_add": request.user.has_perm("zhoukou_grid.add_webhook"),
        }, status=status)

    def post(self, request):
        form = WebhookForm(request.POST, actor=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                webhook = webhooks.webhook_create(
                    user=request.user, name=data["name"], kind=data["kind"], url=data["url"],
                    station_id=data["station"].pk if data.get("station") else None,
                    grid_id=data["grid"].pk if data.get("grid") else None)
            except ValidationError as error:
                _put_errors(form, error)
            else:
                messages.success(request, _("Webhook %(name)s is saved.") % {"name": webhook.name})
                return HttpResponseRedirect(reverse("webhooks:detail", args=[webhook.pk]))
        return self.get(request, form=form, status=400)


class WebhookDetailView(WebhooksMixin, View):
    """GET shows one webhook, its health and its last deliveries; POST `action` = save |
    test | disable | enable."""

    def render(self, webhook, *, form=None, status=200):
        deliveries = WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-pk")[
            :RECENT_DELIVERIES]
        return render(self.request, "portal/webhooks/detail.html", {
            "title": webhook.name, "object": webhook, "deliveries": deliveries,
            "form": form or WebhookForm(actor=self.request.user, webhook=webhook,
                                        initial={"name": webhook.name, "kind": webhook.kind}),
            "can_change": self.request.user.has_perm("zhoukou_grid.change_webhook"),
        }, status=status)

    def get(self, request, pk):
        webhook = get_for_user_or_404(request.user, Webhook.objects.select_related("station", "grid"), pk=pk)
        return self.render(webhook)

    def post(self, request, pk):
        webhook = get_for_user_or_404(request.user, Webhook.objects.select_related("station", "grid"), pk=pk)
        action = request.POST.get("action", "save")
        here = HttpResponseRedirect(reverse("webhooks:detail", args=[webhook.pk]))
        if action in ("disable", "enable"):
            webhooks.webhook_set_active(user=request.user, webhook_id=webhook.pk, active=action == "enable")
            messages.success(request, _("The webhook is enabled.") if action == "enable"
                             else _("The webhook is disabled: nothing is sent to it."))
            return here
        if action == "test":
            delivery = webhooks.webhook_test(user=request.user, webhook_id=webhook.pk)
            if delivery.status == WebhookDelivery.Status.SENT:
                messages.success(request, _("The test message was delivered."))
            else:
                messages.error(request, _("The test message was not delivered: %(error)s") % {
                    "error": delivery.last_error})
            return here
        form = WebhookForm(request.POST, actor=request.user, webhook=webhook)
        if form.is_valid():
            data = form.cleaned_data
            try:
                webhooks.webhook_update(user=request.user, webhook_id=webhook.pk, name=data["name"],
                                        kind=data["kind"], url=data.get("url") or "")
            except ValidationError as error:
                _put_errors(form, error)
            else:
                messages.success(request, _("Webhook %(name)s is saved.") % {"name": data["name"]})
                return here
        return self.render(webhook, form=form, status=400)


urlpatterns = [
    path("", WebhookListView.as_view(), name="list"),
    path("<int:pk>/", WebhookDetailView.as_view(), name="detail"),
]
