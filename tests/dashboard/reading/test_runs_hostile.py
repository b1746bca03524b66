"""A root of runs as a hostile user makes it: odd folder names, FIFOs and symlinks, unreadable
folders, a root that goes away, runs too deep, a config line longer than the head window.
Every run here is written with plain ``json`` (not our logger)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from runs_helpers import ODD_NAMES, write_run

from dashboard.analysis.config_diff import config_diff, config_values, flat_config
from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.overview import OverviewReader
from dashboard.reading.runs import discover_runs, run_path


def test_odd_folder_names_are_runs_named_exactly_so(tmp_path: Path) -> None:
    for name in ODD_NAMES:
        write_run(tmp_path / name, steps=3)
    found = discover_runs(str(tmp_path))
    assert found.names() == sorted(ODD_NAMES)
    for name in ODD_NAMES:
        assert run_path(found, name) == str(tmp_path / name)
    for bad in ["../" + ODD_NAMES[0], str(tmp_path / ODD_NAMES[1]), "%2e%2e/x", ""]:
        assert run_path(found, bad) is None


def test_files_that_are_not_regular_files_are_said_and_not_read(tmp_path: Path) -> None:
    outside = write_run(tmp_path / "outside", steps=3)
    root = tmp_path / "root"
    (root / "fifo").mkdir(parents=True)
    os.mkfifo(root / "fifo" / "training_log.jsonl")
    (root / "link").mkdir()
    os.symlink(outside / "training_log.jsonl", root / "link" / "training_log.jsonl")
    (root / "dir" / "training_log.jsonl").mkdir(parents=True)
    rows = {s.name: s for s in OverviewReader(str(root)).refresh()}  # a FIFO would block here
    assert "FIFO" in rows["fifo"].errors[0]
    assert "outside the checkpoint directory" in rows["link"].errors[0]
    assert "directory" in rows["dir"].errors[0]
    assert all(s.state.metrics_history.empty for s in rows.values())


def test_skipped_folders_are_said_not_silently_missing(tmp_path: Path) -> None:
    """A run too deep, a symlinked folder leading outside the root, a symlink loop: each is
    named in the discovery's errors (the Runs page shows them), the other runs still found."""
    outside = write_run(tmp_path / "outside" / "run", steps=3)
    root = tmp_path / "root"
    write_run(root / "ok", steps=3)
    write_run(root / "a" / "b" / "c" / "d" / "too_deep", steps=3)
    os.symlink(outside, root / "out")
    os.symlink(root / "loopb", root / "loopa")
    os.symlink(root / "loopa", root / "loopb")
    (root / "self").mkdir()
    os.symlink(root / "self", root / "self" / "again")  # a loop inside the root: quietly once
    for i in range(200):
        (root / "empty" / f"e{i:03d}").mkdir(parents=True)
    found = discover_runs(str(root))
    assert found.names() == ["ok"] and not found.capped
    said = "\n".join(found.errors)
    assert "a/b/c/d: 4 levels down, not searched deeper" in said
    assert "out: a symlink to a folder outside the root" in said
    assert "loopa: a symlink that leads nowhere" in said and "loopb" in said
    assert "self/again" not in said and "empty" not in said


