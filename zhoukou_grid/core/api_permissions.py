"""API permissions: authenticated, and the Django permission for the verb.

Which rows is decided by `scoping.for_user` in each viewset's `get_queryset`; this
class only decides which verbs.
"""

from rest_framework.permissions import DjangoModelPermissions

from zhoukou_grid.core.scoping import may_use_api


class ModelPermissions(DjangoModelPermissions):
    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # A user holding only web-only roles (a village clerk) is refused every endpoint.
        if request.user and request.user.is_authenticated and not may_use_api(request.user):
            return False
        return super().has_permission(request, view)
