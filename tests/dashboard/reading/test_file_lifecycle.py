"""Files that are not what their names say, and files that change under the reader (issue 8,
issue 9's symlink bullet). Nothing here may block: FIFOs and devices are opened non-blocking,
and each test has a timeout."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from reader_helpers import line, metric

from dashboard.reading.console_tail import read_log_tail
from dashboard.reading.directory import DirectoryReader
from dashboard.reading.fs import LocalFileSystem, open_regular
from dashboard.reading.safefile import UnsafeFile, check_file, read_capped
from dashboard.reading.tailer import Reset, RotatingTailer, Tailer

pytestmark = pytest.mark.timeout(60)
LOG = "training_log.jsonl"
GOOD_META = {"step": 10, "current_stage": 0, "total_steps": 100}


def _steps(reader: DirectoryReader) -> list[int]:
    reader.update()
    return [int(s) for s in reader.state(1).metrics_history["step"]]


# -- files that are not regular files inside the directory ----------------------------------------
def _directory(p: Path) -> None:
    p.mkdir()


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _loop(p: Path) -> None:
    os.symlink(p.name, p)


def _dev_zero(p: Path) -> None:
    os.symlink("/dev/zero", p)


def _outside(p: Path) -> None:
    os.symlink("/etc/passwd", p)


def _outside_relative(p: Path) -> None:
    os.symlink(os.path.relpath("/etc/passwd", p.parent), p)


def _unreadable(p: Path) -> None:
    p.write_text(json.dumps({"step": 99, "current_stage": 0}))
    p.chmod(0)


MAKERS: dict[str, Callable[[Path], None]] = {
    "directory": _directory,
    "fifo": _fifo,
    "symlink-loop": _loop,
    "dev-zero": _dev_zero,
    "symlink-outside": _outside,
    "relative-symlink-outside": _outside_relative,
    "unreadable": _unreadable,
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_bad_metadata_file_is_a_bad_line_and_keeps_the_previous(tmp_path: Path, kind: str) -> None:
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files without permission")
    (tmp_path / "metadata_10.json").write_text(json.dumps(GOOD_META))
    reader = DirectoryReader(tmp_path)
    reader.update()
    MAKERS[kind](tmp_path / "metadata_99.json")
    reader.update()
    reader.update()  # reported once, not at every refresh
    state = reader.state(1)
    assert state.metadata == GOOD_META and state.metadata_file == "metadata_10.json"
    assert state.bad_line_count == 1 and state.bad_lines[0].file == "metadata_99.json"
    assert "metadata file skipped" in state.bad_lines[0].reason


def test_oversized_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "metadata_1.json"
    path.write_bytes(b" " * 100 + json.dumps(GOOD_META).encode())
    with pytest.raises(UnsafeFile, match="larger than 50 bytes"):
        read_capped(str(path), 50)
    assert json.loads(read_capped(str(path), 1000)) == GOOD_META


@pytest.mark.parametrize(
    "kind", ["directory", "fifo", "symlink-loop", "dev-zero", "symlink-outside"]
)
def test_bad_console_log_never_blocks_the_page(tmp_path: Path, kind: str) -> None:
    MAKERS[kind](tmp_path / "console.log")
    tail = read_log_tail(tmp_path / "console.log")
    assert tail is not None and tail.startswith("(log not shown:")
    assert "root:" not in tail


def test_console_log_symlink_inside_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.log").write_text("one\ntwo\n")
    os.symlink("real.log", tmp_path / "console.log")
    assert read_log_tail(tmp_path / "console.log") == "one\ntwo"


@pytest.mark.parametrize("kind", ["fifo", "symlink-outside", "directory", "dev-zero"])
def test_log_file_that_is_not_a_regular_file_inside_is_skipped_with_a_warning(
    tmp_path: Path, kind: str
) -> None:
    MAKERS[kind](tmp_path / LOG)
    (tmp_path / "training_log.rank1.jsonl").write_bytes(metric(1, rank=1))
    reader = DirectoryReader(tmp_path)
    assert _steps(reader) == [1]
    assert reader.errors and LOG in reader.errors[0] and "not" in reader.errors[0]
    _steps(reader)
    state = reader.state(2)
    assert state.bad_line_count == 1 and state.bad_lines[0].file == LOG
    assert "root:" not in state.bad_lines[0].excerpt + state.bad_lines[0].reason


def test_log_symlink_inside_the_directory_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.jsonl").write_bytes(metric(1) + metric(2))
    os.symlink("real.jsonl", tmp_path / LOG)
    assert _steps(DirectoryReader(tmp_path)) == [1, 2]


def test_check_file_and_open_regular(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert check_file(str(tmp_path), "f") == str(tmp_path / "f")
    os.mkfifo(tmp_path / "p")
    with pytest.raises(UnsafeFile, match="FIFO"):
        open_regular(str(tmp_path / "p"))  # returns at once: O_NONBLOCK
    with pytest.raises(FileNotFoundError):
        check_file(str(tmp_path), "missing")
    with pytest.raises(ValueError, match="read-only"):
        open_regular(str(tmp_path / "f"), "wb")


# -- files that change under the reader -----------------------------------------------------------
def _write(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    with open(path, "r+b" if path.exists() else "wb") as fh:  # in place: same inode
        fh.truncate(0)
        fh.write(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.mark.parametrize(
    ("first", "second", "kind", "expected"),
    [
        # truncated and regrown past the old size between two reads
        (metric(1) + metric(2), metric(7) + metric(8) + metric(9), "truncated", [7, 8, 9]),
        # rewritten in place at the same size (one value changed near the end)
        (metric(1) + metric(2, lr=0.1), metric(1) + metric(2, lr=0.2), "replaced", [1, 2]),
        # rewritten at the same size, different start
        (line({"step": 3, "loss": 0.5}), line({"step": 5, "loss": 0.5}), "replaced", [5]),
    ],
    ids=["truncate-regrow", "same-size-rewrite-tail", "same-size-rewrite-head"],
)
def test_file_changed_under_the_reader_is_read_again(
    tmp_path: Path, first: bytes, second: bytes, kind: str, expected: list[int]
) -> None:
    path = tmp_path / LOG
    _write(path, first, mtime_ns=1_000_000_000)
    tailer = Tailer(path)
    list(tailer.read_blocks())
    ino = path.stat().st_ino
    _write(path, second, mtime_ns=2_000_000_000)
    assert path.stat().st_ino == ino
    items = list(tailer.read_blocks())
    assert items[0] == Reset(kind)  # type: ignore[comparison-overlap]
    assert b"".join(i.data for i in items[1:]) == second  # type: ignore[union-attr]
    assert not list(tailer.read_blocks())

    _write(path, first, mtime_ns=1_000_000_000)
    reader = DirectoryReader(tmp_path)
    _steps(reader)
    _write(path, second, mtime_ns=2_000_000_000)
    assert _steps(reader) == expected
    state = reader.state(2)
    assert [r.kind for r in state.restarts] == [kind]
    if "lr" in second.decode():
        assert state.metrics_history["lr"].tolist()[-1] == 0.2


def test_touch_without_change_is_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / LOG
    _write(path, metric(1), mtime_ns=1_000_000_000)
    opened: list[str] = []

    class CountingFS(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            opened.append(path)
            return super().open(path)

    tailer = Tailer(path, fs=CountingFS())
    list(tailer.read_blocks())
    os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    assert list(tailer.read_blocks()) == [] and len(opened) == 2  # the touch is looked at
    with open(path, "ab") as fh:
        fh.write(metric(2))
    items = list(tailer.read_blocks())
    assert len(items) == 1 and items[0].data == metric(2)  # type: ignore[union-attr]


def _rotate(directory: Path, keep: int = 5) -> None:
    """What logging.handlers.RotatingFileHandler does: .k -> .k+1, live -> .1, new live."""
    for k in range(keep, 0, -1):
        src = directory / f"{LOG}.{k}"
        if src.exists():
            os.replace(src, directory / f"{LOG}.{k + 1}")
    os.replace(directory / LOG, directory / f"{LOG}.1")
    (directory / LOG).write_bytes(b"")


def _append(directory: Path, *steps: int) -> None:
    with open(directory / LOG, "ab") as fh:
        fh.write(b"".join(metric(s) for s in steps))


def test_rotation_keeps_history(tmp_path: Path) -> None:
    _append(tmp_path, 0, 1)
    reader = DirectoryReader(tmp_path)
    assert _steps(reader) == [0, 1]
    _append(tmp_path, 2)  # written just before the rotation, not yet read
    _rotate(tmp_path)
    _append(tmp_path, 3, 4)
    assert _steps(reader) == [0, 1, 2, 3, 4]
    _rotate(tmp_path)
    _rotate(tmp_path)  # two rotations between reads: an empty segment in between
    _append(tmp_path, 5)
    assert _steps(reader) == [0, 1, 2, 3, 4, 5]
    state = reader.state(3)
    assert state.restarts == () and state.bad_line_count == 0


def test_rotated_segments_present_at_start_are_read_oldest_first(tmp_path: Path) -> None:
    (tmp_path / f"{LOG}.2").write_bytes(metric(0) + metric(1))
    (tmp_path / f"{LOG}.1").write_bytes(metric(2))
    (tmp_path / LOG).write_bytes(metric(3) + b'{"step": "x"}\n')
    reader = DirectoryReader(tmp_path)
    assert _steps(reader) == [0, 1, 2, 3]
    (bad,) = reader.state(1).bad_lines
    assert bad.file == LOG and bad.offset == len(metric(3))


def test_rotation_between_listing_and_read_is_followed(tmp_path: Path) -> None:
    """The live file is renamed to .1 after the directory was listed."""
    _append(tmp_path, 0)
    tailer = RotatingTailer(str(tmp_path), LOG)
    assert [f for f, _ in tailer.read_segments([LOG])] == [LOG]
    _append(tmp_path, 1)
    _rotate(tmp_path)
    _append(tmp_path, 2)
    items = list(tailer.read_segments([LOG]))  # stale listing: no .1 in it
    assert [(f, i.data) for f, i in items] == [(f"{LOG}.1", metric(1)), (LOG, metric(2))]  # type: ignore[union-attr]


def test_replaced_live_file_still_resets(tmp_path: Path) -> None:
    """Not a rotation: the reader's restart signal keeps working."""
    _append(tmp_path, 5, 6)
    reader = DirectoryReader(tmp_path)
    _steps(reader)
    tmp = tmp_path / "new"
    tmp.write_bytes(metric(0))
    os.replace(tmp, tmp_path / LOG)
    assert _steps(reader) == [0]
    assert [r.kind for r in reader.state(2).restarts] == ["replaced"]


def test_unreadable_metadata_through_the_read_seam(tmp_path: Path) -> None:
    """The same as the chmod 0 case, for runs as root (which reads any file)."""
    from dashboard.reading.metadata import MetadataScanner

    class DeniedFS(LocalFileSystem):
        def open(self, path: str) -> IO[bytes]:
            if path.endswith("metadata_99.json"):
                raise PermissionError(13, "Permission denied")
            return super().open(path)

    (tmp_path / "metadata_10.json").write_text(json.dumps(GOOD_META))
    (tmp_path / "metadata_99.json").write_text(json.dumps({**GOOD_META, "step": 99}))
    scanner = MetadataScanner(str(tmp_path), fs=DeniedFS())
    changed, bad = scanner.update(["metadata_10.json", "metadata_99.json"])
    assert changed
    assert scanner.latest == ("metadata_10.json", GOOD_META)
    assert [b.file for b in bad] == ["metadata_99.json"] and "Permission denied" in bad[0].reason
