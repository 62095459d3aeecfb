"""Template context shared by every page: the user's role, for navigation."""

from .scoping import primary_role


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_role": None}
    return {"user_role": primary_role(user)}
