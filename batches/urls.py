from __future__ import annotations

from django.urls import path

from batches import views

urlpatterns = [
    path("api/batches", views.BatchesView.as_view(), name="batches"),
    path("api/batches/callback-secret", views.CallbackSecretView.as_view(), name="callback-secret"),
    path("api/batches/<str:batch_id>", views.BatchView.as_view(), name="batch"),
    path(
        "api/batches/<str:batch_id>/files/<str:index>",
        views.BatchFileView.as_view(),
        name="batch-file",
    ),
    path(
        "api/batches/<str:batch_id>/result.zip",
        views.BatchResultView.as_view(),
        name="batch-result",
    ),
]
