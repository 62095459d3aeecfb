"""Language choice for the portal: Chinese first, English by the switch.

Django's LocaleMiddleware follows the browser's Accept-Language, so a phone or a
headless browser set to English would open the portal in English. The portal's users
work in Chinese: the pages speak the language chosen with the switch (the language
cookie) and otherwise LANGUAGE_CODE. The API keeps honouring Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

API_PREFIX = "/api/"


class PortalLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        if request.path.startswith(API_PREFIX):
            return super().process_request(request)
        language = settings.LANGUAGE_CODE
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen:
            try:
                language = translation.get_supported_language_variant(chosen)
            except LookupError:
                pass
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
