"""Login is required everywhere except the login page, /healthz and the API.

The API authenticates itself (session or token) and answers 401/403 as JSON instead
of redirecting to a login page. Its 404s are JSON with DEBUG on too (`ApiJsonNotFoundMiddleware`).
"""

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import JsonResponse

OPEN_PREFIXES = ("/api/", "/healthz", "/static/", "/i18n/")


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(OPEN_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ApiJsonNotFoundMiddleware:
    """A 404 under /api/ answered as an HTML page becomes the API's JSON 404.

    With DEBUG off, the site's handler404 (`core.api.not_found`) already answers JSON; with
    DEBUG on (`make run`) Django answers its technical HTML page instead, so a client or
    a schema test against a development server met a body the schema does not describe.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code == 404 and request.path.startswith("/api/")
                and response.get("Content-Type", "").startswith("text/html")):
            from rest_framework.exceptions import NotFound

            return JsonResponse({"detail": str(NotFound.default_detail)}, status=404)
        return response
