"""The one file-system seam: every read of a run directory goes through the FileSystem given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import pytest
from reader_helpers import metric

from dashboard.errors import UnsafeFile
from dashboard.reading.console_tail import read_log_tail
from dashboard.reading.fs import LOCAL_FS, FileStat, FileSystem, LocalFileSystem
from dashboard.reading.watcher import load_training_state


class RecordingFS(LocalFileSystem):
    """The local disk, with every call written down."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def open(self, path: str) -> IO[bytes]:
        self.calls.append(("open", path))
        return super().open(path)

    def stat(self, path: str) -> FileStat:
        self.calls.append(("stat", path))
        return super().stat(path)

    def lstat(self, path: str) -> FileStat:
        self.calls.append(("lstat", path))
        return super().lstat(path)

    def listdir(self, path: str) -> list[str]:
        self.calls.append(("listdir", path))
        return super().listdir(path)

    def realpath(self, path: str, *, strict: bool = False) -> str:
        self.calls.append(("realpath", path))
        return super().realpath(path, strict=strict)


def test_local_file_system_is_a_file_system() -> None:
    fs: FileSystem = LocalFileSystem()
    assert isinstance(LOCAL_FS, LocalFileSystem) and fs.listdir is not None


def test_one_fs_reaches_the_tailer_the_metadata_and_the_checks(tmp_path: Path) -> None:
    (tmp_path / "training_log.jsonl").write_bytes(metric(1) + metric(2))
    (tmp_path / "metadata_2.json").write_text('{"step": 2, "current_stage": 0}')
    fs = RecordingFS()
    state = load_training_state(tmp_path, fs=fs)
    assert state.metrics_history["step"].tolist() == [1, 2]
    assert state.metadata is not None and state.metadata["step"] == 2
    opened = {Path(p).name for kind, p in fs.calls if kind == "open"}
    assert opened == {"training_log.jsonl", "metadata_2.json"}
    kinds = {kind for kind, _ in fs.calls}
    assert {"listdir", "lstat", "stat", "open"} <= kinds


def test_a_file_system_can_serve_what_the_disk_does_not_hold(tmp_path: Path) -> None:
    """A fake that maps one name to other bytes is read as the run: nothing goes around it."""
    real = tmp_path / "elsewhere.jsonl"
    real.write_bytes(metric(7))

    class Redirect(LocalFileSystem):
        def listdir(self, path: str) -> list[str]:
            return ["training_log.jsonl"]

        def _map(self, path: str) -> str:
            return str(real) if path.endswith("training_log.jsonl") else path

        def open(self, path: str) -> IO[bytes]:
            return super().open(self._map(path))

        def stat(self, path: str) -> FileStat:
            return super().stat(self._map(path))

        def lstat(self, path: str) -> FileStat:
            return super().lstat(self._map(path))

    run = tmp_path / "run"
    run.mkdir()
    state = load_training_state(run, fs=Redirect())
    assert state.metrics_history["step"].tolist() == [7]
    assert state.log_files == ("training_log.jsonl",)


def test_console_tail_reads_through_the_fs(tmp_path: Path) -> None:
    (tmp_path / "console.log").write_text("one\ntwo\n")
    fs = RecordingFS()
    assert read_log_tail(tmp_path / "console.log", fs=fs) == "one\ntwo"
    assert ("open", str(tmp_path / "console.log")) in fs.calls

    class Denied(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            raise PermissionError(13, "Permission denied")

    assert (
        read_log_tail(tmp_path / "console.log", fs=Denied()) == "(log not shown: Permission denied)"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_local_open_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UnsafeFile, match="FIFO"):
        LOCAL_FS.open(str(tmp_path / "pipe"))
