"""Segment mode: the JSON-lines log as immutable, numbered objects, for object stores (no append).

``CurriculumLogger("s3://bucket/run", segment_every_s=60)`` (or a local directory with
``segment_every_s=`` for a directory that a sync job copies) writes its lines not to one growing
``training_log.jsonl`` but to segments ``training_log.000000.jsonl``, ``training_log.000001.jsonl``,
... (rank N > 0: ``training_log.rank{N}.000000.jsonl``; names in :mod:`.contract`). A segment is
closed, and written as one object, every ``segment_every_s`` seconds or ``segment_max_bytes``
bytes of lines, at each :meth:`SegmentSink.flush` (``logger.flush()``, before metadata and
``run_end``) and at close. A segment is written once, whole: locally to a temporary file and
``os.replace`` (readers see all of it or nothing), remotely by one ``put`` through fsspec. Numbers
continue after the highest segment already there (a resumed run), so nothing is overwritten.

The trade-off: a reader sees lines only when their segment closes, so the dashboard lags by up
to ``segment_every_s``; in exchange each line costs one upload per segment, not one per flush,
and the reader reads each closed segment once (only the newest, if it is still growing under a
sync job, by range).

Guarantees as :class:`~thalia_logging.sink.JsonlSink` gives them where they apply: lines whole
and in order; a failed write (credentials, network, disk) keeps the lines (up to
``max_pending_bytes``, then the oldest are dropped and counted) and retries at the next close,
said once through :mod:`logging`; ``strict=True`` raises
:class:`~thalia_logging.sink.LogWriteError`. A background thread closes a due segment even when
the trainer goes quiet; :meth:`SegmentSink.close` stops it.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

from .contract import segment_info
from .metadata import write_atomic

__all__ = [
    "DEFAULT_SEGMENT_EVERY_S",
    "DEFAULT_SEGMENT_MAX_BYTES",
    "FsspecStore",
    "LocalStore",
    "Store",
    "is_url",
    "last_segment_step",
    "segment_numbers",
    "store_for",
]

DEFAULT_SEGMENT_EVERY_S = 60.0
"""Seconds a segment stays open when a URL is given without ``segment_every_s``."""
DEFAULT_SEGMENT_MAX_BYTES = 8 << 20
"""A segment is closed once its lines reach this many bytes."""

_log = logging.getLogger(__name__)


def is_url(location: object) -> bool:
    """Whether ``location`` is an fsspec URL other than ``file://`` (``s3://bucket/run``)."""
    if not isinstance(location, str):
        return False
    head, sep, _ = location.partition("://")
    return bool(sep and head and "/" not in head) and head.lower() not in ("file", "local")


class Store(Protocol):
    """Where segments (and, remotely, metadata) go: whole objects, each written once."""

    def names(self) -> list[str]:
        """The names already there (empty when the directory does not exist yet)."""
        ...

    def put(self, name: str, data: bytes) -> str:
        """Write ``name`` whole (readers see all of it or nothing); returns where it went."""
        ...

    def get(self, name: str) -> bytes:
        """The whole object ``name``."""
        ...


class LocalStore:
    """A local directory: temporary file + ``os.replace`` per object."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.fsync = fsync

    def names(self) -> list[str]:
        try:
            return os.listdir(self.directory)
        except FileNotFoundError:
            return []

    def put(self, name: str, data: bytes) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        return str(write_atomic(self.directory / name, data, fsync=self.fsync))

    def get(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()


class FsspecStore:
    """A remote directory through fsspec: one ``pipe_file`` (one PUT) per object. Backend errors
    become ``OSError`` naming the URL."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        try:
            import fsspec
        except ImportError:
            raise ImportError(
                f"writing to {url} needs fsspec and its backend: pip install 'thalia-monitor[s3]' "
                "(or [gcs], [ssh])"
            ) from None
        self.url = url.rstrip("/")
        self.fs, _ = fsspec.core.url_to_fs(
            self.url, skip_instance_cache=True, **dict(storage_options or {})
        )

    def _path(self, name: str) -> str:
        """The backend's own form of ``url/name`` (``bucket/run/name``, ``/path/name``)."""
        return str(self.fs._strip_protocol(f"{self.url}/{name}" if name else self.url))

    def names(self) -> list[str]:
        try:
            self.fs.invalidate_cache(self._path(""))
            return [
                os.path.basename(str(p).rstrip("/"))
                for p in self.fs.ls(self._path(""), detail=False)
            ]
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise OSError(errno.EIO, f"cannot list {self.url}: {exc}") from None

    def put(self, name: str, data: bytes) -> str:
        try:
            self.fs.pipe_file(self._path(name), data)
        except Exception as exc:
            raise OSError(errno.EIO, f"cannot write {self.url}/{name}: {exc}") from None
        return f"{self.url}/{name}"

    def get(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(name)))


def store_for(
    log_dir: str | os.PathLike[str],
    storage_options: Mapping[str, Any] | None = None,
    *,
    fsync: bool = True,
) -> Store:
    """An :class:`FsspecStore` for a URL, else a :class:`LocalStore` (``file://`` stripped)."""
    if is_url(log_dir):
        return FsspecStore(str(log_dir), storage_options)
    text = os.fspath(log_dir)
    return LocalStore(text.partition("://")[2] if "://" in text else text, fsync=fsync)


def _segments(store: Store, rank: int) -> list[tuple[int, str]]:
    found = ((segment_info(n), n) for n in store.names())
    return sorted((info[1], n) for info, n in found if info is not None and info[0] == rank)


def segment_numbers(store: Store, rank: int) -> list[int]:
    """The numbers of ``rank``'s segments already in ``store``, ascending."""
    return [number for number, _ in _segments(store, rank)]


def last_segment_step(store: Store, rank: int) -> int | None:
    """The highest ``step`` in the newest segment of ``rank`` that has one (a resume point)."""
    for _, name in reversed(_segments(store, rank)):
        steps = []
        for line in store.get(name).split(b"\n"):
            try:
                record = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                continue
            step = record.get("step") if isinstance(record, dict) else None
            if type(step) is int and step >= 0:
                steps.append(step)
        if steps:
            return max(steps)
    return None
