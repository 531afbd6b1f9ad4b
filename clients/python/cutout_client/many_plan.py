"""What remove_many sends: its inputs as files, each with the path of its output.

A folder keeps its layout under the output folder (as `cutout remove`); a ZIP
archive is unpacked here, its images going to a folder named after it, with the
rules the server applies inside archives (no absolute or ``..`` paths, no
encrypted entries, no archives inside, Finder's ``__MACOSX`` and dotfiles left
out). Unpacked here rather than sent whole, each entry is a file of its own, so
an archive of any size is split across batches like a folder.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cutout_client.inputs import Task, plan

MAX_FILE_BYTES = 50 * 1024 * 1024  # the server's, per file: a larger one is not sent
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ARCHIVE_MAGIC = (*ZIP_MAGIC, b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"Rar!")
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}
SKIPPED = re.compile(r"(^|/)(__MACOSX/|\.[^/]*$)")


@dataclass(frozen=True)
class Item:
    source: str  # a path, or "archive.zip:path/in/archive.jpg"
    target: Path
    size: int
    open: Callable[[], IO[bytes]]
    stamp: str  # this version of the file, for the Idempotency-Key


@dataclass(frozen=True)
class Failure:
    source: str
    error: str
    batch_id: str | None = None  # None: refused before sending


class Plan:
    """``items`` to send; ``failed`` refused before sending; ``skipped`` (their output exists)."""

    def __init__(
        self, inputs: Iterable[Any], outdir: Path, extension: str, skip_existing: bool
    ) -> None:
        self.extension, self.skip_existing = extension, skip_existing
        self.failed: list[Failure] = []
        self.skipped: list[str] = []
        self._archives: list[zipfile.ZipFile] = []
        tasks = plan(inputs, outdir, extension)
        self.items = [item for task in tasks for item in self._items(task)]

    def close(self) -> None:
        for archive in self._archives:
            archive.close()

    def _items(self, task: Task) -> list[Item]:
        source = task.source
        try:
            with source.open("rb") as head:
                if head.read(4) in ZIP_MAGIC:
                    return self._archive(source, task.target.with_suffix(""))
            stat = source.stat()
        except OSError as exc:
            self._fail(str(source), f"could not be read ({exc.strerror or exc})")
            return []
        if self._skip(task.target, str(source)):
            return []
        stamp = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        opener = lambda: source.open("rb")  # noqa: E731
        item = Item(str(source), task.target, stat.st_size, opener, stamp)
        return [item] if self._fits(item) else []

    def _archive(self, path: Path, folder: Path) -> list[Item]:
        """An archive's images, each to ``folder``/its path; it becomes a folder of outputs."""
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            self._fail(str(path), f"could not be read as a ZIP file ({exc})")
            return []
        self._archives.append(archive)
        stamp = f"{path.resolve()}|{path.stat().st_mtime_ns}"
        items = []
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            if info.is_dir() or SKIPPED.search(name):
                continue
            source, parts = f"{path}:{info.filename}", PurePosixPath(name).parts
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                self._fail(source, "unsafe path in the archive: not unpacked")
                continue
            if info.flag_bits & 0x1:
                self._fail(source, "encrypted entry: not unpacked")
                continue
            if PurePosixPath(name).suffix.lower() in ARCHIVE_SUFFIXES or _starts_archive(
                archive, info
            ):
                self._fail(source, "an archive inside an archive: not unpacked")
                continue
            target = folder.joinpath(*parts).with_suffix(f".{self.extension}")
            if self._skip(target, source):
                continue
            opener = lambda archive=archive, info=info: archive.open(info)  # noqa: E731
            item = Item(source, target, info.file_size, opener, f"{stamp}|{name}|{info.CRC}")
            if self._fits(item):
                items.append(item)
        return items

    def _skip(self, target: Path, source: str) -> bool:
        if self.skip_existing and target.exists():
            self.skipped.append(source)
            return True
        return False

    def _fits(self, item: Item) -> bool:
        if item.size > MAX_FILE_BYTES:
            mb = item.size / (1024 * 1024)
            self._fail(
                item.source, f"File size ({mb:.1f} MB) exceeds the maximum allowed size of 50 MB."
            )
            return False
        return True

    def _fail(self, source: str, error: str) -> None:
        self.failed.append(Failure(source, error))


def _starts_archive(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        with archive.open(info) as entry:
            return entry.read(8).startswith(ARCHIVE_MAGIC)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError):
        return False  # the server's check of the file says what is wrong with it
