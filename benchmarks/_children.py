"""Child modes: the in-process floor (project venv) and rembg's library (rembg venv).

The entry point runs itself with ``--child MODE SPEC``; each child imports only what
its venv has."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from _common import (
    REMBG_GUARD,
    ROOT,
)


def child_inproc(spec: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from removal import imaging, pipeline
    from removal.inference import get_model
    from removal.pipeline import RemovalOptions, remove_background

    model = get_model()
    model.predict(imaging.decode(imaging.open_image(io.BytesIO(_tiny_jpeg()), "JPEG")))

    out: dict = {
        "settings": {
            name: getattr(settings, name)
            for name in (
                "REMOVAL_INTRA_OP_THREADS",
                "REMOVAL_MAX_CONCURRENCY",
                "REMOVAL_PNG_COMPRESS_LEVEL",
                "REMOVAL_WEBP_QUALITY",
                "REMOVAL_CPU_MEM_ARENA",
                "REMOVAL_SOLO_THREADS",
                "REMOVAL_PNG_PARALLEL_MIN_PIXELS",
                "REMOVAL_WEBP_METHOD",
                "REMOVAL_MALLOC_ARENA_MAX",
            )
        },
        "timings": {},
        "phases": {},
    }
    for job in spec["jobs"]:
        data = Path(job["path"]).read_bytes()
        options = RemovalOptions(format=job["format"])
        remove_background(data, options)  # warm: first call of a size allocates buffers
        times = []
        for _ in range(job["reps"]):
            start = time.perf_counter()
            remove_background(data, options)
            times.append(time.perf_counter() - start)
        out["timings"][f"{job['size']}/{job['format']}"] = times

    for job in spec["phases"]:
        data = Path(job["path"]).read_bytes()
        phases: dict[str, list[float]] = {}

        def timed(name, fn, *args, _phases=phases):
            start = time.perf_counter()
            value = fn(*args)
            _phases.setdefault(name, []).append(time.perf_counter() - start)
            return value

        for _ in range(job["reps"]):
            image = timed(
                "decode (JPEG->RGB)",
                lambda d: imaging.decode(imaging.open_image(io.BytesIO(d), "JPEG")),
                data,
            )
            tensor = timed("model: resize to 320 + normalise", model.preprocess, image)
            raw = timed(
                "model: onnxruntime run",
                model.session.run,
                None,
                {model.input_name: tensor},
            )

            def matte_from(raw_output, size):
                prediction = raw_output[0][0, 0]
                low, high = prediction.min(), prediction.max()
                span = (high - low) or 1.0
                from PIL import Image

                small = Image.fromarray(((prediction - low) / span * 255).astype("uint8"), mode="L")
                return small.resize(size, Image.Resampling.LANCZOS)

            matte = timed("model: matte upscale (LANCZOS)", matte_from, raw, image.size)
            cut = timed("cut-out (paste + putalpha)", pipeline.cut_out, image, matte)
            cut = pipeline.fill_background(cut, None, opaque=False)
            for fmt in job["formats"]:
                timed(f"encode {fmt}", pipeline.encode, [cut], fmt)
        out["phases"][job["size"]] = phases
    return out


def _tiny_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 130, 140)).save(buffer, "JPEG")
    return buffer.getvalue()


def child_rembg_lib(spec: dict) -> dict:
    exec(REMBG_GUARD, {})  # noqa: S102 - our own constant
    import onnxruntime
    from PIL import Image
    from rembg import new_session, remove
    from rembg.sessions.u2netp import U2netpSession

    model_file = U2netpSession.resolve_existing("u2netp.onnx")
    session = new_session("u2netp")
    out: dict = {
        "model_file": model_file,
        "onnxruntime": onnxruntime.__version__,
        "timings": {},
        "phases": {},
    }
    for job in spec["jobs"]:
        data = Path(job["path"]).read_bytes()
        remove(data, session=session)  # warm
        times = []
        for _ in range(job["reps"]):
            start = time.perf_counter()
            result = remove(data, session=session)
            times.append(time.perf_counter() - start)
        assert result[:8] == b"\x89PNG\r\n\x1a\n"
        out["timings"][job["size"]] = times
        # Where rembg's time goes: decode, everything up to the cut-out, PNG encode.
        phases: dict[str, list[float]] = {}
        for _ in range(max(1, job["reps"] // 2)):
            t0 = time.perf_counter()
            image = Image.open(io.BytesIO(data))
            image.load()
            t1 = time.perf_counter()
            cutout = remove(image, session=session)
            t2 = time.perf_counter()
            cutout.save(io.BytesIO(), "PNG")
            t3 = time.perf_counter()
            phases.setdefault("decode", []).append(t1 - t0)
            phases.setdefault("model + cut-out", []).append(t2 - t1)
            phases.setdefault("encode PNG (Pillow default level 6)", []).append(t3 - t2)
        out["phases"][job["size"]] = phases
    return out
