"""``thalia-dashboard --root ROOT``: one server over every run under ROOT; how the mode is chosen
(the flag, or one directory that holds no log but run folders below it, said on stderr)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from runs_helpers import write_run

from dashboard.commands import launcher
from dashboard.commands.launch_args import parse_args
from dashboard.commands.launcher import as_root, build_command


def test_root_flag_parses_and_excludes_directories(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--root", "runs", "--port", "9000"])
    assert (args.root, args.dirs, args.port) == (Path("runs"), (), 9000)
    assert parse_args(["a", "b"]).root is None
    for argv, says in ((["a", "--root", "r"], "not both"), ([], "or --root ROOT")):
        with pytest.raises(SystemExit) as exc:
            parse_args(argv)
        assert exc.value.code == 2 and says in capsys.readouterr().err


def test_build_command_passes_the_root_to_the_page() -> None:
    cmd = build_command(Path("/runs"), 8600, "127.0.0.1", root=True, poll=True)
    assert cmd[cmd.index("--") :] == ["--", "--root", "/runs", "--poll"]
    single = build_command(Path("/run"), 8600, "127.0.0.1")
    assert single[single.index("--") :] == ["--", "--checkpoint-dir", "/run"]


def test_one_directory_of_runs_is_served_as_a_root_and_said(tmp_path: Path) -> None:
    write_run(tmp_path / "sweep" / "a")
    write_run(tmp_path / "sweep" / "b")
    err = io.StringIO()
    args = as_root(parse_args([str(tmp_path / "sweep")]), err)
    assert args.root == tmp_path / "sweep" and args.dirs == ()
    assert "holds no training log but 2 run folder(s)" in err.getvalue()


@pytest.mark.parametrize("layout", ["a run", "two dirs", "missing", "empty"])
def test_other_arguments_keep_one_server_per_directory(tmp_path: Path, layout: str) -> None:
    write_run(tmp_path / "run")
    write_run(tmp_path / "run" / "inner")  # a run with a run folder inside is still one run
    (tmp_path / "empty").mkdir()
    argv = {
        "a run": [str(tmp_path / "run")],
        "two dirs": [str(tmp_path / "run"), str(tmp_path / "empty")],
        "missing": [str(tmp_path / "not-yet")],
        "empty": [str(tmp_path / "empty")],
    }[layout]
    err = io.StringIO()
    args = as_root(parse_args(argv), err)
    assert args.root is None and len(args.dirs) == len(argv) and err.getvalue() == ""


def test_a_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "training_log.jsonl"
    log.write_text("{}\n")
    err = io.StringIO()
    code = launcher.main(["--root", str(log)], stdout=io.StringIO(), stderr=err)
    assert code == 2 and "is a file, not a directory" in err.getvalue()


def test_a_remote_root_is_refused_and_a_remote_dir_stays_one_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["--root", "s3://bucket/sweep"])
    assert exc.value.code == 2
    assert "--root takes a local directory" in capsys.readouterr().err
    args = parse_args(["s3://bucket/run"])
    assert args.dirs == ("s3://bucket/run",) and args.root is None
    assert as_root(args, io.StringIO()) is args  # never listed as a local directory
