"""Batch queue depth for /metrics, read from the database when Prometheus scrapes.

The files of every machine's batches are in one database, so any app host
reports the whole queue, not its own share.
"""

from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


class BatchQueueCollector:
    def describe(self):
        return [self._family()]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "cutout_batch_files",
            "Files of unfinished batches, by state (queued: waiting for a worker).",
            labels=["status"],
        )

    def collect(self):
        from django.db.models import Count

        from batches.models import BatchFile

        family = self._family()
        try:
            found = dict(
                BatchFile.objects.filter(status__in=BatchFile.UNFINISHED)
                .values_list("status")
                .annotate(n=Count("id"))
            )
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database did
            logger.warning("metrics: batch queue depth unavailable", exc_info=True)
            return
        for status in BatchFile.UNFINISHED:
            family.add_metric([status], found.get(status, 0))
        yield family
