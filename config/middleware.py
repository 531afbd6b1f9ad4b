"""The language of pages: from the visitor's choice, else Accept-Language."""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

# The API answers in rembg.com's English words whatever the caller's language:
# clients match on them. Its reference page (/api/docs/) is a page like the others.
API_PREFIXES = ("/rmbg", "/api/openapi", "/api/membership-usage", "/api/models", "/stripe/")


class PageLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        if request.path.startswith(API_PREFIXES):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return
        super().process_request(request)

    def process_response(self, request, response):
        if request.path.startswith(API_PREFIXES):
            return response
        return super().process_response(request, response)
