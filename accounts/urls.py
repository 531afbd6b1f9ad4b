from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<int:pk>/rename", views.rename_api_key, name="api-key-rename"),
    path("api-keys/<int:pk>/revoke", views.revoke_api_key, name="api-key-revoke"),
]
