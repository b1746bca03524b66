"""Every command takes an fsspec URL: thalia-export, -report, -watch, -top and -dashboard's
command line, against a real S3-protocol server (moto) on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.commands import export, launcher, report, watch
from dashboard.commands.launch_args import parse_args
from dashboard.reading.storage_options import (
    STORAGE_OPTIONS_ENV,
    parse_storage_options,
    storage_options_from_env,
)
from tests.s3_server import S3, jsonl, s3_server

URL = "s3://runs/exp1"
FAST = ["--storage-option", "config_kwargs.retries.max_attempts=1"]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    with s3_server(monkeypatch) as server:
        now = time.time()
        lines = [
            {"event_type": "metric", "step": s, "wall_time": now - 100 + s, "loss": 1.0 / (s + 1)}
            for s in range(0, 50)
        ]
        server.put("runs/exp1/training_log.jsonl", jsonl(lines))
        meta = {"step": 49, "current_stage": 0, "metrics": {}, "milestones": {}, "warnings": []}
        server.put("runs/exp1/metadata_49.json", json.dumps(meta).encode())
        yield server


def test_export_reads_a_url(s3: S3, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    assert export.main([URL, "-o", str(out), *FAST]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(50))


def test_export_says_when_nothing_is_there(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export.main(["s3://runs/nope", "-o", str(tmp_path / "x.csv"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "s3://runs/nope: nothing there" in err and "check the URL" in err


def test_report_reads_a_url(s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "s.json"
    html = tmp_path / "r.html"
    code = report.main([URL, "-o", str(html), "--json", str(summary), *FAST])
    assert code in (0, 1), capsys.readouterr().err
    assert json.loads(summary.read_text())["checkpoint_dir"] == URL
    assert URL in html.read_text()


def test_watch_once_reads_a_url(s3: S3, tmp_path: Path) -> None:
    assert watch.main([URL, "--once", "--state", str(tmp_path / "s.json"), *FAST]) == 0
    assert watch.find_runs([URL, str(tmp_path / "missing")]) == [URL, tmp_path / "missing"]


def test_a_stopped_server_is_a_clear_error_for_export(
    s3: S3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.stop()
    opts = [*FAST, "--storage-option", "config_kwargs.connect_timeout=1"]
    assert export.main([URL, "-o", str(tmp_path / "x.csv"), *opts]) == 2
    err = capsys.readouterr().err
    assert "cannot list s3://runs/exp1" in err and "AWS_ENDPOINT_URL" in err


def test_dashboard_command_line_keeps_a_url_and_its_options() -> None:
    args = parse_args(
        [URL, "local/dir", "--storage-option", "anon=false", "--storage-option", "a.b=1"]
    )
    assert args.dirs == (URL, Path("local/dir"))
    assert args.storage_options == {"anon": False, "a": {"b": 1}}
    cmd = launcher.build_command(URL, 8600, "127.0.0.1")
    assert cmd[cmd.index("--checkpoint-dir") + 1] == URL
    assert not any("anon" in part for part in cmd)  # options never on the command line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([URL, "--storage-option", "novalue"], "wants KEY=VALUE"),
        (["nosuchproto://x/y"], "nosuchproto"),
    ],
)
def test_bad_remote_arguments_are_clear(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_storage_options_parse_and_travel_as_json() -> None:
    options = parse_storage_options(["key=abc", "client_kwargs.region_name=eu", "anon=true"])
    assert options == {"key": "abc", "client_kwargs": {"region_name": "eu"}, "anon": True}
    assert storage_options_from_env({STORAGE_OPTIONS_ENV: json.dumps(options)}) == options
    assert storage_options_from_env({}) == {}
    with pytest.raises(ValueError, match="must be a JSON object"):
        storage_options_from_env({STORAGE_OPTIONS_ENV: "[1]"})
    with pytest.raises(ValueError, match="already set"):
        parse_storage_options(["a=1", "a.b=2"])


def test_the_run_page_keeps_a_url_as_given(tmp_path: Path) -> None:
    from dashboard.page import run_page

    assert run_page.resolve_directory("s3://runs/exp1/") == "s3://runs/exp1"
    assert run_page.resolve_directory(str(tmp_path / "a" / ".." / "b")) == str(tmp_path / "b")
    assert "s3://runs/exp1" in run_page.first_read_message("s3://runs/exp1")


def test_top_shows_a_url(s3: S3) -> None:
    import asyncio

    from textual.widgets import Static

    from dashboard.commands.top import TopApp

    async def drive() -> str:
        app = TopApp(URL, poll_interval_s=0, interval_s=3600,
                     storage_options={"config_kwargs": {"retries": {"max_attempts": 1}}})  # fmt: skip
        assert app.watcher.remote and app.watcher.observer is None
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            header = str(app.query_one("#header", Static).content)
            await pilot.press("q")
            await pilot.pause()
        return header

    header = asyncio.run(drive())
    assert URL in header and "step 49" in header


def test_top_refuses_a_url_without_its_backend(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    from dashboard.commands import top

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    with pytest.raises(SystemExit) as exc:
        top.main(["gs://bucket/run"])
    assert exc.value.code == 2 and "thalia-monitor[gcs]" in capsys.readouterr().err
