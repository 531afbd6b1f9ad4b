from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = "Batches"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from batches.metrics import BatchQueueCollector

        if not getattr(REGISTRY, "_cutout_batches", False):
            REGISTRY.register(BatchQueueCollector())
            REGISTRY._cutout_batches = True
