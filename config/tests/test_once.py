"""Per-process values are built once, however many threads ask at the same time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from config.once import PerProcess


def test_racing_threads_share_one_build():
    builds = []

    @PerProcess
    def expensive() -> object:
        """Something slow to build."""
        builds.append(1)
        time.sleep(0.05)  # long enough for every thread to arrive while it builds
        return object()

    start = threading.Barrier(8)

    def use(_):
        start.wait()
        return expensive()

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(use, range(8)))
    assert len(builds) == 1
    assert all(value is values[0] for value in values)
    assert expensive.__doc__ == "Something slow to build."


def test_forgetting_the_value_builds_it_again(monkeypatch):
    counter = iter(range(10))

    @PerProcess
    def numbered() -> int:
        return next(counter) + 1

    assert numbered() == numbered() == 1
    monkeypatch.setattr(numbered, "value", None)
    assert numbered() == 2
