"""Spill files: unnamed, outside the run directory, given back to the system on release, and a
fallback to memory that says why (an unusable directory, a full disk)."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.reading.column_store import ColumnStore
from dashboard.reading.forget import forget, parts
from dashboard.reading.spill import (
    MIN_BYTES_ENV,
    RECENT_ROWS_ENV,
    SPILL_DIR_ENV,
    Buffers,
    SpillFile,
    SpillPolicy,
)
from dashboard.reading.watcher import RunWatcher, load_training_state

ROOT = Path(__file__).resolve().parents[3]


def _spill_fds(directory: Path) -> list[str]:
    """Open files of this process inside ``directory`` (by the name the kernel gives them)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def _rss_file_kib() -> int:
    """Resident KiB of shared mappings (file-backed; shmem when the spill dir is on tmpfs)."""
    with open("/proc/self/status") as fh:
        return sum(int(ln.split()[1]) for ln in fh if ln.startswith(("RssFile:", "RssShmem:")))


def _write_run(directory: Path, steps: range) -> None:
    directory.mkdir(exist_ok=True)
    with open(directory / "training_log.jsonl", "a") as fh:
        for s in steps:
            fh.write(json.dumps({"step": s, "loss": 1.0 / (s + 1), "lr": 0.1}) + "\n")


def test_a_spill_file_has_no_name(tmp_path: Path) -> None:
    file = SpillFile(tmp_path)
    mapped = np.frombuffer(file.map(1 << 16), dtype=np.float64)
    file.allocate(1 << 16)
    mapped[:] = 7.0
    assert os.listdir(tmp_path) == []
    assert all(target.endswith("(deleted)") for target in _spill_fds(tmp_path))


def test_policy_from_the_environment(tmp_path: Path) -> None:
    assert SpillPolicy.from_env({SPILL_DIR_ENV: "off"}).directory is None
    assert SpillPolicy.from_env({SPILL_DIR_ENV: str(tmp_path)}).directory == tmp_path
    default = SpillPolicy.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert default.directory == tmp_path / "thalia-dashboard" / "spill"
    tuned = SpillPolicy.from_env({MIN_BYTES_ENV: "0", RECENT_ROWS_ENV: "16"})
    assert (tuned.min_bytes, tuned.recent_rows) == (0, 16)


def test_off_keeps_every_buffer_in_memory(tmp_path: Path) -> None:
    buffers = Buffers(SpillPolicy(None, min_bytes=0, recent_rows=0))
    buffers.grow(1 << 20, 0)
    buffers.add("loss", np.dtype("float64"), 1 << 20)[:] = 1.0
    assert buffers.spilled == () and buffers.notes == []


def test_release_gives_the_pages_back_and_keeps_the_data(tmp_path: Path) -> None:
    rows = 6 << 20  # 48 MiB of float64
    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=1 << 16))
    buffers.grow(rows, 0)
    buf = buffers.add("loss", np.dtype("float64"), rows)
    assert buffers.spilled == ("loss",)
    before = _rss_file_kib()
    buf[:] = np.arange(rows, dtype=np.float64)
    written = _rss_file_kib()
    buffers.release(rows)
    released = _rss_file_kib()
    assert written - before > 40 << 10  # the pages written are resident...
    assert written - released > 40 << 10  # ...and given back, all but the recent window
    assert released - before < 4 << 10
    assert float(buf.sum()) == float(rows) * (rows - 1) / 2  # read back from the file
    buffers.release(rows)  # and again: what the read faulted in goes back
    assert _rss_file_kib() - before < 4 << 10


def test_growing_a_spilled_buffer_keeps_its_rows_and_old_views(tmp_path: Path) -> None:
    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=0))
    buffers.grow(1024, 0)
    first = buffers.add("step", np.dtype("int64"), 1024)
    first[:] = np.arange(1024)
    old = first[:1000]
    buffers.grow(1 << 20, 1024)
    grown = buffers.arrays["step"]
    assert buffers.spilled == ("step",) and len(grown) == 1 << 20
    buffers.ensure(1 << 20, 1024)
    grown[1024:] = -1
    np.testing.assert_array_equal(grown[:1024], np.arange(1024))
    np.testing.assert_array_equal(old, np.arange(1000))


