"""Discovery of the runs under a root: which folders are runs, limits, symlinks, names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runs_helpers import write_run

from dashboard.reading.fs import LocalFileSystem
from dashboard.reading.runs import discover_runs, holds_run_files, run_path


def test_runs_at_any_depth_up_to_the_limit(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    write_run(tmp_path / "sweep" / "lr1")
    write_run(tmp_path / "sweep" / "deep" / "x" / "y" / "too_deep")
    (tmp_path / "sweep" / "notes").mkdir()
    found = discover_runs(str(tmp_path), max_depth=4)
    assert found.names() == ["a", "sweep/lr1"]
    assert discover_runs(str(tmp_path), max_depth=5).names() == [
        "a",
        "sweep/deep/x/y/too_deep",
        "sweep/lr1",
    ]


@pytest.mark.parametrize(
    ("names", "is_run"),
    [
        (["training_log.jsonl"], True),
        (["training_log.json"], True),  # legacy name
        (["training_log.rank3.jsonl"], True),
        (["metadata_500.json"], True),
        (["console.log", "model.pt"], False),
        ([], False),
    ],
)
def test_what_makes_a_folder_a_run(names: list[str], is_run: bool) -> None:
    assert holds_run_files(names) is is_run


def test_a_run_is_not_searched_and_hidden_folders_are_skipped(tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    write_run(tmp_path / "run" / "checkpoints" / "inner")  # inside a run: not a run of its own
    write_run(tmp_path / ".cache" / "hidden")
    assert discover_runs(str(tmp_path)).names() == ["run"]


def test_the_root_itself_can_be_a_run(tmp_path: Path) -> None:
    write_run(tmp_path)
    found = discover_runs(str(tmp_path))
    assert found.names() == ["."]
    assert run_path(found, ".") == os.path.realpath(tmp_path)


def test_symlinks_inside_the_root_are_followed_once_outside_never(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_run(root / "real" / "r1")
    write_run(outside / "secret")
    (root / "alias").symlink_to(root / "real")  # same folder twice: visited once
    (root / "escape").symlink_to(outside)
    (root / "real" / "loop").symlink_to(root)
    found = discover_runs(str(root))
    assert found.names() == ["real/r1"]


def test_run_path_only_names_runs_found(tmp_path: Path) -> None:
    write_run(tmp_path / "root" / "a")
    write_run(tmp_path / "other")
    found = discover_runs(str(tmp_path / "root"))
    assert run_path(found, "a") == str(tmp_path / "root" / "a")
    for bad in ("../other", str(tmp_path / "other"), "a/..", "", "b"):
        assert run_path(found, bad) is None


def test_limits_stop_the_walk_and_say_so(tmp_path: Path) -> None:
    for i in range(5):
        write_run(tmp_path / f"r{i}")
    capped = discover_runs(str(tmp_path), max_runs=3)
    assert len(capped.runs) == 3 and capped.capped
    assert not discover_runs(str(tmp_path)).capped


def test_new_runs_appear_deleted_ones_go_and_a_folder_that_fails_is_said(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    assert discover_runs(str(tmp_path)).names() == ["a"]
    write_run(tmp_path / "b")
    (tmp_path / "a" / "training_log.jsonl").unlink()
    (tmp_path / "locked").mkdir()

    class Failing(LocalFileSystem):
        def listdir(self, path: str) -> list[str]:
            if path.endswith("locked"):
                raise PermissionError(13, "Permission denied")
            return super().listdir(path)

    found = discover_runs(str(tmp_path), fs=Failing())
    assert found.names() == ["b"]
    assert found.errors == ("cannot list locked: Permission denied",)


def test_a_missing_root_has_no_runs(tmp_path: Path) -> None:
    assert discover_runs(str(tmp_path / "not-yet")).runs == ()
