"""The fsspec adapter without a server: URL rules, stat fields of objects, range reads (fsspec's
in-memory file system), and clear errors for a missing backend."""

from __future__ import annotations

import importlib.util
import stat
import uuid
from datetime import datetime, timezone

import pytest

from dashboard.errors import RemoteUnavailable
from dashboard.reading.fs import LOCAL_FS
from dashboard.reading.remote_fs import (
    FsspecFileSystem,
    filesystem_for,
    is_remote,
    remote_stat,
)


@pytest.mark.parametrize(
    ("location", "remote"),
    [
        ("s3://bucket/run", True),
        ("gs://b/r", True),
        ("sftp://host/path", True),
        ("memory://x", True),
        ("file:///tmp/run", False),
        ("/tmp/run", False),
        ("runs/a", False),
        ("weird/dir://x", False),
    ],
)
def test_which_locations_are_remote(location: str, remote: bool) -> None:
    assert is_remote(location) is remote


def test_plain_paths_and_file_urls_are_the_local_disk() -> None:
    assert filesystem_for("/tmp/run") == (LOCAL_FS, "/tmp/run")
    assert filesystem_for("file:///tmp/run") == (LOCAL_FS, "/tmp/run")


def test_object_stat_fields() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    a = remote_stat("b/run/log", {"type": "file", "size": 10, "LastModified": when, "ETag": "x"})
    b = remote_stat("b/run/log", {"type": "file", "size": 20, "LastModified": when, "ETag": "y"})
    assert stat.S_ISREG(a.st_mode) and a.st_size == 10 and a.st_mtime == when.timestamp()
    assert (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)  # same path: same file, re-uploaded
    assert a.st_mtime_ns // 10**9 == int(when.timestamp())
    assert a.st_mtime_ns != b.st_mtime_ns  # a new ETag within the same second is a change
    d = remote_stat("b/run", {"type": "directory", "size": 0})
    assert stat.S_ISDIR(d.st_mode) and d.st_mtime == 0.0
    iso = remote_stat("x", {"type": "file", "size": 1, "updated": "2026-01-02T03:04:05Z"})
    assert iso.st_mtime == when.timestamp()
    assert remote_stat("x", {"type": "file", "size": 1, "mtime": 12.5}).st_mtime == 12.5


def test_range_reads_fetch_only_what_is_read() -> None:
    url = f"memory://thalia-{uuid.uuid4().hex}"
    fs, location = filesystem_for(url + "/")
    assert isinstance(fs, FsspecFileSystem) and location == url
    fs.fs.pipe_file(url + "/training_log.jsonl", b"0123456789" * 10)
    assert fs.listdir(location) == ["training_log.jsonl"]
    with fs.open(location + "/training_log.jsonl") as f:
        f.seek(90)
        assert f.read(5) == b"01234" and f.tell() == 95
        assert f.read() == b"56789" and f.read(10) == b""
        f.seek(-3, 2)
        assert f.read() == b"789"
    assert fs.bytes_fetched == 13
    with pytest.raises(FileNotFoundError):
        fs.stat(location + "/missing")
    with pytest.raises(OSError, match="directory"):
        fs.open(location)


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_a_missing_backend_names_the_extra() -> None:
    with pytest.raises(RemoteUnavailable, match=r"thalia-monitor\[gcs\]"):
        filesystem_for("gs://bucket/run")


def test_an_unknown_protocol_is_said() -> None:
    with pytest.raises(RemoteUnavailable, match="nosuchproto"):
        filesystem_for("nosuchproto://x/y")


def test_the_base_install_stays_light() -> None:
    """fsspec and its backends are imported only for a URL."""
    import subprocess
    import sys

    code = (
        "import sys, dashboard, thalia_logging\n"
        "from dashboard.commands import launcher, export, watch, report\n"
        "from dashboard import load_training_state\n"
        "load_training_state('.')\n"
        "print(sorted(m for m in ('fsspec', 's3fs', 'gcsfs', 'sshfs') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_url_naming_an_object_is_not_a_directory() -> None:
    from dashboard import load_training_state

    url = f"memory://thalia-{uuid.uuid4().hex}"
    fs, _ = filesystem_for(url)
    assert isinstance(fs, FsspecFileSystem)
    fs.fs.pipe_file(url + "/training_log.jsonl", b'{"step": 1}\n')
    state = load_training_state(url + "/training_log.jsonl")
    assert state.not_a_directory and not state.exists
    assert len(load_training_state(url).metrics_history) == 1
