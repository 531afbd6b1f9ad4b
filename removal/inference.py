"""The one module that talks to onnxruntime.

Each model is loaded once per process and shared by every thread; onnxruntime's
``InferenceSession.run`` is thread-safe. What a model's input and output look
like is its family's (removal.registry): u2net follows rembg's u2netp session
exactly, so our masks match rembg's reference cut-outs; isnet follows IMG.LY's
own code for its ISNet (see ``MaskModel.preprocess``).
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
from django.conf import settings
from PIL import Image

from config.once import PerProcess
from config.operations import INFERENCE_SECONDS
from removal import registry
from removal.registry import FAMILIES, Family, ModelSpec

logger = logging.getLogger(__name__)


class UnknownModel(Exception):
    """A model that is not installed on this server."""


class MaskModel:
    """A salient-object model that predicts an alpha matte.

    Two sessions of a light model are loaded: ``solo`` uses every core for an
    image that runs alone (the latency of a lone request), ``shared`` uses a
    core share for images that overlap (throughput under load). onnxruntime
    cannot change a session's thread count per run, hence two sessions; the
    second costs a few MB. A heavy model (isnet: 176 MB of weights, ~500 MB of
    working memory a run) has one session on every core and runs one image at
    a time per process (``exclusive``), so its memory stays bounded and it
    does not take the cores from itself. Both are created here, never per request.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str = "",
        family: Family = FAMILIES["u2net"],
        intra_op_threads: int = 0,
        solo_threads: int | None = None,
        cpu_mem_arena: bool = False,
        shared_arena: bool = False,
        exclusive: bool = False,
    ):
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        self.path = path
        self.name = name or path.stem
        self.family = family
        solo_threads = intra_op_threads if solo_threads is None else solo_threads
        if exclusive:
            intra_op_threads = solo_threads
        arenas = (cpu_mem_arena, shared_arena)
        self.shared = _session(path, intra_op_threads, *arenas)
        self.solo = (
            self.shared
            if solo_threads == intra_op_threads
            else _session(path, solo_threads, *arenas)
        )
        self.session = self.solo
        self.input_name = self.shared.get_inputs()[0].name
        self.output_name = self.shared.get_outputs()[0].name
        self._turn = threading.Lock() if exclusive else None
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._mean = np.array(family.mean, dtype=np.float32)
        self._std = np.array(family.std, dtype=np.float32)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """The model's input tensor [1, 3, side, side].

        u2net, as rembg: Lanczos to 320², divided by the brightest value, ImageNet
        mean and std. isnet, as IMG.LY's code: bilinear to 1024², (x - 128) / 256.
        Where ours differs from IMG.LY's: Pillow's bilinear filter averages over
        the source pixels when it shrinks (theirs samples four, which aliases),
        and we keep floats instead of rounding the resized image to bytes.
        """
        family = self.family
        # convert() copies even an RGB image; skip it for RGB (same pixels).
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        side = (family.side, family.side)
        small = np.asarray(rgb.resize(side, Image.Resampling[family.resample]), dtype=np.float32)
        if family.scale_to_peak:
            small /= small.max() or 1  # an all-black image would divide by zero
        else:
            small /= 256
        normalised = (small - self._mean) / self._std
        return normalised.transpose((2, 0, 1))[np.newaxis]

    def predict(self, image: Image.Image, *, background: bool = False) -> Image.Image:
        """Return the alpha matte ("L" mode) at the size of ``image``.

        ``background`` (big images, see removal.pipeline.big_image_lane): the
        shared session (by default one thread, and then onnxruntime runs on
        the calling thread, at its lower priority), not counted as in flight,
        so a small image beside it still gets the solo session.
        """
        tensor = self.preprocess(image)
        timer = INFERENCE_SECONDS.labels(self.name).time()
        with self._taking_turns(), self._pick_session(background) as session, timer:
            output = session.run([self.output_name], {self.input_name: tensor})
        prediction = output[0][0, 0]
        if self.family.output == "minmax":
            low, high = prediction.min(), prediction.max()
            span = (high - low) or 1.0
            matte = ((prediction - low) / span * 255).astype(np.uint8)
            resample = Image.Resampling.LANCZOS
        else:
            # IMG.LY's code truncates x * 255 into bytes, so a value a hair over 1
            # wraps to black; clipped, it stays opaque.
            matte = np.rint(np.clip(prediction, 0.0, 1.0) * 255).astype(np.uint8)
            resample = Image.Resampling.BILINEAR
        return Image.fromarray(matte).resize(image.size, resample)

    @contextmanager
    def _taking_turns(self):
        if self._turn is None:
            yield
            return
        with self._turn:
            yield

    @contextmanager
    def _pick_session(self, background: bool = False):
        if background:
            yield self.shared  # not counted: a small image beside it gets the solo session
            return
        with self._in_flight_lock:
            session = self.solo if self._in_flight == 0 else self.shared
            self._in_flight += 1
        try:
            yield session
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1