def test_an_unusable_directory_falls_back_to_memory_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    buffers = Buffers(SpillPolicy(blocker / "spill", min_bytes=0, recent_rows=0))
    buffers.grow(4096, 0)
    with caplog.at_level(logging.WARNING, logger="dashboard.reading.spill"):
        buffers.add("loss", np.dtype("float64"), 4096)[:] = 2.0
    assert buffers.spilled == ()
    assert len(buffers.notes) == 1 and "cannot use the spill directory" in buffers.notes[0]
    assert SPILL_DIR_ENV in caplog.text


def test_a_served_run_spills_outside_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill, run = tmp_path / "spill", tmp_path / "run"
    monkeypatch.setenv(SPILL_DIR_ENV, str(spill))
    monkeypatch.setenv(MIN_BYTES_ENV, "0")
    monkeypatch.setenv(RECENT_ROWS_ENV, "0")
    _write_run(run, range(3000))
    with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
        first = watcher.refresh()
        assert any("(deleted)" in t for t in _spill_fds(spill))  # the table did spill
        _write_run(run, range(3000, 3500))
        state = watcher.refresh()
        assert state.error is None
        frame = state.metrics_history
        assert frame["step"].tolist() == list(range(3500))
        np.testing.assert_array_equal(frame["loss"], 1.0 / (np.arange(3500) + 1))
        assert len(first.metrics_history) == 3000
    assert sorted(os.listdir(run)) == ["training_log.jsonl"]
    assert os.listdir(spill) == []


def test_a_run_with_an_unusable_spill_directory_loads_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, blocker = tmp_path / "run", tmp_path / "a file"
    blocker.write_text("")
    _write_run(run, range(2000))
    monkeypatch.setenv(SPILL_DIR_ENV, "off")
    expected = load_training_state(run).metrics_history
    monkeypatch.setenv(SPILL_DIR_ENV, str(blocker / "spill"))
    monkeypatch.setenv(MIN_BYTES_ENV, "0")
    state = load_training_state(run)
    assert state.error is not None and "spill directory" in state.error
    pd.testing.assert_frame_equal(state.metrics_history, expected)


FULL_DISK = """
import resource, signal, sys
import numpy as np
from dashboard.reading.column_store import ColumnStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG, as a full disk's ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))
store = ColumnStore("metrics_history", dedup=True)
for start in range(0, 1_000_000, 50_000):
    steps = np.arange(start, start + 50_000, dtype=np.int64)
    store.add_columns(50_000, {"step": steps, "rank": np.zeros(50_000, dtype=np.int64),
        "_seq": steps, "_src": np.zeros(50_000, dtype=np.int64), "loss": steps * 0.5})
    store.commit()
frame = store.snapshot()()
assert frame["step"].tolist() == list(range(1_000_000))
assert (frame["loss"].to_numpy() == np.arange(1_000_000) * 0.5).all()
print(store.notes)
"""


def test_a_full_disk_moves_the_buffers_to_memory_without_losing_rows(tmp_path: Path) -> None:
    """A file size limit makes the disk "full" at 2 MiB (in a child: a SIGBUS would kill it)."""
    env = {**os.environ, SPILL_DIR_ENV: str(tmp_path), MIN_BYTES_ENV: "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FULL_DISK)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "spill file" in out.stdout and "kept in memory" in out.stdout
    assert os.listdir(tmp_path) == []


def test_store_notes_are_empty_when_spilling_works() -> None:
    assert ColumnStore("metrics_history").notes == []


def test_no_disk_space_to_reserve_moves_the_rows_to_memory_before_the_write(
    tmp_path: Path,
) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        if offset + length > 16 << 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.posix_fallocate(fd, offset, length)

    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=0, reserve=full))
    buffers.grow(4 << 20, 0)
    buffers.add("loss", np.dtype("float64"), 1000)[:1000] = np.arange(1000.0)
    assert buffers.spilled == ("loss",)
    buffers.ensure(4 << 20, 1000)  # 32 MiB: no room, so the rows move before they are written
    assert buffers.spilled == () and "No space left" in buffers.notes[0]
    buffers.arrays["loss"][1000:] = 1.0
    np.testing.assert_array_equal(buffers.arrays["loss"][:1000], np.arange(1000.0))
    buffers.grow(8 << 20, 4 << 20)  # spilling stays off for this table
    assert buffers.spilled == () and len(buffers.notes) == 1


