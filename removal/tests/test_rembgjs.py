"""The official Node client, @remove-background-ai/rembg.js 1.3.1, against our /rmbg.

The package is run unmodified by ``tests/js/harness.cjs``; the only change is an
axios interceptor (in the harness) that sends its hard-coded
``https://api.rembg.com/rmbg`` to the live test server instead.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"
HARNESS = JS_DIR / "harness.cjs"
CAR = Path(__file__).parent / "data" / "car-1.jpg"  # 480x360
CAR_SIZE = (480, 360)

# Points of car-1.jpg well inside the background and well inside the car
# (checked against rembg's own u2netp cut-out). The first two background points
# are bright and the car points mid-grey in the photo, so a matte that merely
# echoes the photo's brightness fails.
BACKGROUND = [(440, 300), (400, 200), (100, 60), (240, 30)]
CAR_BODY = [(120, 230), (100, 260), (300, 200), (240, 180)]


def run_harness(base_url: str, params: dict) -> dict:
    """Run rembg() from the npm package once and return the harness's JSON."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed; rembg.js needs Node.js >= 18 on PATH")
    if not (JS_DIR / "node_modules" / "@remove-background-ai" / "rembg.js").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `npm ci --prefix tests/js` first")
    completed = subprocess.run(
        ["node", str(HARNESS), json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REMBG_BASE_URL": base_url},
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture
def rembgjs(live_server, alice_key):
    """rembg() as alice, against the live server: rembgjs(kind=..., file=..., **options)."""

    def call(*, kind: str = "path", file: Path = CAR, api_key: str = alice_key, **options):
        params = {"apiKey": api_key, "input": kind, "file": str(file), "options": options}
        return run_harness(live_server.url, params)

    return call


def image_from(result: dict) -> Image.Image:
    """Decode what rembg.js handed back: a file it wrote, or its data URL."""
    assert result["ok"], result["error"]
    if "base64Image" in result:
        header, _, payload = result["base64Image"].partition(",")
        assert header == "data:image/png;base64"  # rembg.js labels every format png
        data = base64.b64decode(payload, validate=True)
    else:
        data = base64.b64decode(result["outputBase64"], validate=True)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_car_cut_out(alpha: Image.Image) -> None:
    assert alpha.size == CAR_SIZE
    for point in BACKGROUND:
        assert alpha.getpixel(point) <= 16, f"background at {point} is not transparent"
    for point in CAR_BODY:
        assert alpha.getpixel(point) >= 240, f"car at {point} is not opaque"


def assert_cut_out_webp(image: Image.Image) -> None:
    assert image.format == "WEBP"
    assert image.mode == "RGBA"
    assert_car_cut_out(image.getchannel("A"))


def test_it_removes_background_from_a_file_path(rembgjs):
    assert_cut_out_webp(image_from(rembgjs(kind="path")))


def test_it_removes_background_from_a_buffer(rembgjs):
    # rembg.js uploads a Buffer as "image.png" / image/png, whatever the bytes are.
    assert_cut_out_webp(image_from(rembgjs(kind="buffer")))


@pytest.mark.parametrize("kind", ["base64", "data_url"])
def test_it_removes_background_from_base64_with_or_without_a_data_url_prefix(rembgjs, kind):
    assert_cut_out_webp(image_from(rembgjs(kind=kind)))


def test_it_returns_webp_when_no_format_is_given(rembgjs):
    image = image_from(rembgjs())

    assert image.format == "WEBP"


@pytest.mark.parametrize("fmt", ["png", "PNG"])
def test_it_returns_png_when_asked(rembgjs, fmt):
    image = image_from(rembgjs(format=fmt))

    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert_car_cut_out(image.getchannel("A"))


@pytest.mark.parametrize("fmt", ["webp", "WEBP"])
def test_it_returns_webp_when_asked(rembgjs, fmt):
    assert_cut_out_webp(image_from(rembgjs(format=fmt)))


def test_it_returns_the_mask_as_a_single_channel_image(rembgjs):
    mask = image_from(rembgjs(returnMask=True, format="png"))

    assert mask.format == "PNG"
    assert mask.mode == "L"
    assert_car_cut_out(mask)


def test_it_returns_the_mask_as_a_greyscale_webp_by_default(rembgjs):
    mask = image_from(rembgjs(returnMask=True))

    assert mask.format == "WEBP"
    assert "A" not in mask.getbands()
    # WebP has no single-channel mode; a greyscale matte decodes with R = G = B.
    rgb = np.asarray(mask.convert("RGB"), dtype=np.int16)
    assert np.abs(rgb - rgb[..., :1]).max() <= 3
    assert_car_cut_out(mask.convert("L"))


def test_it_returns_base64_that_decodes_to_the_image(rembgjs):
    # rembg.js base64-encodes the body itself, so the server must send raw bytes.
    result = rembgjs(returnBase64=True)

    assert "outputImagePath" not in result
    assert_cut_out_webp(image_from(result))


def test_it_resizes_to_fit_inside_w_and_h_keeping_the_aspect_ratio(rembgjs):
    image = image_from(rembgjs(w=240, h=240, format="png"))

    assert image.size == (240, 180)


def test_it_resizes_to_exactly_w_by_h_with_exact_resize(rembgjs):
    image = image_from(rembgjs(w=100, h=50, exact_resize=True, format="png"))

    assert image.size == (100, 50)


def test_it_leaves_the_size_alone_when_w_and_h_are_zero(rembgjs):
    image = image_from(rembgjs(w=0, h=0, format="png"))

    assert image.size == CAR_SIZE


def test_it_rotates_counter_clockwise_and_expands_by_default(rembgjs):
    upright = image_from(rembgjs(format="png")).getchannel("A")
    rotated = image_from(rembgjs(angle=90, format="png"))

    assert rotated.size == (360, 480)
    alpha = rotated.getchannel("A")
    ccw = upright.transpose(Image.Transpose.ROTATE_90)
    cw = upright.transpose(Image.Transpose.ROTATE_270)
    assert mean_abs_difference(alpha, ccw) < 2
    assert mean_abs_difference(alpha, cw) > 20


def test_it_rotates_within_the_original_size_when_expand_is_false(rembgjs):
    upright = image_from(rembgjs(format="png")).getchannel("A")
    rotated = image_from(rembgjs(angle=90, expand=False, format="png"))

    assert rotated.size == CAR_SIZE
    alpha = rotated.getchannel("A")
    # The turned 360-wide picture sits centred, leaving 60 px empty either side,
    # where the upright car would have been opaque.
    left, right = alpha.crop((0, 0, 58, 360)), alpha.crop((422, 0, 480, 360))
    assert left.getextrema()[1] <= 8
    assert right.getextrema()[1] <= 8
    assert mean_abs_difference(alpha, upright.rotate(90)) < 4


def test_it_fills_the_background_with_bg_color(rembgjs):
    image = image_from(rembgjs(bg_color="#ff0000", format="png")).convert("RGBA")

    assert image.size == CAR_SIZE
    assert image.getpixel((0, 0)) == (255, 0, 0, 255)
    assert image.getpixel(BACKGROUND[0]) == (255, 0, 0, 255)
    red, green, blue, alpha = image.getpixel(CAR_BODY[0])
    assert alpha == 255
    assert abs(red - green) < 40  # the silver car stays silver, not red


def test_it_surfaces_a_400_for_a_file_that_is_not_an_image(rembgjs, tmp_path):
    # A known extension, so the signature is the only thing wrong with it.
    not_an_image = tmp_path / "holiday.jpg"
    not_an_image.write_text("these are not the pixels you are looking for\n")

    result = rembgjs(kind="path", file=not_an_image)

    assert not result["ok"]
    message = result["error"]
    assert "400" in message
    assert "File does not appear to be a valid image (invalid file signature)" in message
    body = json.loads(message.split("400", 1)[1])
    assert body["status"] == 400
    assert body["field"] == "image"


def test_it_surfaces_a_401_for_an_unknown_key(rembgjs):
    result = rembgjs(api_key="rbg_" + "x" * 40)

    assert not result["ok"]
    assert result["request"]["headers"]["x-api-key"] == "rbg_" + "x" * 40
    assert result["error"] == '❌ 401 {"error":"invalid api key","status":401}'


def mean_abs_difference(first: Image.Image, second: Image.Image) -> float:
    assert first.size == second.size
    a = np.asarray(first, dtype=np.int16)
    b = np.asarray(second, dtype=np.int16)
    return float(np.abs(a - b).mean())
