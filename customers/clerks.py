"""Village clerk accounts: a county admin or the village's grid manager opens one for one village.

The account holds one role, `village_clerk` over one village (core.scoping gives it that
village's returning list and nothing else). Opening one is audited; the password is the
creator's to hand over and passes Django's password validators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.generic import TemplateView

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import roles_of, writable_for_user
from zhoukou_grid.territory.models import Role, RoleAssignment, Village

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Who opens clerk accounts: administrators of the county, and the grid manager of the village.
CLERK_OPENERS = {Role.COMPANY_ADMIN, Role.COUNTY_ADMIN, Role.GRID_MANAGER}


def can_open_clerks(user) -> bool:
    return bool(roles_of(user) & CLERK_OPENERS)


@transaction.atomic
def village_clerk_create(*, user: User, village_id: int, username: str, full_name: str, password: str) -> User:
    """Open an account holding the clerk role over one village of the user's territory."""
    if not can_open_clerks(user):
        raise PermissionDenied
    village = writable_for_user(user, Village).filter(pk=village_id).first()
    if village is None:
        raise Http404
    model = get_user_model()
    errors: dict[str, list[str]] = {}
    if model.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This user name is taken. Choose another one.")]
    candidate = model(username=username, first_name=full_name)
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    clerk = model.objects.create_user(username=username, password=password, first_name=full_name)
    RoleAssignment.objects.create(user=clerk, role=Role.VILLAGE_CLERK, village=village)
    audit_record(user=user, action="clerk.created", object_type="user", object_id=clerk.pk,
                 detail={"village": village.pk})
    return clerk


def clerks_of(user):
    """The clerk roles over the villages of the user's territory."""
    return (RoleAssignment.objects.filter(role=Role.VILLAGE_CLERK, village__in=writable_for_user(user, Village))
            .select_related("user", "village").order_by("village__name", "user__username"))


class ClerkForm(forms.Form):
    village = forms.ModelChoiceField(queryset=Village.objects.none(), label=_lazy("Village"))
    full_name = forms.CharField(label=_lazy("Full name"), max_length=150)
    username = forms.RegexField(label=_lazy("User name"), max_length=40, regex=r"^[A-Za-z0-9_.-]{3,40}$",
                                help_text=_lazy("3 to 40 letters, digits, dots, dashes or underscores."))
    password = forms.CharField(label=_lazy("Initial password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = writable_for_user(user, Village).order_by("name")


class ClerkListView(LoginRequiredMixin, TemplateView):
    """The clerks of the user's villages, and the form that opens one more."""

    template_name = "customers/village/clerks.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_open_clerks(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ClerkForm(user=self.request.user))
        context.update(title=_("Village clerks"), clerks=clerks_of(self.request.user)[:500])
        return context

    def post(self, request, *args, **kwargs):
        form = ClerkForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                clerk = village_clerk_create(user=request.user, village_id=data["village"].pk,
                                             username=data["username"], full_name=data["full_name"],
                                             password=data["password"])
            except ValidationError as error:
                for field, messages_ in error.message_dict.items():
                    for message in messages_:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("%(name)s can now sign in as %(username)s and keep the list of "
                                            "%(village)s.") % {"name": clerk.first_name, "username": clerk.username,
                                                               "village": data["village"].name})
                return redirect("customers:village_clerks")
        return self.render_to_response(self.get_context_data(form=form))


urlpatterns = [path("", ClerkListView.as_view(), name="village_clerks")]
