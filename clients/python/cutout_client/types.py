"""What the calls return. Usage and model objects keep the server's field names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """An upload or download progress event, shaped like axios's (rembg.js's callbacks)."""

    loaded: int
    total: int | None
    progress: float | None  # loaded / total, 0..1, when the total is known
    bytes: int  # bytes since the previous event
    upload: bool = False
    download: bool = False


class RemovalOptions(TypedDict, total=False):
    """``remove``'s options, which batches apply to every file."""

    format: str | None
    mask: bool
    w: int
    h: int
    exact_resize: bool
    angle: float | None
    expand: bool
    bg_color: str | None
    model: str | None


class ProgressCallback(Protocol):
    def __call__(self, event: Progress) -> object: ...


@dataclass(frozen=True)
class Result:
    """A cut-out: the encoded image and what the server said about it."""

    content: bytes
    format: Literal["png", "webp", "jpeg", "bmp"] | str
    width: int
    height: int
    credits_charged: int
    idempotency_key: str

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.content)
        return target


@dataclass(frozen=True)
class Model:
    name: str
    default: bool
    family: str
    licence: str
    credits: int
    source: str


@dataclass(frozen=True)
class Models:
    default: str
    models: list[Model]


@dataclass(frozen=True)
class BillingCycleSummary:
    """An entry of ``billingCycles`` (newest first)."""

    periodStartUnix: int  # noqa: N815 - the server's field names, as documented
    periodEndUnix: int  # noqa: N815
    appUsage: int  # noqa: N815
    apiUsage: int  # noqa: N815


@dataclass(frozen=True)
class BillingCycle(BillingCycleSummary):
    """``billingCycle``: one period's usage and credits."""

    includedCredits: int  # noqa: N815
    prepaidCredits: int  # noqa: N815
    usedIncludedCredits: int  # noqa: N815
    remainingIncludedCredits: int  # noqa: N815
    stripeBillingSynced: bool  # noqa: N815


@dataclass(frozen=True)
class MembershipUsage:
    membership: str
    credits: int
    prepaidCredits: int  # noqa: N815
    app_usage: int
    api_usage: int
    billingCycle: BillingCycle | None = None  # noqa: N815


def build(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from a JSON object; keys a newer server adds are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def usage_from(data: dict[str, Any]) -> MembershipUsage:
    cycle = data.get("billingCycle")
    usage = build(MembershipUsage, {**data, "billingCycle": None})
    if cycle:
        usage = dataclasses.replace(usage, billingCycle=build(BillingCycle, cycle))
    return usage


def models_from(data: dict[str, Any]) -> Models:
    return Models(data["default"], [build(Model, m) for m in data["models"]])
