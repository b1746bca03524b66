"""Remote checkpoint directories (``s3://``, ``gs://``, ``sftp://``, ...) through fsspec.

:func:`filesystem_for` turns what the user typed into ``(FileSystem, path)``: a plain path or a
``file://`` URL gives :data:`~dashboard.reading.fs.LOCAL_FS` and the local path; any other URL
gives a :class:`FsspecFileSystem` and the URL itself, which the reader joins with ``/`` like a
local path (``s3://bucket/run/training_log.jsonl``). fsspec and its backends (s3fs, gcsfs, sshfs)
are imported only here and only for a URL, so the base install stays light; credentials and
endpoints come from each backend's own environment and config (``AWS_ENDPOINT_URL``,
``AWS_PROFILE``, ``~/.ssh/config``) plus the ``storage_options`` given.

:class:`FsspecFileSystem` implements the :class:`~dashboard.reading.fs.FileSystem` seam:

- :meth:`~FsspecFileSystem.listdir` drops fsspec's listing cache of the directory first, so each
  poll sees new objects; the stats that follow in the same poll are answered from that listing.
- :meth:`~FsspecFileSystem.open` returns a file whose every ``read`` is one range read
  (``cat_file(path, start, end)``): a tailer that seeks to its offset fetches only the new bytes
  (:attr:`~FsspecFileSystem.bytes_fetched` counts them).
- Object stores have no inodes and rewrite whole objects: ``st_ino`` is a hash of the path (so a
  re-uploaded, longer object is the same file and is read on from the held offset, while a
  rewrite is caught by the tailer's fingerprints), ``st_mtime`` is the object's modification
  time, and the sub-second digits of ``st_mtime_ns`` carry a hash of its ETag (so a rewrite within
  the same second still reads as a change).
- Every backend failure other than a missing file (bad credentials, server down, no backend
  installed) is a :class:`~dashboard.errors.RemoteUnavailable` whose message says what to check.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TypeVar, cast

from dashboard.errors import RemoteUnavailable, UnsafeFile
from dashboard.reading.fs import LOCAL_FS, FileSystem
from dashboard.reading.range_file import RangeFile, read_at

__all__ = [
    "EXTRAS",
    "MAX_BACKOFF_S",
    "REMOTE_POLL_INTERVAL_S",
    "FsspecFileSystem",
    "RemoteStat",
    "RemoteUnavailable",
    "filesystem_for",
    "is_remote",
    "remote_stat",
]

#: default seconds between polls of a remote directory (no filesystem events come from there)
REMOTE_POLL_INTERVAL_S = 5.0
#: the longest wait between polls after repeated remote errors
MAX_BACKOFF_S = 60.0
#: the pip extra that brings each protocol's fsspec backend
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "sftp": "ssh", "ssh": "ssh"}

_T = TypeVar("_T")
#: backends whose ``cat_file`` ignores ``start``/``end``: read at an offset through ``open``
_OPEN_READ_PROTOCOLS = frozenset(("sftp", "ssh"))


def _scheme(location: str) -> str | None:
    head, sep, _ = location.partition("://")
    return head.lower() if sep and head and "/" not in head else None


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL read through fsspec (not a plain path, not ``file://``)."""
    return isinstance(location, str) and _scheme(location) not in (None, "file", "local")


def _hint(location: str) -> str:
    scheme = _scheme(location) or ""
    if scheme in ("s3", "s3a"):
        return (
            "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE), "
            "the endpoint (AWS_ENDPOINT_URL for MinIO/Ceph) and the bucket name"
        )
    if scheme in ("gs", "gcs"):
        return "check GOOGLE_APPLICATION_CREDENTIALS (or gcloud auth) and the bucket name"
    if scheme in ("sftp", "ssh"):
        return "check the host, ~/.ssh/config and the SSH key (or --storage-option password=...)"
    return "check the URL, the credentials and --storage-option values"


def filesystem_for(
    location: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> tuple[FileSystem, str]:
    """``(file system, path)`` for a directory given as a path or an fsspec URL.

    A plain path or ``file://`` URL: :data:`LOCAL_FS` and the local path. Another URL: a new
    :class:`FsspecFileSystem` (fsspec's instance cache skipped, so changed credentials count)
    and the URL without a trailing ``/``. Raises :class:`RemoteUnavailable` when fsspec or the
    protocol's backend is not installed, naming the extra to install."""
    if not is_remote(location):
        text = os.fspath(location)
        if _scheme(text) is not None:
            text = text.partition("://")[2]
        return LOCAL_FS, text
    url = cast(str, location).rstrip("/")
    scheme = cast(str, _scheme(url))
    install = (
        f"pip install 'thalia-monitor[{EXTRAS[scheme]}]'"
        if scheme in EXTRAS
        else f"install the fsspec backend that reads {scheme}:// URLs"
    )
    try:
        import fsspec

        protocol = fsspec.get_filesystem_class(scheme).protocol
    except (ImportError, ValueError) as exc:
        raise RemoteUnavailable(errno.ENOPROTOOPT, f"cannot read {url}: {exc}; {install}") from None
    options = dict(storage_options or {})

    def connect() -> Any:
        return fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)[0]

    return FsspecFileSystem(connect, url=url, protocol=protocol), url


