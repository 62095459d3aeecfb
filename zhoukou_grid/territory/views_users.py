"""The users page of administrators (outside the Django admin): list, create, change,
deactivate, roles, sign out everywhere. Rules and audit live in `territory.accounts`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from zhoukou_grid.core.scoping import for_user
from zhoukou_grid.core.views import display_name
from zhoukou_grid.territory import accounts
from zhoukou_grid.territory.models import Grid, Role, RoleAssignment, Station, UserProfile

User = get_user_model()

ROLE_CHOICES = [(role.value, role.label) for role in accounts.ASSIGNABLE_ROLES]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_lazy("Role"), choices=ROLE_CHOICES)
    station = forms.ModelChoiceField(label=_lazy("Station"), queryset=Station.objects.none(), required=False,
                                     help_text=_lazy("For station staff."))
    grid = forms.ModelChoiceField(label=_lazy("Grid"), queryset=Grid.objects.none(), required=False,
                                  help_text=_lazy("For a grid manager."))

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = for_user(actor, Station, include_context=False).order_by("code")
        self.fields["grid"].queryset = for_user(actor, Grid, include_context=False).order_by("code")


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_lazy("Name"), max_length=150,
                                help_text=_lazy("As customers see it, e.g. 张伟."))
    phone = forms.CharField(label=_lazy("Work phone"), max_length=20, required=False,
                            help_text=_lazy("The number customers call: printed on service cards and plan sheets."))


class UserCreateForm(ProfileForm, RoleForm):
    username = forms.CharField(label=_lazy("Login name"), max_length=150)
    password = forms.CharField(label=_lazy("First password"), widget=forms.PasswordInput(render_value=False),
                               help_text=_lazy("Tell it to the user; they change it after signing in."))
    field_order = ["username", "full_name", "phone", "password", "role", "station", "grid"]


def _put_errors(form, error: ValidationError) -> None:
    for field, messages_ in getattr(error, "error_dict", {None: error.error_list}).items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


def _ids(form) -> dict:
    data = form.cleaned_data
    return {"role": data["role"], "station_id": data["station"].pk if data.get("station") else None,
            "grid_id": data["grid"].pk if data.get("grid") else None}


class UsersMixin(LoginRequiredMixin):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not accounts.may_manage_users(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class UserListView(UsersMixin, View):
    def get(self, request):
        users = accounts.users_for(request.user).prefetch_related(
            Prefetch("role_assignments", queryset=RoleAssignment.objects.select_related("county", "station", "grid")))
        query = request.GET.get("q", "").strip()
        if query:
            users = users.filter(username__icontains=query) | users.filter(first_name__icontains=query)
        page = Paginator(users, 50).get_page(request.GET.get("page"))
        phones = dict(UserProfile.objects.filter(user__in=page.object_list).values_list("user_id", "phone"))
        rows = [{"user": user, "name": display_name(user), "phone": phones.get(user.pk, ""),
                 "roles": [f"{a.get_role_display()} · {a.territory.name if a.territory else _('all')}"
                           for a in user.role_assignments.all()]}
                for user in page.object_list]
        return render(request, "portal/users/list.html", {
            "title": _("Users"), "rows": rows, "page_obj": page, "paginator": page.paginator, "q": query})


class UserCreateView(UsersMixin, View):
    def get(self, request):
        return self.render(UserCreateForm(actor=request.user))

    def render(self, form, status=200):
        return render(self.request, "portal/users/create.html", {"title": _("New user"), "form": form},
                      status=status)

    def post(self, request):
        form = UserCreateForm(request.POST, actor=request.user)
        if form.is_valid():
            try:
                user = accounts.user_create(
                    actor=request.user, username=form.cleaned_data["username"],
                    full_name=form.cleaned_data["full_name"], phone=form.cleaned_data["phone"],
                    password=form.cleaned_data["password"], **_ids(form))
            except ValidationError as error:
                _put_errors(form, error)
            else:
                messages.success(request, _("User %(name)s is created.") % {"name": display_name(user)})
                return HttpResponseRedirect(reverse("users:detail", args=[user.pk]))
        return self.render(form, status=400)


class UserDetailView(UsersMixin, View):
    """GET shows the user; POST `action` = profile | role_add | role_remove | deactivate | activate | sign_out."""


    def get_user(self, pk):
        user = accounts.users_for(self.request.user).filter(pk=pk).first()
        if user is None:
            raise Http404
        return user

    def render(self, user, *, profile_form=None, role_form=None, status=200):
        profile = UserProfile.objects.filter(user=user).first()
        return render(self.request, "portal/users/detail.html", {
            "title": display_name(user), "object": user,
            "phone": profile.phone if profile else "",
            "assignments": user.role_assignments.select_related("county", "station", "grid").order_by("pk"),
            "can_change": accounts.can_change(self.request.user, user),
            "profile_form": profile_form or ProfileForm(initial={
                "full_name": display_name(user) if (user.first_name or user.last_name) else "",
                "phone": profile.phone if profile else ""}),
            "role_form": role_form or RoleForm(actor=self.request.user),
        }, status=status)

    def get(self, request, pk):
        return self.render(self.get_user(pk))

    def post(self, request, pk):
        user = self.get_user(pk)
        action = request.POST.get("action", "")
        actor = request.user
        try:
            if action == "profile":
                form = ProfileForm(request.POST)
                if not form.is_valid():
                    return self.render(user, profile_form=form, status=400)
                accounts.user_update(actor=actor, user_id=user.pk, **form.cleaned_data)
                messages.success(request, _("The name and work phone are saved."))
            elif action == "role_add":
                form = RoleForm(request.POST, actor=actor)
                if not form.is_valid():
                    return self.render(user, role_form=form, status=400)
                try:
                    accounts.user_role_assign(actor=actor, user_id=user.pk, **_ids(form))
                except ValidationError as error:
                    _put_errors(form, error)
                    return self.render(user, role_form=form, status=400)
                messages.success(request, _("The role is given."))
            elif action == "role_remove":
                accounts.user_role_remove(actor=actor, user_id=user.pk,
                                          assignment_id=int(request.POST.get("assignment") or 0))
                messages.success(request, _("The role is taken away."))
            elif action in ("deactivate", "activate"):
                accounts.user_set_active(actor=actor, user_id=user.pk, active=action == "activate")
                messages.success(request, _("The user can no longer sign in; every session of theirs has ended.")
                                 if action == "deactivate" else _("The user can sign in again."))
            elif action == "sign_out":
                ended = accounts.user_sign_out_everywhere(actor=actor, user_id=user.pk)
                messages.success(request, _("Signed out on every device (%(n)d sessions ended).") % {"n": ended})
            else:
                raise Http404
        except (ValueError, TypeError):
            raise Http404 from None
        if accounts.users_for(actor).filter(pk=user.pk).exists():
            return HttpResponseRedirect(reverse("users:detail", args=[user.pk]))
        return HttpResponseRedirect(reverse("users:list"))


__all__ = ["Role", "UserCreateView", "UserDetailView", "UserListView"]
