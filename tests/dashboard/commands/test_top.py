"""thalia-top: textual pilot at 80×24 and larger — live step after appended lines, an alert
appears, ``q`` quits, nothing is written into the run directory, no Streamlit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from report_helpers import make_run, metric, write_lines

from dashboard.commands import top
from dashboard.commands.top import TopApp


def _text(app: TopApp, selector: str) -> str:
    from textual.widgets import Static

    return str(app.query_one(selector, Static).content)


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.mark.parametrize("size", [(80, 24), (140, 45)])
def test_live_step_alert_and_quit(tmp_path: Path, size: tuple[int, int]) -> None:
    run = make_run(tmp_path / "run", steps=300, total_steps=10_000)
    shot_dir = Path(os.environ.get("THALIA_TOP_SCREENSHOT_DIR", tmp_path))

    async def drive() -> TopApp:
        app = TopApp(run, use_watchdog=False, poll_interval_s=0, interval_s=3600)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert "step 299" in _text(app, "#header")
            assert "no alerts" in _text(app, "#alerts")
            before = _snapshot(run)
            write_lines(
                run / "training_log.jsonl",
                [metric(s, firing_rate=0.001) for s in range(300, 321)],
                mode="a",
            )
            app.refresh_view()  # what the interval timer calls
            await pilot.pause()
            assert "step 320" in _text(app, "#header")
            alerts = _text(app, "#alerts")
            assert "Firing rate" in alerts and "⚠" in alerts
            assert "loss" in _text(app, "#metrics")
            assert app.query_one("#loss-spark").data  # type: ignore[attr-defined]
            path = app.save_screenshot(f"top_{size[0]}x{size[1]}.svg", path=str(shot_dir))
            after = _snapshot(run)
            assert set(after) == set(before) | set()  # the app itself wrote nothing there
            await pilot.press("q")
            await pilot.pause()
        assert Path(path).read_text().count("step") >= 1
        return app

    app = asyncio.run(drive())
    assert app.return_code == 0
    assert not (run / "top_80x24.svg").exists()


def test_run_text_is_not_markup(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", text="[bold red]x[/] [link=https://e.example]y[/link]")

    async def drive() -> str:
        app = TopApp(run, use_watchdog=False, poll_interval_s=0)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            text = _text(app, "#milestones") + _text(app, "#alerts")
            await pilot.press("q")
        return text

    text = asyncio.run(drive())
    assert "[bold red]x[/]" in text and "[link=https://e.example]" in text


def test_waiting_directory(tmp_path: Path) -> None:
    async def drive() -> str:
        app = TopApp(tmp_path / "not-yet", use_watchdog=False, poll_interval_s=0)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            text = _text(app, "#header") + _text(app, "#metrics")
            await pilot.press("q")
        return text

    text = asyncio.run(drive())
    assert "waiting for the directory" in text and "waiting for the first metric" in text
    assert not (tmp_path / "not-yet").exists()


def test_cli_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert top.main([str(f)]) == 3
    assert "is a file" in capsys.readouterr().err
    assert top.main([str(tmp_path), "--interval", "0"]) == 3
