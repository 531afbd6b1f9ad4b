"""Where the cut-out ends up: rotation and resizing, their sizes and their limit.

The answer's size is known from the upload's header and the options alone
(``output_size``), so validation refuses an answer over the limit before a
credit is reserved or a pixel decoded. ``reshape`` then turns and resizes in
one resampling straight to that size: turning a 10000x10000 image by 45
degrees first and resizing after would hold a 14143x14143 canvas (800 MB, twice
over while premultiplied) for an answer of 10000x10000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from removal.limits import MAX_SIDE

Size = tuple[int, int]
Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Geometry:
    angle: float = 0.0
    expand: bool = True
    width: int | None = None
    height: int | None = None
    exact_resize: bool = False


class OutputTooLarge(Exception):
    """The answer would exceed MAX_SIDE on a side; ``field`` is the option to blame."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def output_size(size: Size, geometry: Geometry) -> Size:
    """The size of the answer for an image of ``size`` (as decoded)."""
    turned = _turn(size, geometry.angle, geometry.expand)[1]
    return target_size(turned, geometry.width, geometry.height, geometry.exact_resize) or turned


def check_output(size: Size, geometry: Geometry) -> None:
    """Raise OutputTooLarge when the answer for ``size`` would be over the limit."""
    turned = _turn(size, geometry.angle, geometry.expand)[1]
    final = output_size(size, geometry)
    if max(final) <= MAX_SIDE:
        return
    limit = f"the maximum output size of {MAX_SIDE}x{MAX_SIDE}px"
    if geometry.exact_resize or not (geometry.width or geometry.height):
        # Sides that w/h do not set are the turned canvas's: the angle made them.
        raise OutputTooLarge(
            "angle",
            f"Rotating by {geometry.angle:g} degrees with expand=true makes the image "
            f"{turned[0]}x{turned[1]}px, larger than {limit}. "
            "Set 'w' and 'h' to fit it, or expand=false.",
        )
    field = "w" if geometry.width else "h"
    value = geometry.width or geometry.height
    raise OutputTooLarge(
        field,
        f"Resizing with '{field}'={value} makes the image {final[0]}x{final[1]}px, "
        f"larger than {limit}. Set both 'w' and 'h' to fit it.",
    )


def target_size(size: Size, width: int | None, height: int | None, exact: bool) -> Size | None:
    """The output size: exactly w x h, or fit inside it keeping the aspect ratio."""
    if not width and not height:
        return None
    w0, h0 = size
    if exact:
        return (width or w0, height or h0)
    if width and height:
        scale = min(width / w0, height / h0)
    elif width:
        scale = width / w0
    else:
        scale = height / h0
    return (max(1, round(w0 * scale)), max(1, round(h0 * scale)))


def reshape(owned: list[Image.Image], geometry: Geometry) -> Image.Image:
    """Turn and resize the single image in ``owned`` (emptied, to free it early).

    Mode L (a matte) or RGBA (a cut-out, resampled premultiplied so that
    transparent neighbours do not darken the edges). Quarter turns are exact
    transposes; other angles are one bicubic affine transform to the final
    size, after a Lanczos shrink when the answer is smaller than the turned
    canvas (bicubic sampling alone would alias).
    """
    # No local name for the image: _resample must be able to free it.
    size, square = owned[0].size, owned[0].width == owned[0].height
    final = output_size(size, geometry)
    turn = geometry.angle % 360
    quarter = _QUARTERS.get(turn)
    if turn == 0 or (quarter is not None and (geometry.expand or turn == 180 or square)):
        if quarter is not None:
            owned.append(owned.pop().transpose(quarter))
        if owned[0].size == final:
            return owned.pop()
        return _resample(owned, lambda im: im.resize(final, Image.Resampling.LANCZOS))

    matrix, canvas = _turn(size, geometry.angle, geometry.expand)
    scale_x, scale_y = canvas[0] / final[0], canvas[1] / final[1]
    # Shrink the source by the smaller of the two reductions with Lanczos;
    # the transform then resamples by at most the remaining factor.
    shrink = min(scale_x, scale_y)

    def turn_image(im: Image.Image) -> Image.Image:
        source_w, source_h = im.size
        if shrink > 1.25:
            small = (max(1, round(source_w / shrink)), max(1, round(source_h / shrink)))
            im = im.resize(small, Image.Resampling.LANCZOS)
        ratio_x, ratio_y = im.width / source_w, im.height / source_h
        a, b, c, d, e, f = matrix
        fitted = (
            a * scale_x * ratio_x,
            b * scale_y * ratio_x,
            c * ratio_x,
            d * scale_x * ratio_y,
            e * scale_y * ratio_y,
            f * ratio_y,
        )
        fill = 0 if im.mode == "L" else (0, 0, 0, 0)
        return im.transform(
            final, Image.Transform.AFFINE, fitted, Image.Resampling.BICUBIC, fillcolor=fill
        )

    return _resample(owned, turn_image)


_QUARTERS = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _resample(owned: list[Image.Image], step) -> Image.Image:
    """Apply ``step`` to the image in ``owned``; RGBA goes through premultiplied.

    Each full-size intermediate is dropped as soon as the next exists, so at
    most two are alive at once (Pillow's own RGBA path keeps three).
    """
    if owned[0].mode != "RGBA":
        return step(owned.pop())
    owned.append(owned.pop().convert("RGBa"))
    owned.append(step(owned.pop()))
    return owned.pop().convert("RGBA")


def _turn(size: Size, angle: float, expand: bool) -> tuple[Matrix, Size]:
    """Pillow's Image.rotate: the output->input affine matrix and the canvas size."""
    w, h = size
    turn = angle % 360
    if turn == 0:
        return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), size
    if turn in (90, 270) and (expand or w == h):
        return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (h, w)
    if turn == 180:
        return (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), size
    radians = -math.radians(angle)
    cos, sin = round(math.cos(radians), 15), round(math.sin(radians), 15)
    a, b, d, e = cos, sin, -sin, cos
    cx, cy = w / 2, h / 2
    c = a * -cx + b * -cy + cx
    f = d * -cx + e * -cy + cy
    if expand:
        corners = [
            (a * x + b * y + c, d * x + e * y + f) for x, y in ((0, 0), (w, 0), (w, h), (0, h))
        ]
        nw = math.ceil(max(x for x, _ in corners)) - math.floor(min(x for x, _ in corners))
        nh = math.ceil(max(y for _, y in corners)) - math.floor(min(y for _, y in corners))
        dx, dy = -(nw - w) / 2.0, -(nh - h) / 2.0
        c, f = a * dx + b * dy + c, d * dx + e * dy + f
        w, h = nw, nh
    return (a, b, c, d, e, f), (w, h)
