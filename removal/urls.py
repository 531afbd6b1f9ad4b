from __future__ import annotations

from django.urls import path

from removal import pages, views

urlpatterns = [
    path("rmbg", views.RemoveBackgroundView.as_view(), name="rmbg"),
    path("api/models", views.ModelsView.as_view(), name="models"),
    path("editor/", pages.editor, name="editor"),
]