class _Refusing(LocalFileSystem):
    """The local disk where listing ``refused`` fails (root can read anything: chmod cannot)."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused

    def listdir(self, path: str) -> list[str]:
        if path in self.refused:
            raise PermissionError(13, "Permission denied", path)
        return super().listdir(path)


def test_an_unreadable_folder_is_said_and_the_rest_found(tmp_path: Path) -> None:
    write_run(tmp_path / "ok", steps=3)
    write_run(tmp_path / "locked" / "inner", steps=3)
    found = discover_runs(str(tmp_path), fs=_Refusing({str(tmp_path / "locked")}))
    assert found.names() == ["ok"]
    assert found.errors == ("cannot list locked: Permission denied",)
    assert found.root_error is None


def test_a_root_that_goes_away_keeps_what_was_read_and_says_why(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_run(root / "a", steps=5)
    write_run(root / "b", steps=5)
    reader = OverviewReader(str(root))
    before = reader.refresh()
    assert [s.name for s in before] == ["a", "b"]
    shutil.rmtree(root)
    kept = reader.refresh()
    assert kept == before  # the same summaries, not an empty table
    assert reader.discovery.names() == ["a", "b"]
    assert "cannot list the root" in (reader.discovery.root_error or "")
    write_run(root / "c", steps=5)  # back: read again, the error gone
    assert [s.name for s in reader.refresh()] == ["c"]
    assert reader.discovery.root_error is None


def test_a_root_that_never_existed_is_said(tmp_path: Path) -> None:
    reader = OverviewReader(str(tmp_path / "nope"))
    assert reader.refresh() == []
    assert "No such file" in (reader.discovery.root_error or "")


def _long_config_run(directory: Path, keys: int, metric_lines: int) -> dict[str, int]:
    """A run whose ``run_start`` line (its first) is longer than the overview's head window."""
    config = {f"key{i:05d}": i for i in range(keys)}
    t0 = time.time() - metric_lines
    lines = [{"event_type": "run_start", "step": 0, "wall_time": t0, "schema_version": 1,
              "run_id": "r", "resumed_from_step": None, "config": config}]  # fmt: skip
    lines += [
        {"event_type": "metric", "step": i, "wall_time": t0 + i, "loss": 1.0, "performance": 0.1}
        for i in range(metric_lines)
    ]
    directory.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (directory / "training_log.jsonl").write_text(text, encoding="utf-8")
    return config


@pytest.mark.parametrize("metric_lines", [100, 2_000])  # tail starts inside / after the line
def test_a_config_line_longer_than_the_head_window_is_still_read(
    tmp_path: Path, metric_lines: int
) -> None:
    """A real trainer's config (HF TrainingArguments and a model config) is easily 20 KiB: the
    overview (and so Compare's config filter) must still see it."""
    config = _long_config_run(tmp_path / "big", keys=5_000, metric_lines=metric_lines)
    (summary,) = OverviewReader(str(tmp_path), tail_bytes=32 << 10).refresh()
    assert summary.state.config == config
    assert summary.state.bad_line_count == 0
    assert len(summary.state.run_starts) == 1  # the long line is not read twice


def test_config_diff_sees_every_key_not_only_the_first_thousand() -> None:
    base = {f"k{i:05d}": i for i in range(5_000)}
    diff = config_diff({"a": base, "b": {**base, "k04999": -1}})
    assert list(diff.columns) == ["k04999"]  # not "the same config"


def test_hostile_config_values_read_as_text() -> None:
    configs = {
        "a": {"lr": "NaN", "wd": "Infinity", "big": "x" * 100_000, "l": [1, [2, {"z": None}]]},
        "b": {"lr": 0.1, "<script>": "**b** :rocket:", "": "empty key", "a.b": 1},
    }
    diff = config_diff(configs)
    assert diff.loc["a", "lr"] == "NaN" and diff.loc["b", "lr"] == "0.1"
    assert diff.loc["a", "l"] == '[1, [2, {"z": null}]]'
    assert diff.loc["b", "<script>"] == "**b** :rocket:" and diff.loc["b", ""] == "empty key"
    values = config_values(configs, limit=50)
    assert values["big"] == ["x" * 49 + "…"]  # a filter option, not 100 KB of text
    assert flat_config(configs["a"], 50)["big"] in values["big"]  # matched the same way


def test_a_folder_name_that_is_not_utf8_is_shown_as_text_and_still_read(tmp_path: Path) -> None:
    """``os.listdir`` gives such a name with lone surrogates, which no table, URL or page text can
    encode: the run's name is valid text (U+FFFD), its path the real one."""
    write_run(tmp_path / "ok", steps=3)
    raw = os.path.join(os.fsencode(tmp_path), b"bad\xff\xfename")
    os.makedirs(raw)
    shutil.copy(tmp_path / "ok" / "training_log.jsonl", os.path.join(raw, b"training_log.jsonl"))
    found = discover_runs(str(tmp_path))
    assert found.names() == ["bad\ufffd\ufffdname", "ok"]
    path = run_path(found, "bad\ufffd\ufffdname")
    assert path is not None and os.fsencode(path) == raw
    summaries = {s.name: s for s in OverviewReader(str(tmp_path)).refresh()}
    assert len(summaries["bad\ufffd\ufffdname"].state.metrics_history) == 3
