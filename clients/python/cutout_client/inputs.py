"""From inputs (files, folders, globs) to (source, target) pairs, for the CLI and remove_many."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# What a folder contributes; files named one by one are sent whatever their name.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


@dataclass(frozen=True)
class Task:
    source: Path
    target: Path


def plan(inputs: Iterable[str | os.PathLike[str]], outdir: Path, extension: str) -> list[Task]:
    """One task per image; a folder keeps its layout under ``outdir``.

    FileNotFoundError for an input that is no file or folder and matches nothing.
    """
    pairs: list[tuple[Path, Path]] = []  # (source, path relative to outdir, before suffix)
    for name in map(os.fspath, inputs):
        path = Path(name)
        if path.is_dir():
            pairs += _folder(path)
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        else:
            matches = sorted(glob.glob(name, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{name}: no such file, folder or match")
            for match in map(Path, matches):
                if match.is_dir():
                    pairs += _folder(match)
                elif match.is_file():
                    pairs.append((match, Path(match.name)))
    tasks: list[Task] = []
    seen_sources: set[Path] = set()
    seen_targets: set[Path] = set()
    for source, relative in pairs:
        if source.resolve() in seen_sources:
            continue
        seen_sources.add(source.resolve())
        target = outdir / relative.with_suffix(f".{extension}")
        if target in seen_targets:
            # photo.jpg and photo.png in one folder: keep both.
            suffix = relative.suffix.lstrip(".")
            target = outdir / relative.with_name(f"{relative.stem}-{suffix}.{extension}")
        seen_targets.add(target)
        tasks.append(Task(source, target))
    return tasks


def _folder(folder: Path) -> list[tuple[Path, Path]]:
    return [
        (path, path.relative_to(folder))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
    ]
