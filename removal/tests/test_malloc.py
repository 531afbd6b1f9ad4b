"""glibc tuning: arenas capped at worker start, heap trimmed after big images."""

from __future__ import annotations

import io

from PIL import Image

from removal import malloc, pipeline


def test_it_caps_the_arenas_on_glibc():
    assert malloc.limit_arenas(2) is (malloc._libc() is not None)


def test_it_trims_the_heap_after_a_big_image_only(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(malloc, "trim", lambda: calls.append(1))
    settings.REMOVAL_MALLOC_TRIM_MIN_PIXELS = 100 * 100
    for size, expected in (((99, 100), []), ((100, 100), [1])):
        buffer = io.BytesIO()
        Image.new("RGB", size, "white").save(buffer, "PNG")
        pipeline.remove_background(buffer.getvalue(), pipeline.RemovalOptions(format="PNG"))
        assert calls == expected