def _session(
    path: Path, threads: int, cpu_mem_arena: bool, shared_arena: bool = False
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = cpu_mem_arena or shared_arena
    if shared_arena:
        # One arena for the process, registered once, that every light session
        # allocates from: an arena's speed without one arena's memory a session.
        shared_cpu_arena()
        options.add_session_config_entry("session.use_env_allocators", "1")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Worker threads that spin between operators steal the core an overlapping
    # inference needs; measured, a lone 2-thread run is no slower without it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


@PerProcess
def shared_cpu_arena() -> bool:
    info = ort.OrtMemoryInfo(
        "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
    )
    ort.create_and_register_allocator(info, None)
    return True


class Loaded(dict):
    """The models this process has loaded, by file; one lock so each loads once."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


@PerProcess
def loaded() -> Loaded:
    return Loaded()


def get_model(name: str | None = None) -> MaskModel:
    """The process-wide model called ``name`` (the default when None), loaded once."""
    spec = resolve(name)
    models = loaded()
    model = models.get(spec.path)
    if model is None:
        with models.lock:
            model = models.get(spec.path)
            if model is None:
                model = models[spec.path] = load(spec)
    return model


def resolve(name: str | None) -> ModelSpec:
    """The installed model called ``name``; the default model must exist, loudly."""
    default = settings.REMOVAL_DEFAULT_MODEL
    spec = registry.all_models().get(name or default)
    if spec is not None and not spec.installed and spec.name == default:
        raise FileNotFoundError(f"model file not found: {spec.path}")
    if spec is None or not spec.installed:
        raise UnknownModel(name)
    return spec


def load(spec: ModelSpec) -> MaskModel:
    heavy = spec.family.side > FAMILIES["u2net"].side
    model = MaskModel(
        spec.path,
        name=spec.name,
        family=spec.family,
        intra_op_threads=intra_op_threads(),
        solo_threads=solo_threads(),
        cpu_mem_arena=settings.REMOVAL_CPU_MEM_ARENA,
        # isnet's working memory is ~500 MB a run: an arena would keep it for good.
        shared_arena=settings.REMOVAL_SHARED_ARENA and not heavy,
        exclusive=heavy,
    )
    logger.info(
        "Loaded background-removal model %s (%s); a lone image runs on %d thread(s)",
        spec.name,
        spec.path.name,
        solo_threads(),
    )
    return model


# Processes that each run one image at a time side by side on this machine: a Celery
# worker's pool sets it (share_cores) before its models load.
_sharing = 1


def share_cores(processes: int) -> None:
    """This process is one of ``processes`` that each run one image at a time (a worker's pool).

    Its lone inferences then take cores / processes threads, not every core. On 2 cores,
    a 200-image batch on 2 pool processes of 2 threads each took 75 s (with a database
    connection a file too) against 69 s with 1 each, and each process held a second
    u2netp session (the worker's peak: 1,194 MiB against 1,017);
    benchmarks/bench_batch.py and its README.
    Call it before the models load (they keep their thread counts).
    """
    global _sharing
    _sharing = max(1, processes)


def intra_op_threads() -> int:
    """Threads per inference, so concurrent inferences together fill the cores."""
    configured = settings.REMOVAL_INTRA_OP_THREADS
    if configured:
        return configured
    return max(1, (os.cpu_count() or 1) // settings.REMOVAL_MAX_CONCURRENCY)


def solo_threads() -> int:
    """Threads for an inference that has the process to itself."""
    return settings.REMOVAL_SOLO_THREADS or max(1, (os.cpu_count() or 1) // _sharing)


def warm_up() -> None:
    """Load every installed model and run it once, so no first request is the slow one.

    isnet loads at start too, not on first use: its load and first run take
    seconds, which the first user of it should not wait for. An operator who
    installed it wants it offered; a worker that must stay small runs without it
    (REMOVAL_MODEL_DIR elsewhere).
    """
    if not settings.REMOVAL_WARM_UP:
        return
    # A photo-sized image, through predict(): the resizes around the model warm up
    # too (measured: warming the session alone left isnet's first request 1.7x slower).
    photo = Image.new("RGB", (1024, 768), (128, 128, 128))
    for name in registry.installed():
        model = get_model(name)
        model.predict(photo)
        if model.shared is not model.solo:
            tensor = model.preprocess(photo)
            model.shared.run([model.output_name], {model.input_name: tensor})
