from django.contrib import admin
from django.urls import include, path

from chat.languages import Catalog

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # /i18n/setlang/
    path("jsi18n/<str:language>/<str:version>.js", Catalog.as_view(), name="js_catalog"),
    path("", include("chat.urls")),
]
