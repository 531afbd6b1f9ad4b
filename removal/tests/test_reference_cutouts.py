"""Our cut-outs carry the same alpha as rembg's own u2netp reference results."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import DATA
from removal.tests.helpers import decode


@pytest.mark.parametrize("name", ["car-1", "anime-girl-1"])
def test_alpha_matches_rembg_reference(rmbg, name):
    photo = (DATA / f"{name}.jpg").read_bytes()
    reference = np.asarray(Image.open(DATA / f"{name}.u2netp.png"))[..., 3].astype(int)

    image = decode(rmbg(photo, name=f"{name}.jpg", format="png"))

    assert image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3].astype(int)
    assert alpha.shape == reference.shape
    difference = np.abs(alpha - reference)
    assert difference.mean() <= 1 / 255
    assert (difference > 8).mean() < 0.001
