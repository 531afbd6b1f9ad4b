from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

DATA = Path(__file__).resolve().parent / "removal" / "tests" / "data"


@pytest.fixture(scope="session")
def car_jpeg() -> bytes:
    """A real 480x360 photo of a car on a plain background."""
    return (DATA / "car-1.jpg").read_bytes()


@pytest.fixture(scope="session")
def small_car_jpeg(car_jpeg: bytes) -> bytes:
    """The same car at 160x120: enough for the model, quick to process."""
    image = Image.open(io.BytesIO(car_jpeg)).resize((160, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()
