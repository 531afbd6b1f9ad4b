from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import operations, views

# The admin signs in through allauth's login, and so under its limits on failed
# attempts; the admin's own form would try passwords without any.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("metrics", operations.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the footer's switcher
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("api/openapi", SpectacularAPIView.as_view(), name="openapi"),
    # The split view loads its start-up script from a URL, not inline: the CSP allows that.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="openapi", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("", include("removal.urls")),
    path("", include("batches.urls")),
    path("", include("billing.urls")),
]
