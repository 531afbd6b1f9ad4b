"""The files of a new batch: uploads and ZIP archives, checked, into batch storage.

Limits (each a clear 400): BATCH_MAX_FILES files after archives are expanded,
50 MB a file, BATCH_MAX_MB in all. An archive is read with the standard
library's zipfile, which never yields more bytes than an entry declares; the
declared sizes are checked against the limits before anything is extracted,
so a bomb is refused before it costs a byte of disk. Absolute paths, ``..``,
encrypted entries and archives inside archives are refused.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages

from config.errors import ApiError
from removal.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
from removal.uploads import CappedUploadHandler

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive, or an empty one
# Archives and compressed files, by their first bytes: none is unpacked inside a ZIP.
ARCHIVE_MAGIC = (
    *ZIP_MAGIC,
    b"\x1f\x8b",  # gzip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"Rar!\x1a\x07",  # RAR
)
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}
SKIPPED = re.compile(r"(^|/)(__MACOSX/|\.[^/]*$)")  # Finder's resource forks, dotfiles
NO_FILES = "No image file provided. Please include one or more 'image' fields in your form data."


def storage():
    return storages["batches"]


@dataclass(frozen=True)
class Stored:
    name: str  # what the user called it: the upload's name or its path in the archive
    path: str  # its name in batch storage
    size: int


class BatchUploadHandler(CappedUploadHandler):
    """Spools every file of a batch to disk, and stops storing past the batch's total limit.

    Nothing of a batch is held in memory. Each file keeps at most 50 MB + 1 byte
    (removal.uploads), the request at most BATCH_MAX_MB + 1 byte in all: a larger
    body is still read (and its size counted, for the 400) but not stored.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.budget = settings.BATCH_MAX_MB * 1024 * 1024 + 1
        request.batch_bytes = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.request.batch_bytes += len(raw_data)
        room = self.budget - self.request.batch_bytes + len(raw_data)
        if room > 0:
            super().receive_data_chunk(raw_data[:room], start)


def too_many() -> ApiError:
    return ApiError(
        f"Too many files: a batch takes at most {settings.BATCH_MAX_FILES} images.", field="image"
    )


def too_large() -> ApiError:
    return ApiError(
        f"The batch exceeds the maximum total size of {settings.BATCH_MAX_MB} MB.", field="image"
    )


def file_too_large(name: str, size: int) -> ApiError:
    return ApiError(
        f"File '{name}' ({size / (1024 * 1024):.1f} MB) exceeds "
        f"the maximum allowed size of {MAX_UPLOAD_MB} MB.",
        field="image",
    )


class Intake:
    """Stores a batch's files under ``batches/<id>/in/`` and deletes them again if refused."""

    def __init__(self, batch_id) -> None:
        self.prefix = f"batches/{batch_id}"
        self.stored: list[Stored] = []
        self.total = 0

    def add_uploads(self, uploads: list, received_bytes: int) -> list[Stored]:
        if not uploads:
            raise ApiError(NO_FILES, field="image")
        if received_bytes > settings.BATCH_MAX_MB * 1024 * 1024:
            raise too_large()
        try:
            for upload in uploads:
                upload.seek(0)
                if upload.read(4) in ZIP_MAGIC:
                    self._add_archive(upload)
                else:
                    self._add(upload.name or "image", upload, upload.size)
        except BaseException:
            self.discard()
            raise
        return self.stored

    def _add(self, name: str, content: BinaryIO, size: int) -> None:
        if len(self.stored) >= settings.BATCH_MAX_FILES:
            raise too_many()
        if size > MAX_UPLOAD_BYTES:
            raise file_too_large(name, size)
        self.total += size
        if self.total > settings.BATCH_MAX_MB * 1024 * 1024:
            raise too_large()
        content.seek(0)
        index = len(self.stored)
        suffix = PurePosixPath(name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""
        path = storage().save(f"{self.prefix}/in/{index:04d}{suffix}", File(content))
        self.stored.append(Stored(name=name, path=path, size=size))

    def _add_archive(self, upload) -> None:
        label = upload.name or "archive.zip"
        try:
            archive = zipfile.ZipFile(upload)
            entries = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError):
            raise bad_archive(label, "could not be read as a ZIP file") from None
        entries = [info for info in entries if not SKIPPED.search(info.filename)]
        # Everything is checked from the directory before a byte is extracted.
        if len(self.stored) + len(entries) > settings.BATCH_MAX_FILES:
            raise too_many()
        declared = self.total
        for info in entries:
            check_entry(label, info)
            if info.file_size > MAX_UPLOAD_BYTES:
                raise file_too_large(info.filename, info.file_size)
            declared += info.file_size
        if declared > settings.BATCH_MAX_MB * 1024 * 1024:
            raise too_large()
        for info in entries:
            try:
                with archive.open(info) as member:
                    if member.peek(8)[:8].startswith(ARCHIVE_MAGIC):
                        raise bad_archive(label, f"contains another archive: '{info.filename}'")
                    self._add(clean_name(info.filename), member, info.file_size)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
                raise bad_archive(label, f"has a damaged entry: '{info.filename}'") from None

    def discard(self) -> None:
        for item in self.stored:
            storage().delete(item.path)
        self.stored.clear()


def check_entry(label: str, info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise bad_archive(label, f"has an unsafe path: '{info.filename}'")
    if info.flag_bits & 0x1:
        raise bad_archive(label, f"has an encrypted entry: '{info.filename}'")
    if PurePosixPath(name).suffix.lower() in ARCHIVE_SUFFIXES:
        raise bad_archive(label, f"contains another archive: '{info.filename}'")


def clean_name(name: str) -> str:
    """An entry's path with forward slashes and no empty or ``.`` parts."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    return "/".join(parts) or "image"


def bad_archive(label: str, problem: str) -> ApiError:
    return ApiError(f"Archive '{label}' {problem}.", field="image")
