"""A SECRET_KEY for the embedded defaults: random, made once, kept in a file.

A constant in the source would let anyone sign user tokens and sessions for any
install that runs without SECRET_KEY; a key generated on first start and kept
beside the SQLite database survives restarts like the data it protects.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

logger = logging.getLogger(__name__)


def load_or_create(path: Path) -> str:
    """The key kept in ``path``, created (owner-only, mode 0600) if there is none yet."""
    try:
        if not path.exists():
            _create(path)
        key = path.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE {path}: {exc}") from None
    if not key:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE {path} is empty: delete it or fill it")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name (mkstemp: O_EXCL, mode 0600), then
    # published with link(), which fails if the name exists: of processes that
    # start together exactly one key wins, and nobody reads a half-written file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(get_random_secret_key() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process made it first: use theirs
    finally:
        os.unlink(temporary)
    logger.warning(
        "SECRET_KEY is not set: generated a random one, kept in %s (owner-only). "
        "Set SECRET_KEY in production.",
        path,
    )
