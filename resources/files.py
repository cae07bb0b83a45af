"""Stored files: safe names in, safe paths out, and the facts a file response needs.

Everything goes through Django's storage API (`default_storage`), so a bucket configured via
django-storages works like the local media root. Paths from requests are checked twice: by
`clean_path` (no `..`, absolute paths, NUL or backslashes) and, on the local file system, by
resolving symlinks and insisting the real file is still under MEDIA_ROOT.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, default_storage

EXTRA_TYPES = {
    ".log": "text/plain",
    ".yaml": "text/yaml",
    ".yml": "text/yaml",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".conf": "text/plain",
    ".toml": "text/plain",
    ".properties": "text/plain",
    ".webp": "image/webp",
}
# Characters never kept in a stored name segment: path separators, Windows-reserved, controls.
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")
MAX_NAME_LENGTH = 120


class InvalidPath(ValueError):
    """A requested path that could escape the storage root (or is otherwise malformed)."""


def clean_path(raw: str) -> str:
    """A relative storage name with `/` separators, or InvalidPath.

    Refuses rather than repairs: an attempt to climb out is an error, not something to guess at.
    """
    if not raw or "\x00" in raw or "\\" in raw:
        raise InvalidPath("path must be a non-empty relative path with / separators")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
        raise InvalidPath("absolute paths are not allowed")
    parts = raw.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidPath("path segments may not be empty, '.' or '..'")
    if any(_CONTROL_CHARS.search(part) for part in parts):
        raise InvalidPath("path contains control characters")
    return "/".join(parts)


def local_path(name: str) -> Path | None:
    """The real file behind `name` for local storage (symlinks resolved, kept under the root)."""
    if not isinstance(default_storage, FileSystemStorage):
        return None
    try:
        candidate = Path(default_storage.path(name))
    except SuspiciousFileOperation:
        raise InvalidPath("path escapes the storage root") from None
    root = Path(default_storage.location).resolve()
    real = candidate.resolve()
    if real != root and root not in real.parents:
        raise InvalidPath("path escapes the storage root")
    return real


def content_type_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    content_type = EXTRA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in {"application/json", "application/xml"}:
        content_type += "; charset=utf-8"
    return content_type


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    modified: datetime | None
    content_type: str
    path: Path | None  # set for local storage

    @property
    def etag(self) -> str:
        stamp = self.modified.timestamp() if self.modified else 0
        digest = hashlib.sha256(f"{self.name}:{self.size}:{stamp}".encode()).hexdigest()[:32]
        return f'"{digest}"'

    @property
    def filename(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def open(self) -> IO[bytes]:
        if self.path is not None:
            return open(self.path, "rb")  # noqa: SIM115 — closed by the response
        return default_storage.open(self.name, "rb")


def find_stored(name: str) -> StoredFile | None:
    """The stored file called `name` (already cleaned), or None when there is no such file."""
    path = local_path(name)
    if path is not None:
        if not path.is_file():
            return None
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime).astimezone()
        return StoredFile(name, stat.st_size, modified, content_type_of(name), path)
    if not default_storage.exists(name):
        return None
    try:
        modified = default_storage.get_modified_time(name)
    except (NotImplementedError, OSError):
        modified = None
    return StoredFile(name, default_storage.size(name), modified, content_type_of(name), None)


def safe_segment(value: str, *, fallback: str = "file") -> str:
    """One readable, harmless path segment: Unicode letters kept, separators/controls dropped."""
    value = unicodedata.normalize("NFC", value or "")
    value = value.replace("\\", "/").rsplit("/", 1)[-1]
    value = _UNSAFE_CHARS.sub("_", value)
    value = _SPACES.sub("_", value).strip("._ ")
    if not value or value in {".", ".."}:
        value = fallback
    if len(value) > MAX_NAME_LENGTH:
        stem, dot, ext = value.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            value = stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            value = value[:MAX_NAME_LENGTH]
    return value


def extension_of(filename: str) -> str:
    return os.path.splitext(filename)[1].lower().lstrip(".")