def _present_pages(values: np.ndarray) -> int:
    """How many pages of ``values`` are mapped in this process (``/proc/self/pagemap``)."""
    import mmap
    import struct

    addr = values.__array_interface__["data"][0]
    first, last = addr // mmap.PAGESIZE, (addr + values.nbytes - 1) // mmap.PAGESIZE
    with open("/proc/self/pagemap", "rb") as fh:
        fh.seek(first * 8)
        data = fh.read((last - first + 1) * 8)
    return sum(v >> 63 for v in struct.unpack(f"{len(data) // 8}Q", data))


@pytest.mark.skipif(not os.access("/proc/self/pagemap", os.R_OK), reason="no pagemap here")
def test_release_memory_gives_back_what_a_reader_of_the_history_faulted_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a page does after drawing: the old rows it read go back to the spill file, and
    reading them again gives the same values."""
    monkeypatch.setenv(SPILL_DIR_ENV, str(tmp_path / "spill"))
    monkeypatch.setenv(MIN_BYTES_ENV, "0")
    monkeypatch.setenv(RECENT_ROWS_ENV, "0")
    run = tmp_path / "run"
    _write_run(run, range(20_000))
    with RunWatcher(run, use_watchdog=False, poll_interval_s=0.0) as watcher:
        loss = watcher.refresh().metrics_history["loss"].to_numpy()
        total = float(loss.sum())  # a reader of the whole history
        assert _present_pages(loss) > 10
        watcher.release_memory()
        assert _present_pages(loss) <= 1  # the page the next rows are written to may stay
        assert float(loss.sum()) == total  # faulted back in from the spill file


@pytest.mark.skipif(not os.access("/proc/self/pagemap", os.R_OK), reason="no pagemap here")
def test_forget_gives_back_a_read_view_of_a_spill_file_only(tmp_path: Path) -> None:
    """A one-off reader gives back what it read of a spilled column (the values stay); an
    anonymous array, or a copy, is never touched."""
    rows = 1 << 20
    buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0, recent_rows=rows))
    buffers.grow(rows, 0)
    buf = buffers.add("loss", np.dtype("float64"), rows)
    buf[:] = np.arange(rows, dtype=np.float64)
    view = buf[1000:600_000]
    assert _present_pages(view) > 1000
    forget(view)
    assert _present_pages(view) <= 2  # the partial pages at both ends stay
    assert _present_pages(buf[:1000]) >= 1 and _present_pages(buf[600_000:]) > 800
    assert float(view.sum()) == float(np.arange(1000, 600_000, dtype=np.float64).sum())
    plain = np.arange(rows, dtype=np.float64)
    forget(plain)
    forget(buf[::2])  # not contiguous: left alone
    assert _present_pages(plain) > 1000 and float(plain[-1]) == rows - 1


def test_parts_give_back_each_part_of_a_long_read_only() -> None:
    assert list(parts(5, 10, size=8)) == [10]  # a short read: one part, nothing given back
    assert list(parts(0, 20, size=8)) == [8, 16, 20]
    assert list(parts(7, 7, size=8)) == [7]


def test_dropped_buffers_close_their_spill_files(tmp_path: Path) -> None:
    """A table's spill files go (their descriptors closed) when the table goes: nothing the
    mapping registry keeps holds them (a cycle through it leaked every file)."""
    import gc

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    gc.collect()
    before = open_fds()
    for _ in range(30):
        buffers = Buffers(SpillPolicy(tmp_path, min_bytes=0))
        buffers.grow(4096, 0)
        buffers.add("x", np.dtype("float64"), 4096)[:] = 1.0
        buffers.grow(8192, 4096)  # a second mapping of the same file
        known = forget(buffers.arrays["x"][:10])  # registered with the forget registry
        assert known is None
        del buffers
    gc.collect()
    assert open_fds() - before < 5
