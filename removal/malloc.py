"""glibc malloc tuning for a threaded worker; a no-op off glibc.

gunicorn's gthread workers run each request on one of many threads, and glibc
gives threads their own malloc arenas (up to 8 per core), each keeping freed
memory for itself: the resident size grows with the thread count. Capping the
arenas and trimming after a big image hands that memory back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None  # musl, macOS...: nothing to tune
    return libc


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas; call before the request threads start."""
    libc = _libc()
    if libc is None or count <= 0:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> None:
    """Return free heap pages to the system (they stay reserved otherwise)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
