"""Values built once per process, on first use: the model, the Redis client, ..."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """Decorator: calls ``build`` on first use, once even when threads race, then returns its value.

    Tests that need a new value (other settings, a Redis of their own) set ``value``
    back to None with monkeypatch, which restores the old one afterwards.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self.build = build
        self.value: T | None = None
        self._lock = threading.Lock()
        functools.update_wrapper(self, build)

    def __call__(self) -> T:
        value = self.value
        if value is None:
            with self._lock:
                if self.value is None:
                    self.value = self.build()
                value = self.value
        return value