@dataclass(frozen=True)
class RemoteStat:
    """The stat fields the reader uses, made from an fsspec ``info`` dict (see the module)."""

    st_mode: int
    st_dev: int
    st_ino: int
    st_size: int
    st_mtime: float
    st_mtime_ns: int


def _mtime(info: Mapping[str, Any]) -> float:
    for key in ("LastModified", "mtime", "updated", "last_modified", "modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return 0.0


def _tag(info: Mapping[str, Any]) -> str:
    for key in ("ETag", "etag", "md5Hash", "generation", "crc32c", "VersionId"):
        if info.get(key) is not None:
            return str(info[key])
    return ""


def remote_stat(path: str, info: Mapping[str, Any]) -> RemoteStat:
    """A :class:`RemoteStat` for the object ``path`` described by ``info``."""
    is_dir = info.get("type") == "directory"
    mode = (stat_mod.S_IFDIR | 0o555) if is_dir else (stat_mod.S_IFREG | 0o444)
    mtime = _mtime(info)
    seconds = int(mtime)
    tag = _tag(info)
    sub = zlib.crc32(tag.encode()) % 1_000_000_000 if tag else int((mtime - seconds) * 1e9)
    return RemoteStat(
        st_mode=mode,
        st_dev=0,
        st_ino=zlib.crc32(path.encode("utf-8", "replace")),
        st_size=int(info.get("size") or 0),
        st_mtime=mtime,
        st_mtime_ns=seconds * 1_000_000_000 + sub,
    )


class FsspecFileSystem:
    """The :class:`~dashboard.reading.fs.FileSystem` seam over one fsspec file system (or a
    function that makes it: then it connects at first use, inside the error handling, so a
    refused login is a read error on the state, not an exception from the constructor).

    Paths are what the reader joins (the URL and ``/``-joined names); each call hands the
    backend its own form (``_strip_protocol``: ``bucket/run/...`` for S3, ``/path`` for SSH).
    Read-only: nothing here writes. :attr:`bytes_fetched` and :attr:`requests` count the bytes
    and range reads of :meth:`open`'s files (what a refresh costs on the wire, minus listings).
    """

    def __init__(
        self, fs: Any, *, url: str = "", protocol: str | tuple[str, ...] | None = None
    ) -> None:
        self._fs: Any = None if callable(fs) else fs
        self._connect: Callable[[], Any] | None = fs if callable(fs) else None
        self.url = url
        self.bytes_fetched = 0
        self.requests = 0
        protocol = protocol if protocol is not None else fs.protocol
        protocols = protocol if isinstance(protocol, tuple | list) else (protocol,)
        self._ranged = not _OPEN_READ_PROTOCOLS.intersection(protocols)

    @property
    def fs(self) -> Any:
        """The fsspec file system, connected on first use (a failure is retried next time)."""
        if self._fs is None and self._connect is not None:
            self._fs = self._connect()
        return self._fs

    def _call(self, what: str, path: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except (FileNotFoundError, NotADirectoryError, UnsafeFile):
            raise
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise RemoteUnavailable(
                getattr(exc, "errno", None) or errno.EIO,
                f"cannot {what} {path}: {reason} ({type(exc).__name__}); {_hint(self.url or path)}",
            ) from None

    def listdir(self, path: str) -> list[str]:
        def ls() -> list[str]:
            native = self.fs._strip_protocol(path)
            self.fs.invalidate_cache(native)
            entries = [str(e).rstrip("/") for e in self.fs.ls(native, detail=False)]
            if entries == [native.rstrip("/")] and self.fs.isfile(native):  # ls of an object
                raise NotADirectoryError(errno.ENOTDIR, f"{path} is a file, not a directory")
            return [os.path.basename(e) for e in entries]

        return [n for n in self._call("list", path, ls) if n]

    def stat(self, path: str) -> RemoteStat:
        return remote_stat(
            path, self._call("stat", path, lambda: self.fs.info(self.fs._strip_protocol(path)))
        )

    lstat = stat  # no symlinks on an object store; an SSH server follows them itself

    def realpath(self, path: str, *, strict: bool = False) -> str:
        if strict:
            self.stat(path)
        return path.rstrip("/")

    def open(self, path: str) -> IO[bytes]:
        st = self.stat(path)
        if not stat_mod.S_ISREG(st.st_mode):
            raise UnsafeFile(
                errno.EINVAL, f"{os.path.basename(path)} is a directory, not a file: not read"
            )
        return cast(IO[bytes], RangeFile(self.fetch, path, st.st_size))

    def fetch(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``path`` in one range read (counted): ``cat_file`` with a
        range, or for backends whose ``cat_file`` ignores it (sshfs) a seek and a read on the
        backend's file (SFTP reads at an offset). A backend found ignoring the range at run
        time is switched over too, that one answer cut to the range asked."""
        native = self.fs._strip_protocol(path)
        if self._ranged:
            data = self._call("read", path, lambda: self.fs.cat_file(native, start=start, end=end))
        else:
            data = self._call("read", path, lambda: read_at(self.fs, native, start, end))
        self.requests += 1
        self.bytes_fetched += len(data)
        if len(data) > end - start:  # the whole object came back
            self._ranged = False
            data = data[start:end]
        return bytes(data)
