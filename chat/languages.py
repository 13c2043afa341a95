"""The page's language, as templates and the browser client need it.

Pages are translated by Django (LocaleMiddleware picks the language); the client's strings come
from Django's JavaScript catalog. The catalog is served at a URL that names its language and a
digest of its compiled translations, so a browser may keep it for a year and still never run an
old one after a deploy, and one cached response never answers a request in another language.
"""

from __future__ import annotations

import hashlib
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.views.i18n import JavaScriptCatalog

DOMAIN = "djangojs"


def html_lang(language: str) -> str:
    """BCP 47 as browsers and Intl expect it: "zh-Hans", not Django's "zh-hans"."""
    return translation.to_locale(language).replace("_", "-")


@cache
def catalog_version(language: str) -> str:
    """A digest of the compiled client catalogue: it changes when a translation does."""
    digest = hashlib.sha256()
    for root in settings.LOCALE_PATHS:
        mo = root / translation.to_locale(language) / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo.exists():
            digest.update(mo.read_bytes())
    return digest.hexdigest()[:12]


def context(request: HttpRequest) -> dict[str, str]:
    """For base.html: <html lang>, the catalog's URL and the language to switch to."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    other = next(code for code, _ in settings.LANGUAGES if code != language)
    return {
        "html_lang": html_lang(language),
        "js_catalog_url": reverse(
            "js_catalog", kwargs={"language": language, "version": catalog_version(language)}
        ),
        "other_language": other,
        "other_language_name": dict(settings.LANGUAGES)[other],
    }


class Catalog(JavaScriptCatalog):
    """Django's catalog in the language its URL names, cacheable for a year."""

    domain = DOMAIN

    def get(self, request: HttpRequest, *args: object, **kwargs: str) -> HttpResponse:
        language = kwargs["language"]
        if language not in dict(settings.LANGUAGES):
            raise Http404("No such language.")
        with translation.override(language):
            response = super().get(request)
        patch_cache_control(response, public=True, max_age=365 * 24 * 3600, immutable=True)
        return response
