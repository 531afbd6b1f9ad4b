"""A side-by-side sheet of the fixture photos: original | u2netp | isnet, on a flat colour.

    .venv/bin/python benchmarks/compare_models.py     # writes artifacts/model-comparison.png

Runs our pipeline in process (the same code as POST /rmbg), so anyone can look at
what each model keeps and loses. isnet's column is left out if it is not installed.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "fixtures" / "photos"
OUT = ROOT / "artifacts" / "model-comparison.png"
CELL = (420, 360)  # every picture fits inside a cell of this size
BACKGROUND = (38, 200, 80, 255)  # a flat green: every lost or ghosted pixel shows


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from PIL import Image, ImageDraw

    from removal import registry
    from removal.pipeline import RemovalOptions, remove_background

    models = [name for name in ("u2netp", "isnet") if name in registry.installed()]
    rows = []
    for photo in sorted(PHOTOS.glob("*.jpg")):
        data = photo.read_bytes()
        original = Image.open(io.BytesIO(data)).convert("RGBA")
        cells = [original]
        for name in models:
            options = RemovalOptions(format="PNG", model=name, bg_color=BACKGROUND)
            cells.append(Image.open(io.BytesIO(remove_background(data, options).content)))
        scale = min(CELL[0] / original.width, CELL[1] / original.height)
        size = (round(original.width * scale), round(original.height * scale))
        rows.append([cell.convert("RGB").resize(size, Image.Resampling.LANCZOS) for cell in cells])
        print(f"{photo.name}: done", file=sys.stderr)

    labels = ["original", *models]
    sheet = Image.new("RGB", (CELL[0] * len(labels), 30 + CELL[1] * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, label in enumerate(labels):
        draw.text((i * CELL[0] + 8, 8), label, fill="black")
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            left = c * CELL[0] + (CELL[0] - cell.width) // 2
            top = 30 + r * CELL[1] + (CELL[1] - cell.height) // 2
            sheet.paste(cell, (left, top))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT)
    print(OUT)


if __name__ == "__main__":
    main()
